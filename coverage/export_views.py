"""CSV downloads of a cycle (coverage/exports.py): for members only, streamed, never computed
in the request (the coverage files read the latest stored snapshot)."""

from django.http import Http404, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.web import member_required
from coverage import exports, selectors
from coverage.filters import CoverageAccountQuery
from workflow.models import Cycle


def _csv(chunks, name: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _snapshot(cycle: Cycle):
    snapshot = selectors.snapshot_latest(cycle_id=cycle.pk)
    if snapshot is None:
        raise Http404(f"{cycle.name} has no coverage snapshot yet.")
    return snapshot


@require_GET
@member_required
def coverage_accounts_csv(request, pk: int):
    """Each target account's coverage, with the API's filters (tier, sales_owner,
    marketing_owner, stage, gap) and their rules (the API's query serializer)."""
    cycle = get_object_or_404(Cycle, pk=pk)
    query = CoverageAccountQuery(data=request.GET)
    if not query.is_valid():
        problems = "; ".join(
            f"{field}: {' '.join(errors)}" for field, errors in query.errors.items()
        )
        return HttpResponseBadRequest(f"Bad filter. {problems}", content_type="text/plain")
    snapshot = _snapshot(cycle)
    rows = selectors.snapshot_rows(snapshot=snapshot, **query.validated_data)
    return _csv(
        exports.csv_chunks(exports.ACCOUNT_COLUMNS, exports.account_rows(rows)),
        exports.filename(cycle, "coverage-accounts", snapshot.taken_on),
    )


@require_GET
@member_required
def coverage_aggregates_csv(request, pk: int):
    cycle = get_object_or_404(Cycle, pk=pk)
    snapshot = _snapshot(cycle)
    return _csv(
        exports.csv_chunks(exports.AGGREGATE_COLUMNS, exports.aggregate_rows(snapshot)),
        exports.filename(cycle, "coverage-aggregates", snapshot.taken_on),
    )


@require_GET
@member_required
def agreed_list_csv(request, pk: int):
    cycle = get_object_or_404(Cycle, pk=pk)
    return _csv(
        exports.csv_chunks(exports.LIST_COLUMNS, exports.list_rows(exports.agreed_list(cycle))),
        exports.filename(cycle, "agreed-list", timezone.localdate()),
    )
