"""CSV import and export of accounts (django-import-export), used by the Account admin.

Import: each row is checked by accounts_app.imports.AccountRowReader (problems by column, in
plain words), matched to an existing account by its normalised domain, and saved through
accounts_app.services (account_create / account_update), which compute the fit score against
the effective ideal customer profile. A second row with the same normalised domain is an error
on that row. Export: the same columns, plus the fit score and the source; cells a spreadsheet
would run as formulas get a leading apostrophe.
"""

import tablib
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from import_export import fields, resources, widgets
from import_export.formats.base_formats import CSV

from accounts_app.domains import normalise_domain
from accounts_app.imports import COLUMNS, AccountRowReader, header_problems, read_csv
from accounts_app.models import Account, Source
from accounts_app.services import ACCOUNT_FIELDS, account_create, account_update, effective_icp
from core.text import neutralise_formula
from workflow.errors import DomainError, Invalid

User = get_user_model()


class HeaderError(Exception):
    """The header line is unusable: nothing in the file can be read."""


class LineNumberedCSV(CSV):
    """CSV read with each row's line number in the file (blank lines and cells spanning
    lines counted), so that errors name the line a spreadsheet shows."""

    def create_dataset(self, in_stream, **kwargs):
        if isinstance(in_stream, bytes):
            in_stream = in_stream.decode(self.encoding or "utf-8-sig")
        parsed = read_csv(in_stream)
        dataset = tablib.Dataset(*parsed.rows, headers=parsed.headers)
        dataset.accord_csv = parsed
        return dataset


def line_of(result_or_lines, row_number: int) -> int:
    """The file's line for import-export's row number (1 = the first row after the header)."""
    lines = getattr(result_or_lines, "accord_lines", result_or_lines)
    if lines and 0 < row_number <= len(lines):
        return lines[row_number - 1]
    return row_number + 1


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
        import_id_fields = ("domain",)
        use_transactions = True
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = False

    # --- Import -------------------------------------------------------------------------

    def before_import(self, dataset, **kwargs):
        parsed = getattr(dataset, "accord_csv", None)
        self.lines = parsed.lines if parsed else None
        self.row_problems = parsed.row_problems if parsed else {}
        problems = header_problems(
            list(dataset.headers or []), line=parsed.header_line if parsed else 1
        )
        if problems:
            # Reported once for the file; no row can be read against a wrong header.
            while len(dataset):
                dataset.lpop()
            raise HeaderError(" ".join(problems))
        self.reader = AccountRowReader()
        self.user = kwargs.get("user")
        self.icp = effective_icp()

    def get_instance(self, instance_loader, row):
        try:
            domain = normalise_domain(str(row.get("domain") or ""))
        except Invalid:
            return None
        return Account.objects.filter(domain=domain).first()

    def after_import(self, dataset, result, **kwargs):
        # Not super(): it resets the id sequence, which is for imports that bring their own
        # ids (these never do) and could move it back under a concurrent insert.
        result.accord_lines = self.lines

    def import_instance(self, instance, row, **kwargs):
        row_number = kwargs["row_number"]
        checked = self.reader.read(row, line=line_of(self.lines, row_number))
        errors = dict(checked.errors)
        if row_number - 1 in self.row_problems:
            errors[NON_FIELD_ERRORS] = self.row_problems[row_number - 1]
        if errors:
            raise ValidationError(errors)
        for name, value in checked.values.items():
            setattr(instance, name, value)
        instance._accord_values = checked.values

    def do_instance_save(self, instance, is_create):
        values = {k: v for k, v in instance._accord_values.items() if k in ACCOUNT_FIELDS}
        try:
            if is_create:
                saved = account_create(
                    domain=instance.domain,
                    by=self.user,
                    source=Source.CSV,
                    icp=self.icp,
                    **values,
                )
                instance.pk, instance.key = saved.pk, saved.key
                instance.fit_score, instance.source = saved.fit_score, saved.source
            else:
                account_update(account=instance, by=self.user, **values)
        except DomainError as error:
            raise ValidationError({error.field or "name": error.message}) from None

    # --- Export -------------------------------------------------------------------------

    def export_resource(self, instance, selected_fields=None, **kwargs):
        row = super().export_resource(instance, selected_fields, **kwargs)
        return [neutralise_formula(value) for value in row]
