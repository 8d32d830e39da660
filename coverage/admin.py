"""Coverage in the admin (revenue operations): the definitions versions and the snapshots, read
only (services write them), and each cycle with the action that takes its snapshot now."""

from django import forms
from django.contrib import admin, messages
from django.db.models import OuterRef, Subquery
from django.urls import reverse

from core.admin import ServiceErrorsMixin, ViewOnlyInline, ViewOnlyMixin, run_for_each
from coverage import selectors, services
from coverage.models import (
    AccountCoverage,
    CycleCoverage,
    DefinitionsEvent,
    DefinitionsSignOff,
    DefinitionsVersion,
    Snapshot,
)
from coverage.models import SnapshotState as State


class DefinitionsSignOffInline(ViewOnlyInline):
    model = DefinitionsSignOff
    fields = ("person", "side", "approve", "note", "created_at")


class DefinitionsEventInline(ViewOnlyInline):
    model = DefinitionsEvent
    fields = ("created_at", "actor", "actor_side", "action", "from_state", "to_state", "note")


class DefinitionsVersionForm(forms.ModelForm):
    class Meta:
        model = DefinitionsVersion
        fields = ("name", "settings")


@admin.register(DefinitionsVersion)
class DefinitionsVersionAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    """Ops draft new settings here and submit them; approvers of both sides sign them off on
    the site's definitions page. Nothing is edited after it is drafted."""

    form = DefinitionsVersionForm
    list_display = ["number", "name", "state", "effective_at", "proposed_by", "created_at"]
    list_filter = ["state"]
    actions = ["submit"]

    def get_readonly_fields(self, request, obj=None):
        fixed = ["number", "state", "proposed_by", "created_at", "effective_at"]
        return [*fixed, "name", "settings"] if obj is not None else fixed

    def get_inlines(self, request, obj):
        return [DefinitionsSignOffInline, DefinitionsEventInline] if obj is not None else []

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def get_changeform_initial_data(self, request):
        return {"settings": dict(selectors.definitions_effective().settings)}

    def save_model(self, request, obj, form, change):
        saved = services.definitions_version_create(
            settings=form.cleaned_data["settings"], name=obj.name, by=request.user
        )
        obj.pk, obj.number, obj.created_at = saved.pk, saved.number, saved.created_at

    def view_on_site(self, obj):
        return reverse("coverage_definitions:list") + f"#definitions-{obj.pk}"

    @admin.action(description="Submit the selected drafts for both sides' sign-off")
    def submit(self, request, queryset):
        run_for_each(
            request,
            queryset,
            lambda version: services.definitions_version_submit(version=version, by=request.user),
            lambda version, _: f"{version} now waits for both sides' sign-off.",
        )


@admin.register(DefinitionsSignOff)
class DefinitionsSignOffAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("version", "person", "side", "approve", "created_at")
    list_filter = ("side", "approve")
    list_select_related = ("version", "person")


@admin.register(DefinitionsEvent)
class DefinitionsEventAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("version", "created_at", "actor", "action", "from_state", "to_state")
    list_filter = ("action",)
    list_select_related = ("version", "actor")


@admin.register(Snapshot)
class SnapshotAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ["cycle", "taken_on", "state", "progress", "definitions_version", "taken_at"]
    list_filter = ["state", "cycle"]
    list_select_related = ["cycle", "definitions_version"]
    date_hierarchy = "taken_on"
    readonly_fields = [
        "cycle",
        "taken_on",
        "taken_at",
        "as_of",
        "definitions_version",
        "settings",
        "state",
        "done",
        "total",
        "message",
        "finished_at",
        "aggregates",
        "alignment",
    ]

    @admin.display(description="Progress")
    def progress(self, snapshot: Snapshot) -> str:
        return f"{snapshot.done} / {snapshot.total} accounts"


@admin.register(AccountCoverage)
class AccountCoverageAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ["account", "snapshot", "tier", "stage", "stage_since", "coverage"]
    list_filter = ["tier", "stage", "gap_missing_role", "gap_no_sales_follow_up", "gap_gone_cold"]
    list_select_related = ["account", "snapshot__cycle"]
    search_fields = ["account__name", "account__domain"]
    raw_id_fields = ["snapshot", "target", "account", "sales_owner", "marketing_owner"]


@admin.register(CycleCoverage)
class CycleCoverageAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ["name", "state", "latest_snapshot"]
    list_filter = ["state"]
    actions = ["take_snapshot"]

    def get_queryset(self, request):
        latest = Snapshot.objects.filter(cycle=OuterRef("pk"), state=State.DONE).order_by(
            "-taken_on"
        )
        return (
            super().get_queryset(request).annotate(latest=Subquery(latest.values("taken_on")[:1]))
        )

    @admin.display(description="Latest snapshot", ordering="latest")
    def latest_snapshot(self, cycle) -> str:
        return cycle.latest.isoformat() if cycle.latest else "none yet"

    @admin.action(description="Take today's coverage snapshot now")
    def take_snapshot(self, request, queryset):
        done = run_for_each(
            request,
            queryset,
            lambda cycle: services.snapshot_request(cycle=cycle, by=request.user),
            lambda cycle, _: f"{cycle.name}: the snapshot is being taken.",
        )
        if not done:
            messages.warning(request, "No snapshot was asked for.")
