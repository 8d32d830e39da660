"""The CRM sync in the admin, for revenue operations.

- Sync runs: progress, counts, per-record errors; "Retry the records that failed" revives a
  run's dead letters; "Push now" queues a push of whatever is due.
- Outbox: every change waiting for (or done with) delivery; "Retry" revives dead letters.
- CRM owner ids: each person's HubSpot owner id / Salesforce user id, written with their
  target accounts.
Runs, errors and outbox entries are written by crm.services only: read-only here.
"""

from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from core.admin import ServiceErrorsMixin, ViewOnlyInline, ViewOnlyMixin, run_for_each
from core.errors import DomainError
from core.roles import is_ops
from crm import selectors, services
from crm.models import CrmOwner, OutboxEntry, OutboxState, SyncRun, SyncRunError, SyncRunRecord


class SyncRunErrorInline(ViewOnlyInline):
    model = SyncRunError
    fields = ("object_type", "object_key", "account", "message", "crm_response", "created_at")
    verbose_name_plural = "Records that failed"


@admin.register(SyncRun)
class SyncRunAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "backend",
        "state",
        "progress",
        "sent",
        "created",
        "updated",
        "unchanged",
        "failed",
        "trigger",
        "triggered_by",
        "started_at",
        "finished_at",
    )
    list_filter = ("kind", "state", "backend", "trigger")
    list_select_related = ("triggered_by", "cycle")
    search_fields = ("message", "errors__object_key")
    date_hierarchy = "created_at"
    readonly_fields = (
        "kind",
        "backend",
        "state",
        "progress",
        "trigger",
        "triggered_by",
        "cycle",
        "created_at",
        "started_at",
        "finished_at",
        "total",
        "done",
        "sent",
        "created",
        "updated",
        "unchanged",
        "failed",
        "requests",
        "message",
        "detail",
    )
    fields = readonly_fields
    inlines = (SyncRunErrorInline,)
    actions = ("retry_failed",)
    change_list_template = "admin/crm/syncrun/change_list.html"

    @admin.display(description="Progress")
    def progress(self, run: SyncRun):
        return format_html(
            '<progress max="100" value="{}" title="{} of {}"></progress> {}%',
            run.percent,
            run.done,
            run.total,
            run.percent,
        )

    def has_retry_permission(self, request):
        return is_ops(request.user)

    @admin.action(description="Retry the records that failed", permissions=["retry"])
    def retry_failed(self, request, queryset):
        run_for_each(
            request,
            queryset,
            lambda run: services.sync_run_retry(run=run, by=request.user),
            lambda run, n: f"Run #{run.pk}: {n} record(s) queued again.",
        )

    def get_urls(self):
        return [
            path(
                "push-now/",
                self.admin_site.admin_view(self.push_now),
                name="crm_syncrun_push_now",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "outbox_counts": selectors.outbox_counts(),
            "can_push": is_ops(request.user),
        }
        return super().changelist_view(request, extra_context)

    def push_now(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            run = services.sync_run_request_push(by=request.user)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, selectors.where_the_run_stands(run))
        return HttpResponseRedirect(reverse("admin:crm_syncrun_changelist"))


@admin.register(SyncRunError)
class SyncRunErrorAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("run", "object_type", "object_key", "account", "short_message", "created_at")
    list_filter = ("object_type", "run__kind")
    search_fields = ("object_key", "message", "account__name", "account__domain")
    list_select_related = ("run", "account")

    @admin.display(description="Message")
    def short_message(self, error: SyncRunError) -> str:
        return error.message[:120]


@admin.register(SyncRunRecord)
class SyncRunRecordAdmin(ViewOnlyMixin, admin.ModelAdmin):
    """What pushes sent (the first CRM_RUN_RECORDS_KEPT records of each run)."""

    list_display = ("run", "account", "object_key", "crm_id", "change", "created", "sent_at")
    list_filter = ("change", "created")
    search_fields = ("object_key", "crm_id", "account__name", "account__domain")
    list_select_related = ("run", "account")


@admin.register(OutboxEntry)
class OutboxEntryAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "account",
        "change",
        "state",
        "attempts",
        "enqueued_at",
        "next_attempt_at",
        "delivered_at",
        "short_error",
    )
    list_filter = ("state", "change", "backend")
    search_fields = ("account__name", "account__domain", "last_error")
    list_select_related = ("account",)
    readonly_fields = (
        "account",
        "cycle",
        "change",
        "state",
        "version",
        "attempts",
        "last_error",
        "enqueued_at",
        "next_attempt_at",
        "claimed_until",
        "created_at",
        "delivered_at",
        "backend",
        "last_run",
    )
    fields = readonly_fields
    actions = ("retry", "push_now")

    @admin.display(description="Last error")
    def short_error(self, entry: OutboxEntry) -> str:
        return entry.last_error[:120]

    def has_retry_permission(self, request):
        return is_ops(request.user)

    @admin.action(description="Retry the selected dead letters", permissions=["retry"])
    def retry(self, request, queryset):
        dead = list(queryset.filter(state=OutboxState.FAILED))
        if not dead:
            messages.warning(request, "None of the selected entries is a dead letter.")
            return
        try:
            revived = services.outbox_retry(entries=dead, by=request.user)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, f"{revived} entr{'y' if revived == 1 else 'ies'} queued again."
            )

    @admin.action(
        description="Push the selected waiting entries now (not after their back-off)",
        permissions=["retry"],
    )
    def push_now(self, request, queryset):
        try:
            hurried = services.outbox_push_now(entries=list(queryset), by=request.user)
        except DomainError as error:
            messages.error(request, error.message)
            return
        if not hurried:
            messages.warning(request, "None of the selected entries is waiting for a retry.")
        else:
            messages.success(request, f"{hurried} entr{'y' if hurried == 1 else 'ies'} pushed now.")


@admin.register(CrmOwner)
class CrmOwnerAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    list_display = ("user", "user_email", "hubspot_owner_id", "salesforce_user_id")
    search_fields = (
        "user__username",
        "user__email",
        "user__first_name",
        "user__last_name",
        "hubspot_owner_id",
        "salesforce_user_id",
    )
    list_select_related = ("user",)
    autocomplete_fields = ("user",)

    @admin.display(description="E-mail", ordering="user__email")
    def user_email(self, owner: CrmOwner) -> str:
        return owner.user.email

    # Ops keep these ids (it is CRM configuration, not the workflow's record).
    def has_add_permission(self, request):
        return is_ops(request.user)

    def has_change_permission(self, request, obj=None):
        return is_ops(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_ops(request.user)

    def get_readonly_fields(self, request, obj=None):
        return ("user",) if obj is not None else ()

    def save_model(self, request, obj, form, change):
        saved = services.crm_owner_set(
            user=obj.user,
            by=request.user,
            hubspot_owner_id=obj.hubspot_owner_id,
            salesforce_user_id=obj.salesforce_user_id,
        )
        obj.pk = saved.pk
