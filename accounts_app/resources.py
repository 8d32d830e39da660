"""CSV export of accounts (django-import-export), used by the Account admin's "Export".

The same columns as the import reads (accounts_app.imports.accounts.COLUMNS), plus the fit score
and the source; cells a spreadsheet would run as formulas get a leading apostrophe. The import
no longer goes through django-import-export: it runs in a Celery task over the stored file
(accounts_app.imports), which a web request cannot do at 100,000 rows.
"""

from django.contrib.auth import get_user_model
from import_export import fields, resources, widgets

from accounts_app.imports.accounts import COLUMNS
from accounts_app.models import Account
from core.text import neutralise_formula

User = get_user_model()


class AccountResource(resources.ModelResource):
    name = fields.Field(attribute="name", column_name="name")
    domain = fields.Field(attribute="domain", column_name="domain")
    industry = fields.Field(attribute="industry", column_name="industry")
    employee_count = fields.Field(attribute="employee_count", column_name="employee_count")
    annual_revenue = fields.Field(
        attribute="annual_revenue", column_name="annual_revenue", widget=widgets.DecimalWidget()
    )
    country = fields.Field(attribute="country", column_name="country")
    region = fields.Field(attribute="region", column_name="region")
    sales_owner = fields.Field(
        attribute="sales_owner",
        column_name="sales_owner",
        widget=widgets.ForeignKeyWidget(User, field="username"),
    )
    marketing_owner = fields.Field(
        attribute="marketing_owner",
        column_name="marketing_owner",
        widget=widgets.ForeignKeyWidget(User, field="username"),
    )
    parent_domain = fields.Field(
        attribute="parent",
        column_name="parent_domain",
        widget=widgets.ForeignKeyWidget(Account, field="domain"),
    )
    fit_score = fields.Field(attribute="fit_score", column_name="fit_score", readonly=True)
    source = fields.Field(attribute="source", column_name="source", readonly=True)

    class Meta:
        model = Account
        fields = (*COLUMNS, "fit_score", "source")

    # --- Export -------------------------------------------------------------------------

    def export_resource(self, instance, selected_fields=None, **kwargs):
        row = super().export_resource(instance, selected_fields, **kwargs)
        return [neutralise_formula(value) for value in row]
