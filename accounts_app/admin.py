"""The admin of accounts and what is known about them, for revenue operations.

Accounts are saved through accounts_app.services (normalised domain, fit score against the
effective profile), one by one or from a CSV file (django-import-export, see
accounts_app.resources): the file is checked first and previewed; a file with errors imports
nothing unless ops choose to import its valid rows only. See workflow/admin.py for who may do
what here.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import CSV
from import_export.forms import ConfirmImportForm
from import_export.results import RowResult

from accounts_app.countries import country_code
from accounts_app.domains import normalise_domain
from accounts_app.imports import COLUMNS, EXPORT_ONLY_COLUMNS
from accounts_app.models import (
    Account,
    Activity,
    Contact,
    ContactRole,
    IcpEvent,
    IcpSignOff,
    IcpState,
    IcpVersion,
    Opportunity,
)
from accounts_app.resources import AccountResource, LineNumberedCSV, line_of
from accounts_app.scoring import validate_criteria
from accounts_app.services import (
    ACCOUNT_FIELDS,
    account_create,
    account_update,
    icp_version_create,
    icp_version_submit,
)
from workflow.admin import ServiceErrorsMixin, ViewOnlyInline, ViewOnlyMixin, run_for_each
from workflow.errors import Invalid
from workflow.roles import Side
from workflow.text import single_line

User = get_user_model()

# Messages listing a file's problems stop after this many lines.
MAX_ERROR_MESSAGES = 30


def import_error_lines(result) -> list[str]:
    """Every problem of an import, as "line 7, column employee_count: …" (header = line 1)."""
    lines = [str(error.error) for error in result.base_errors]
    for row in result.invalid_rows:
        line = line_of(result, row.number)
        for column, problems in row.error_dict.items():
            where = f"line {line}"
            if column != NON_FIELD_ERRORS:
                where += f", column {column}"
            lines.extend(f"{where}: {problem}" for problem in problems)
    for row in result.error_rows:
        for error in row.errors:
            lines.append(f"line {line_of(result, row.number)}: could not be saved ({error.error}).")
    return lines


class AccountConfirmImportForm(ConfirmImportForm):
    # Set by the "import the valid rows only" button of a file with errors.
    valid_rows_only = forms.BooleanField(required=False)


class FitScoreFilter(admin.SimpleListFilter):
    title = "fit score"
    parameter_name = "fit"

    def lookups(self, request, model_admin):
        return (("high", "70–100"), ("medium", "40–69"), ("low", "0–39"), ("none", "Not scored"))

    def queryset(self, request, queryset):
        ranges = {"high": (70, 100), "medium": (40, 69), "low": (0, 39)}
        if self.value() in ranges:
            low, high = ranges[self.value()]
            return queryset.filter(fit_score__gte=low, fit_score__lte=high)
        if self.value() == "none":
            return queryset.filter(fit_score__isnull=True)
        return queryset


class AccountAdminForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = (
            "name",
            "domain",
            "industry",
            "employee_count",
            "annual_revenue",
            "country",
            "region",
            "parent",
            "sales_owner",
            "marketing_owner",
            "hubspot_company_id",
            "salesforce_account_id",
        )

    def clean_domain(self):
        try:
            return normalise_domain(self.cleaned_data["domain"])
        except Invalid as error:
            raise ValidationError(error.message) from None

    def clean_country(self):
        try:
            return country_code(self.cleaned_data.get("country"))
        except Invalid as error:
            raise ValidationError(error.message) from None


class ContactInline(admin.TabularInline):
    model = Contact
    fields = ("first_name", "last_name", "email", "title", "buying_role", "last_engaged_at")
    extra = 0


class OpportunityInline(ViewOnlyInline):
    model = Opportunity
    fields = ("name", "stage", "amount", "currency", "status", "close_date")


@admin.register(Account)
class AccountAdmin(ServiceErrorsMixin, ImportExportMixin, admin.ModelAdmin):
    form = AccountAdminForm
    list_display = (
        "name",
        "domain",
        "industry",
        "employee_count",
        "country",
        "region",
        "fit_score",
        "sales_owner",
        "marketing_owner",
        "source",
    )
    list_filter = (FitScoreFilter, "source", "region", "industry", "country")
    search_fields = ("name", "domain", "hubspot_company_id", "salesforce_account_id")
    list_select_related = ("sales_owner", "marketing_owner", "parent")
    readonly_fields = ("key", "fit_score", "source", "created_at", "updated_at")
    autocomplete_fields = ("parent",)
    inlines = (ContactInline, OpportunityInline)

    # Import and export (django-import-export).
    resource_classes = [AccountResource]
    import_formats = [LineNumberedCSV]
    export_formats = [CSV]
    confirm_form_class = AccountConfirmImportForm
    import_template_name = "admin/accounts_app/account/import.html"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("sales_owner", "marketing_owner")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        sides = {"sales_owner": Side.SALES, "marketing_owner": Side.MARKETING}
        if db_field.name in sides:
            side = sides[db_field.name]
            kwargs["queryset"] = (
                User.objects.filter(is_active=True, groups__name=side.value)
                .exclude(groups__name=side.other.value)
                .order_by("username")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        """Through the services: the domain is normalised and the fit score recomputed."""
        values = {k: v for k, v in form.cleaned_data.items() if k in ACCOUNT_FIELDS}
        if change:
            account_update(account=obj, by=request.user, domain=obj.domain, **values)
            return
        saved = account_create(domain=obj.domain, by=request.user, **values)
        for name in ("pk", "key", "fit_score", "source", "created_at", "updated_at"):
            setattr(obj, name, getattr(saved, name))

    # --- Import -------------------------------------------------------------------------

    def has_import_permission(self, request):
        return request.user.has_perms(["accounts_app.add_account", "accounts_app.change_account"])

    def has_export_permission(self, request):
        return request.user.has_perm("accounts_app.view_account")

    def get_import_context_data(self, **kwargs):
        return {
            **super().get_import_context_data(**kwargs),
            "import_columns": COLUMNS,
            "ignored_columns": EXPORT_ONLY_COLUMNS,
        }

    def import_action(self, request, **kwargs):
        """The checked preview. A file with errors lists them by line and column and offers
        to import its valid rows only; otherwise it imports nothing."""
        response = super().import_action(request, **kwargs)
        context = getattr(response, "context_data", None)
        result = context.get("result") if context else None
        if result is not None:
            valid = [r for r in result.valid_rows() if r.import_type != RowResult.IMPORT_TYPE_SKIP]
            context["error_lines"] = import_error_lines(result)
            context["valid_count"] = len(valid)
            if result.has_validation_errors() and not result.has_errors() and valid:
                context["confirm_form"] = self.create_confirm_form(
                    request, import_form=context["form"]
                )
        return response

    def process_dataset(self, dataset, form, request, **kwargs):
        """The real import. Unless ops chose the valid rows only, any row with an error rolls
        the whole file back."""
        valid_only = bool(form.cleaned_data.get("valid_rows_only"))
        result = super().process_dataset(
            dataset, form, request, rollback_on_validation_errors=not valid_only, **kwargs
        )
        result.accord_valid_rows_only = valid_only
        return result

    def process_result(self, result, request):
        problems = import_error_lines(result)
        rolled_back = result.has_errors() or (
            result.has_validation_errors() and not result.accord_valid_rows_only
        )
        if rolled_back:
            messages.error(request, "Nothing was imported: the file has errors.")
            self._list_problems(request, problems, messages.error)
            return HttpResponseRedirect(reverse("admin:accounts_app_account_import"))
        response = super().process_result(result, request)
        if problems:
            messages.warning(
                request,
                f"{len(result.invalid_rows)} row(s) with errors were left out, as you chose:",
            )
            self._list_problems(request, problems, messages.warning)
        return response

    def _list_problems(self, request, problems, level):
        for line in problems[:MAX_ERROR_MESSAGES]:
            level(request, line)
        if len(problems) > MAX_ERROR_MESSAGES:
            level(request, f"… and {len(problems) - MAX_ERROR_MESSAGES} more.")

    def add_success_message(self, result, request):
        totals = result.totals
        messages.success(
            request,
            f"Import finished: {totals[RowResult.IMPORT_TYPE_NEW]} new account(s), "
            f"{totals[RowResult.IMPORT_TYPE_UPDATE]} updated, "
            f"{totals[RowResult.IMPORT_TYPE_SKIP]} unchanged.",
        )


class ContactRoleInline(admin.TabularInline):
    model = ContactRole
    extra = 0


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    inlines = [ContactRoleInline]
    list_display = ("__str__", "account", "email", "title", "buying_role", "last_engaged_at")
    list_filter = ("buying_role",)
    search_fields = ("first_name", "last_name", "email", "title", "account__name")
    date_hierarchy = "last_engaged_at"
    list_select_related = ("account",)
    autocomplete_fields = ("account",)


@admin.register(ContactRole)
class ContactRoleAdmin(admin.ModelAdmin):
    list_display = ("contact", "role")
    list_filter = ("role",)
    search_fields = ("contact__first_name", "contact__last_name", "contact__email")
    list_select_related = ("contact",)
    autocomplete_fields = ("contact",)


@admin.register(Opportunity)
class OpportunityAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "stage", "amount", "currency", "status", "close_date")
    list_filter = ("status", "stage", "currency")
    search_fields = ("name", "account__name", "hubspot_deal_id", "salesforce_opportunity_id")
    date_hierarchy = "close_date"
    list_select_related = ("account",)
    autocomplete_fields = ("account",)


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "account", "contact", "kind", "side", "subject")
    list_filter = ("kind", "side")
    search_fields = ("subject", "account__name", "contact__email")
    date_hierarchy = "occurred_at"
    list_select_related = ("account", "contact")
    autocomplete_fields = ("account", "contact")


class IcpSignOffInline(ViewOnlyInline):
    model = IcpSignOff
    fields = ("person", "side", "approve", "note", "created_at")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("person")


class IcpEventInline(ViewOnlyInline):
    model = IcpEvent
    fields = ("created_at", "actor", "actor_side", "action", "from_state", "to_state", "note")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class IcpVersionForm(forms.ModelForm):
    class Meta:
        model = IcpVersion
        fields = ("name", "criteria")

    def clean_name(self):
        try:
            return single_line(self.cleaned_data["name"], what="The profile's name")
        except Invalid as error:
            raise ValidationError(error.message) from None

    def clean_criteria(self):
        criteria = self.cleaned_data["criteria"]
        problems = validate_criteria(criteria)
        if problems:
            raise ValidationError(problems)
        return criteria


@admin.register(IcpVersion)
class IcpVersionAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    """Drafts are written here; a profile takes effect only once both sides signed it off."""

    form = IcpVersionForm
    list_display = (
        "number",
        "name",
        "state",
        "proposed_by",
        "created_at",
        "effective_at",
        "rescored_at",
    )
    list_filter = ("state",)
    search_fields = ("name",)
    list_select_related = ("proposed_by",)
    inlines = (IcpSignOffInline, IcpEventInline)
    actions = ("submit",)

    def get_readonly_fields(self, request, obj=None):
        fixed = (
            "number",
            "state",
            "proposed_by",
            "created_at",
            "effective_at",
            "rescore_done",
            "rescore_total",
            "rescored_at",
        )
        if obj is not None and obj.state != IcpState.DRAFT:
            return (*fixed, "name", "criteria")  # only drafts change
        return fixed

    def has_delete_permission(self, request, obj=None):
        return False

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        saved = icp_version_create(name=obj.name, criteria=obj.criteria, by=request.user)
        # The state is the draft's already (and only transitions may change it).
        obj.pk, obj.number = saved.pk, saved.number
        obj.proposed_by, obj.created_at = saved.proposed_by, saved.created_at

    @admin.action(description="Submit the selected drafts for both sides' sign-off")
    def submit(self, request, queryset):
        run_for_each(
            request,
            queryset,
            lambda icp: icp_version_submit(icp_version=icp, by=request.user),
            lambda icp, _: f"{icp} now waits for both sides' sign-off.",
        )


@admin.register(IcpSignOff)
class IcpSignOffAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("icp_version", "person", "side", "approve", "created_at")
    list_filter = ("side", "approve")
    search_fields = ("person__username", "icp_version__name", "note")
    list_select_related = ("icp_version", "person")


@admin.register(IcpEvent)
class IcpEventAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("icp_version", "created_at", "actor", "action", "from_state", "to_state")
    list_filter = ("action",)
    search_fields = ("icp_version__name", "actor__username", "note")
    list_select_related = ("icp_version", "actor")
