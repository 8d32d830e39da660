"""The admin of accounts and what is known about them, for revenue operations.

Accounts are saved through accounts_app.services (normalised domain, fit score against the
effective profile), one by one or from a CSV file (accounts_app.imports): the file is stored
and checked in a Celery task while the page shows the progress, then previewed with its counts
and every problem by line and column; a file with errors imports nothing unless ops choose to
import its valid rows only; the import runs in a task too. Activities are imported from CSV
files the same way, on the same pages (CsvImportViews, one kind of file per model admin). The
export is django-import-export's (accounts_app.resources). See workflow/admin.py for who may do
what here.
"""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_GET, require_POST
from import_export.admin import ExportMixin
from import_export.formats.base_formats import CSV

from accounts_app.countries import country_code
from accounts_app.domains import normalise_domain
from accounts_app.imports import KINDS, csv_import_confirm, csv_import_create
from accounts_app.models import (
    Account,
    Activity,
    Contact,
    ContactRole,
    CsvImport,
    CsvImportProblem,
    IcpEvent,
    IcpSignOff,
    IcpState,
    IcpVersion,
    ImportChoice,
    ImportKind,
    ImportState,
    Opportunity,
)
from accounts_app.resources import AccountResource
from accounts_app.scoring import validate_criteria
from accounts_app.services import (
    ACCOUNT_FIELDS,
    account_create,
    account_crm_ids_check,
    account_update,
    icp_version_create,
    icp_version_submit,
)
from core.admin import ServiceErrorsMixin, ViewOnlyInline, ViewOnlyMixin, run_for_each
from core.errors import DomainError, Invalid
from core.roles import Side, people_on_side
from core.text import single_line

get_only = method_decorator(require_GET)
post_only = method_decorator(require_POST)
PROBLEMS_PER_PAGE = 100
MAX_ID = 2**63 - 1  # the largest id PostgreSQL's bigint holds; beyond it, no import
RECENT_IMPORTS = 10


class CsvImportForm(forms.Form):
    import_file = forms.FileField(label="CSV file")


def import_progress(csv_import: CsvImport) -> dict:
    """What the import page's script updates."""
    return {
        "id": csv_import.pk,
        "state": csv_import.state,
        "state_label": csv_import.get_state_display(),
        "active": csv_import.is_active,
        "done": csv_import.done,
        "total": csv_import.total,
        "percent": csv_import.percent,
        "new": csv_import.new,
        "updated": csv_import.updated,
        "unchanged": csv_import.unchanged,
        "error_rows": csv_import.error_rows,
    }


