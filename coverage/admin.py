"""Coverage in the admin (revenue operations): the definitions versions and the snapshots, read
only (services write them), and each cycle with the action that takes its snapshot now."""

from django.contrib import admin, messages
from django.db.models import OuterRef, Subquery

from coverage import services
from coverage.models import AccountCoverage, CycleCoverage, DefinitionsVersion, Snapshot
from coverage.models import SnapshotState as State
from workflow.admin import ViewOnlyMixin, run_for_each


@admin.register(DefinitionsVersion)
class DefinitionsVersionAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ["number", "state", "effective_at", "proposed_by", "created_at"]
    list_filter = ["state"]
    readonly_fields = ["number", "settings", "state", "proposed_by", "created_at", "effective_at"]


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
