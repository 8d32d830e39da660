"""`/api/v1/sync-runs/`: the CRM sync's runs (pushes and pulls) with their progress and counts,
and starting one (revenue operations). The same conventions as api/views.py: members only,
errors mapped once (api.exceptions), `Idempotency-Key` on POST. The runs' writes are the push's
and the pull's services, as on the sync page and in the admin."""

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.reverse import reverse

from api.idempotency import idempotent
from api.serializers import MAX_INT, PersonOutput, StrictInput
from api.views import (
    IDEMPOTENCY_PARAMETER,
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    ApiView,
    _input,
    _responses,
)
from core.errors import Invalid
from crm import selectors
from crm import services as push_services
from crm.models import SyncKind, SyncRun, SyncRunError, SyncState, SyncTrigger
from crm.pull import services as pull_services
from workflow.models import Cycle

ERRORS_SHOWN = 100


# --- serializers -------------------------------------------------------------------------------


class SyncRunInput(StrictInput):
    kind = serializers.ChoiceField(
        choices=SyncKind.choices,
        help_text="`push`: send the outbox (or a cycle's whole list) to the CRM. `pull`: read "
        "what changed in the CRM.",
    )
    cycle = serializers.IntegerField(
        min_value=1,
        max_value=MAX_INT,
        required=False,
        help_text="Push only: push this cycle's whole list (removals too), not just the outbox.",
    )
    full = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Pull only: read every record again, not only what changed.",
    )


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": True,
        "description": "Cursors, per-object counts and request statistics; the keys vary.",
    }
)
class _Detail(serializers.JSONField):
    pass


class SyncRunOutput(serializers.ModelSerializer):
    triggered_by = PersonOutput(allow_null=True)
    cycle = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    percent = serializers.IntegerField(help_text="done / total, 0–100.")
    skipped = serializers.SerializerMethodField(
        help_text="Pulls: records of companies Accord does not know, not kept."
    )

    class Meta:
        model = SyncRun
        fields = [
            "id",
            "kind",
            "backend",
            "state",
            "trigger",
            "triggered_by",
            "cycle",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
            "total",
            "done",
            "percent",
            "sent",
            "created",
            "updated",
            "unchanged",
            "failed",
            "skipped",
            "requests",
            "message",
        ]

    def get_skipped(self, run) -> int:
        return int((run.detail or {}).get("skipped", 0))


class SyncRunErrorOutput(serializers.ModelSerializer):
    account = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = SyncRunError
        fields = ["object_type", "object_key", "account", "message", "created_at"]


class SyncRunDetailOutput(SyncRunOutput):
    detail = _Detail()
    error_count = serializers.IntegerField(help_text="Records that failed, in all.")
    errors = SyncRunErrorOutput(
        source="errors_shown",
        many=True,
        help_text=f"The first {ERRORS_SHOWN} records that failed, with the reason.",
    )

    class Meta(SyncRunOutput.Meta):
        fields = [*SyncRunOutput.Meta.fields, "detail", "error_count", "errors"]


class SyncRunFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=SyncKind.choices)
    state = django_filters.ChoiceFilter(choices=SyncState.choices)

    class Meta:
        model = SyncRun
        fields = []


def _detail(run: SyncRun) -> dict:
    errors = selectors.sync_run_errors(run)
    run.error_count = errors.count()
    run.errors_shown = list(errors[:ERRORS_SHOWN])
    return SyncRunDetailOutput(run).data


# --- views -------------------------------------------------------------------------------------


class SyncRunListView(ApiView):
    """Anyone on a side may read the runs; only revenue operations start them."""

    filterset_class = SyncRunFilter
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend]

    def get_queryset(self):
        return selectors.sync_runs()

    @extend_schema(
        summary="CRM sync runs (pushes and pulls), newest first, with progress and counts",
        responses=_responses({200: SyncRunOutput(many=True)}, LIST_ERRORS),
    )
    def get(self, request):
        return self.paginated(self.filter_queryset(self.get_queryset()), SyncRunOutput)

    @extend_schema(
        summary="Start a push or a pull (revenue operations only)",
        description=(
            "The run is queued (`state` `queued`) and a worker carries it out; follow it with "
            "GET /api/v1/sync-runs/{id}/. 409 when a pull is already queued or running, when "
            "that cycle's push is, or when CRM_BACKEND has no CRM to pull from."
        ),
        request=SyncRunInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses=_responses({201: SyncRunDetailOutput}, WRITE_ERRORS),
    )
    @idempotent
    def post(self, request):
        data = _input(SyncRunInput, request)
        if data["kind"] == SyncKind.PULL:
            if "cycle" in data:
                raise Invalid("A pull reads the whole CRM: leave `cycle` out.", field="cycle")
            run = pull_services.sync_run_request_pull(
                by=request.user, full=data["full"], trigger=SyncTrigger.API
            )
        else:
            if data["full"]:
                raise Invalid("`full` is for pulls only.", field="full")
            cycle = None
            if "cycle" in data:
                cycle = Cycle.objects.filter(pk=data["cycle"]).first()
                if cycle is None:
                    raise Invalid(f"There is no cycle #{data['cycle']}.", field="cycle")
            run = push_services.sync_run_request_push(by=request.user, cycle=cycle)
        run = selectors.sync_runs().get(pk=run.pk)
        return Response(
            _detail(run),
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api:sync-run", args=[run.pk], request=request)},
        )


class SyncRunDetailView(ApiView):
    @extend_schema(
        summary="One sync run, with its per-object counts and the records that failed",
        responses=_responses({200: SyncRunDetailOutput}, READ_ERRORS),
    )
    def get(self, request, pk: int):
        run = selectors.sync_runs().filter(pk=pk).first()
        if run is None:
            raise NotFound(f"There is no sync run #{pk}.")
        return Response(_detail(run))