class CsvImportViews:
    """The CSV import pages of one kind of file, on the admin of its model: the upload (with the
    person's recent imports of that kind), the import's page (progress, counts, the problems by
    line and column, 100 a page, and the confirmation) and its progress as JSON. The kind's
    rules (accounts_app.imports.KINDS) give the columns, the help text and who may import; the
    templates are the same for every kind."""

    import_kind: str = ""  # accounts_app.models.ImportKind

    @property
    def import_rules(self):
        return KINDS[self.import_kind]

    def has_import_permission(self, request):
        return self.import_rules.can_import(request.user)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "has_import_permission": self.has_import_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        def view(function):
            return self.admin_site.admin_view(function)

        name = f"{self.opts.app_label}_{self.opts.model_name}_import"
        return [
            path("import/", view(self.import_view), name=name),
            path("import/confirm/", view(self.import_confirm_view), name=f"{name}_confirm"),
            path("import/<int:pk>/", view(self.import_status_view), name=f"{name}_status"),
            path(
                "import/<int:pk>/progress/",
                view(self.import_progress_view),
                name=f"{name}_progress",
            ),
            *super().get_urls(),
        ]

    def _importer(self, request) -> None:
        if not self.has_import_permission(request):
            raise PermissionDenied

    def _own_import(self, request, pk) -> CsvImport:
        """The person's own import of this kind; anyone else's, like one that does not exist,
        is not found."""
        csv_import = None
        if 0 < pk <= MAX_ID:
            csv_import = (
                CsvImport.objects.defer("data")
                .filter(pk=pk, kind=self.import_kind, uploaded_by=request.user)
                .first()
            )
        if csv_import is None:
            raise Http404("There is no such import.")
        return csv_import

    def _context(self, request, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Import {self.import_rules.plural}",
            "kind": self.import_rules,
            "max_megabytes": settings.CSV_IMPORT_MAX_BYTES // 2**20,
            "time_zone": settings.TIME_ZONE,
            **extra,
        }

    def import_view(self, request):
        """The upload: the file is stored and its check queued; the import's page follows."""
        self._importer(request)
        status = 200
        form = CsvImportForm()
        if request.method == "POST":
            form = CsvImportForm(request.POST, request.FILES)
            if form.is_valid():
                try:
                    csv_import = csv_import_create(
                        file=form.cleaned_data["import_file"],
                        by=request.user,
                        kind=self.import_kind,
                    )
                except DomainError as error:
                    form.add_error("import_file", error.message)
                else:
                    return redirect(self._url("import_status"), csv_import.pk)
            status = 400
        elif request.method not in ("GET", "POST"):
            return HttpResponseBadRequest("Upload a file with POST.")
        recent = CsvImport.objects.defer("data").filter(
            kind=self.import_kind, uploaded_by=request.user
        )
        return TemplateResponse(
            request,
            "admin/accounts_app/csv_import/upload.html",
            self._context(request, form=form, recent=recent[:RECENT_IMPORTS]),
            status=status,
        )

    def _url(self, name: str) -> str:
        return f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}"

    def _status_page(self, request, csv_import, *, status=200, error=""):
        problems = Paginator(csv_import.problems.all(), PROBLEMS_PER_PAGE).get_page(
            request.GET.get("page")
        )
        rules = self.import_rules
        valid_count = csv_import.new + csv_import.updated + csv_import.unchanged
        return TemplateResponse(
            request,
            "admin/accounts_app/csv_import/status.html",
            self._context(
                request,
                title=f"Import of {csv_import.file_name}",
                csv_import=csv_import,
                progress=import_progress(csv_import),
                problems=problems,
                error_lines=[str(problem) for problem in problems.object_list],
                valid_count=valid_count,
                new_counted=rules.counted(csv_import.new),
                choices=ImportChoice,
                states=ImportState,
                error=error,
            ),
            status=status,
        )

    @get_only
    def import_status_view(self, request, pk):
        self._importer(request)
        return self._status_page(request, self._own_import(request, pk))

    @get_only
    def import_progress_view(self, request, pk):
        self._importer(request)
        return JsonResponse(import_progress(self._own_import(request, pk)))

    @post_only
    def import_confirm_view(self, request):
        """The confirmation: its hidden fields are checked like any other input, so a forged or
        replayed form answers 400 (404 for someone else's import) and imports nothing."""
        self._importer(request)
        raw_id = request.POST.get("import_id", "")
        if not (raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= len(str(MAX_ID))):
            return HttpResponseBadRequest("That is not an import.")
        csv_import = self._own_import(request, int(raw_id))
        try:
            csv_import_confirm(
                csv_import=csv_import,
                by=request.user,
                choice=request.POST.get("choice", ""),
            )
        except DomainError as error:
            csv_import.refresh_from_db()
            return self._status_page(request, csv_import, status=400, error=error.message)
        return redirect(self._url("import_status"), csv_import.pk)


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

    def clean(self):
        # The service's own check and message, before Django's generic "Constraint … is violated".
        cleaned = super().clean()
        try:
            account_crm_ids_check(cleaned, account=self.instance if self.instance.pk else None)
        except DomainError as error:
            self.add_error(error.field, error.message)
        return cleaned


def _roles(contact) -> str:
    # Reads the prefetched roles: a list page costs the same queries for any number of rows.
    return ", ".join(role.get_role_display() for role in contact.roles.all()) or "—"


class ContactInline(admin.TabularInline):
    model = Contact
    fields = ("first_name", "last_name", "email", "title", "buying_roles", "last_engaged_at")
    readonly_fields = ("buying_roles",)
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("roles")

    @admin.display(description="Buying roles")
    def buying_roles(self, contact) -> str:
        return _roles(contact)


class OpportunityInline(ViewOnlyInline):
    model = Opportunity
    fields = ("name", "stage", "amount", "currency", "status", "close_date")


@admin.register(Account)
class AccountAdmin(ServiceErrorsMixin, CsvImportViews, ExportMixin, admin.ModelAdmin):
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

    # The export is django-import-export's; the import is Accord's own (accounts_app.imports).
    import_kind = ImportKind.ACCOUNTS
    resource_classes = [AccountResource]
    export_formats = [CSV]
    # The list's "Import" and "Export" buttons; the import's URL is this admin's own.
    import_export_change_list_template = "admin/import_export/change_list_import_export.html"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("sales_owner", "marketing_owner")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        sides = {"sales_owner": Side.SALES, "marketing_owner": Side.MARKETING}
        if db_field.name in sides:
            side = sides[db_field.name]
            kwargs["queryset"] = people_on_side(side).order_by("username")
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

    def has_export_permission(self, request):
        return request.user.has_perm("accounts_app.view_account")


class CsvImportProblemInline(ViewOnlyInline):
    model = CsvImportProblem
    fields = ("line", "column", "message")


@admin.register(CsvImport)
class CsvImportAdmin(ViewOnlyMixin, admin.ModelAdmin):
    """The history of CSV imports of both kinds, read-only; each person sees their own
    (superusers all). The import itself happens on the import page of its kind's model
    (CsvImportViews: Accounts › Import, Activities › Import)."""

    list_display = (
        "pk",
        "kind",
        "file_name",
        "state",
        "rows",
        "new",
        "updated",
        "unchanged",
        "error_rows",
        "uploaded_by",
        "created_at",
    )
    list_filter = ("kind", "state")
    search_fields = ("file_name",)
    list_select_related = ("uploaded_by",)
    exclude = ("data",)
    inlines = (CsvImportProblemInline,)

    def get_queryset(self, request):
        queryset = super().get_queryset(request).defer("data")
        return queryset if request.user.is_superuser else queryset.filter(uploaded_by=request.user)


@admin.register(CsvImportProblem)
class CsvImportProblemAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("csv_import", "line", "column", "message")

    def get_queryset(self, request):
        # Never the files' bytes, which may be megabytes each.
        queryset = (
            super().get_queryset(request).select_related("csv_import").defer("csv_import__data")
        )
        if request.user.is_superuser:
            return queryset
        return queryset.filter(csv_import__uploaded_by=request.user)


class ContactRoleInline(admin.TabularInline):
    model = ContactRole
    extra = 0


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    inlines = [ContactRoleInline]
    list_display = ("__str__", "account", "email", "title", "buying_roles", "last_engaged_at")
    list_filter = ("roles__role",)
    search_fields = ("first_name", "last_name", "email", "title", "account__name")
    date_hierarchy = "last_engaged_at"
    list_select_related = ("account",)
    autocomplete_fields = ("account",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("roles")

    @admin.display(description="Buying roles")
    def buying_roles(self, contact) -> str:
        return _roles(contact)


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
class ActivityAdmin(CsvImportViews, admin.ModelAdmin):
    """Activities come from the CRM's pull, POST /api/v1/activities/ and CSV files: the list's
    "Import" button leads to the import of a file (CsvImportViews), for whoever may write
    activities (ops, or anyone granted accounts_app.add_activity) and is staff."""

    import_kind = ImportKind.ACTIVITIES
    change_list_template = "admin/import_export/change_list_import.html"  # its "Import" button
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
