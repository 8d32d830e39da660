"""The coverage pages: the dashboard of a cycle (scorecard, tables, alignment, charts, what
needs my action) and its table of target accounts. They read what the latest snapshot stored
(coverage.selectors, coverage.dashboard) and never compute a snapshot: ops' button asks for
one, which a Celery task takes."""

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.db.models import Case, IntegerField, Value, When
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.http import urlencode
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from core.errors import DomainError
from core.roles import is_ops
from core.web import member_required
from coverage import services
from coverage.charts import CHARTS, chart_svgs
from coverage.dashboard import (
    cycles_with_latest_snapshot,
    gap_reasons,
    rows_needing_action,
    snapshot_running,
)
from coverage.filters import AccountCoverageFilter
from coverage.models import Gap, Snapshot, Stage, gap_field
from coverage.selectors import snapshot_cache_key, snapshot_latest, snapshot_rows
from coverage.tables import AccountCoverageTable
from workflow.models import Cycle, CycleState
from workflow.selectors import people_shown

MY_ACTIONS_SHOWN = 15
MY_ACTION_COLUMNS = (
    "snapshot_id",
    "account_id",
    "tier",
    "stage",
    *(gap_field(code) for code in Gap.values),  # the row's `gaps`
    "missing_roles",
    "account__name",
    *people_shown("sales_owner", "marketing_owner"),
)
# The site's page size: a page is rendered cell by cell, so it stays small.
TABLE_PER_PAGE = 25
MAX_PER_PAGE = 100

STAGE_RANK = Case(
    *[When(stage=code, then=Value(i)) for i, code in enumerate(Stage.values)],
    output_field=IntegerField(),
)


def _scorecard(aggregates: dict) -> list[dict]:
    """The cycle's numbers with their change since the previous and the first snapshot, and
    the table filter that lists the accounts behind each."""
    now = aggregates["cycle"]
    trend = aggregates.get("trend") or {}
    previous = (trend.get("previous") or {}).get("change")
    first = (trend.get("first") or {}).get("change")

    def change(key, gap=None):
        out = []
        for which in (previous, first):
            if which is None:
                out.append(None)
            else:
                out.append(which["gaps"].get(gap) if gap else which.get(key))
        return out

    cards = [
        ("accounts", "Target accounts", now["accounts"], "count", ""),
        (
            "fully_covered_share",
            "Fully covered",
            now["fully_covered_share"],
            "share",
            "covered=full",
        ),
        (
            "engaged_or_further_share",
            "Engaged or further",
            now["engaged_or_further_share"],
            "share",
            "further=engaged",
        ),
        ("open_pipeline", "Open pipeline", now["open_pipeline"], "money", "pipeline=open"),
        ("won_amount", "Won", now["won_amount"], "money", "pipeline=won"),
    ]
    result = [
        {
            "key": key,
            "label": label,
            "value": value,
            "kind": kind,
            "query": query,
            "good_up": True,
            "previous": change(key)[0],
            "first": change(key)[1],
        }
        for key, label, value, kind, query in cards
    ]
    for code, label in Gap.choices:
        prev, fst = change(None, gap=code)
        result.append(
            {
                "key": f"gap_{code}",
                "label": label,
                "value": now["gaps"].get(code, 0),
                "kind": "count",
                "query": f"gap={code}",
                "good_up": False,
                "previous": prev,
                "first": fst,
                "gap": True,
            }
        )
    return result


def _with_gap_totals(groups: list[dict]) -> list[dict]:
    return [{**g, "gap_total": sum(g["gaps"].values())} for g in groups]


@member_required
def index(request):
    cycles = cycles_with_latest_snapshot().exclude(state=CycleState.CLOSED).order_by("-starts_on")
    return render(request, "coverage/index.html", {"cycles": cycles})


# The part of a snapshot's dashboard every reader sees alike (scorecard, charts, the tier,
# owner and stage tables, alignment), rendered once per snapshot: with hundreds of owners it is
# thousands of cells, most of a page's CPU time. A snapshot never changes once taken (see
# coverage.selectors.snapshot_cache_key).
SHARED_VERSION = 1
SHARED_SECONDS = 60 * 60 * 24


def _shared_key(snapshot) -> str:
    return f"{snapshot_cache_key(snapshot.pk, snapshot.finished_at)}:dashboard:v{SHARED_VERSION}"


def _shared(cycle, snapshot) -> dict:
    key = _shared_key(snapshot)
    shared = cache.get(key)
    if shared is not None:
        return shared
    snapshot = Snapshot.objects.select_related("definitions_version", "cycle").get(pk=snapshot.pk)
    aggregates = snapshot.aggregates
    svgs = chart_svgs(snapshot)
    context = {
        "cycle": cycle,
        "snapshot": snapshot,
        "aggregates": aggregates,
        "alignment": snapshot.alignment,
        "scorecard": _scorecard(aggregates),
        "trend": aggregates.get("trend") or {},
        "stage_rows": [
            (
                code,
                label,
                aggregates["stages"]["accounts"].get(code, 0),
                aggregates["stages"]["median_days"].get(code),
            )
            for code, label in Stage.choices
        ],
        "gap_choices": Gap.choices,
        "charts": [(name, title, svgs[name]) for name, title in CHARTS.items()],
        "owner_tables": [
            ("sales owner", "sales", _with_gap_totals(aggregates.get("sales_owners", []))),
            (
                "marketing owner",
                "marketing",
                _with_gap_totals(aggregates.get("marketing_owners", [])),
            ),
        ],
    }
    shared = {
        part: render_to_string(f"coverage/_dashboard_{part}.html", context)
        for part in ("scorecard", "details")
    }
    cache.set(key, shared, SHARED_SECONDS)
    return shared


@member_required
def dashboard(request, pk):
    cycle = get_object_or_404(Cycle, pk=pk)
    # The aggregates are read only to render the shared part, when it is not in the cache.
    snapshot = snapshot_latest(cycle_id=cycle.pk, aggregates=False)
    context = {
        "cycle": cycle,
        "snapshot": snapshot,
        "running": snapshot_running(cycle_id=cycle.pk),
        "can_snapshot": is_ops(request.user),
    }
    if snapshot is None:
        return render(request, "coverage/dashboard.html", context)
    mine = rows_needing_action(snapshot=snapshot, user=request.user)
    # What the list shows of a row (and gap_reasons reads), no more: a row is 70 columns with
    # its account and owners, most of this page's time spent building them.
    shown = list(mine.only(*MY_ACTION_COLUMNS)[:MY_ACTIONS_SHOWN])
    context |= {
        "shared": _shared(cycle, snapshot),
        "trend": snapshot.trend or {},
        "my_actions": [
            {"row": row, "reasons": gap_reasons(row, snapshot.settings, user=request.user)}
            for row in shown
        ],
        "my_actions_total": mine.count(),
    }
    return render(request, "coverage/dashboard.html", context)


def _per_page(request) -> int:
    # A reader may ask for longer pages, but never for all 20,000 rows at once.
    try:
        asked = int(request.GET.get("per_page", TABLE_PER_PAGE))
    except ValueError:
        asked = TABLE_PER_PAGE
    return min(max(asked, 1), MAX_PER_PAGE)


# The table's parameters; a page is cached (below) only when its query uses these alone, once
# each, so that what is cached is bounded by the filters' choices and the pages.
TABLE_PARAMETERS = frozenset({"page", "per_page", "sort", *AccountCoverageFilter.base_filters})


def _table_key(request, snapshot, filters) -> str | None:
    """The cache key of a table page, or None for one not to cache: a search (free text), a
    value the filters refuse, an unknown or repeated parameter, a sort by no column."""
    query = request.GET
    if not filters.is_valid() or filters.form.cleaned_data.get("q"):
        return None
    if any(key not in TABLE_PARAMETERS or len(query.getlist(key)) > 1 for key in query):
        return None
    sort = query.get("sort", "")
    if sort and sort.removeprefix("-") not in AccountCoverageTable.base_columns:
        return None
    if (
        not all(
            query.get(key, "1").isascii() and query.get(key, "1").isdigit()
            for key in ("page", "per_page")
        )
        or len(query.get("page", "")) > 6
    ):
        return None
    parts = sorted((key, query[key]) for key in query if query[key])
    if filters.form.cleaned_data.get("action"):
        parts.append(("for", str(request.user.pk)))  # "my accounts": the reader's own
    return f"{_shared_key(snapshot)}:table:{urlencode(parts)}"


@member_required
def accounts(request, pk):
    cycle = get_object_or_404(Cycle, pk=pk)
    snapshot = snapshot_latest(cycle_id=cycle.pk)
    if snapshot is None:
        return redirect("coverage:dashboard", pk=cycle.pk)
    context = {"cycle": cycle, "snapshot": snapshot}
    rows = (
        snapshot_rows(snapshot=snapshot)
        .select_related("account", "sales_owner", "marketing_owner")
        .annotate(stage_rank=STAGE_RANK)
    )
    filters = AccountCoverageFilter(
        request.GET, queryset=rows, snapshot=snapshot, user=request.user
    )
    key = _table_key(request, snapshot, filters)
    table_html = cache.get(key) if key else None
    if table_html is None:
        # A value the form refuses (a stale link, a gap renamed) lists nothing, with the error
        # shown, rather than silently every account.
        shown = filters.qs if filters.is_valid() else rows.none()
        table = AccountCoverageTable(shown, taken_on=snapshot.taken_on)
        RequestConfig(request, paginate=False).configure(table)
        # Paged here, not by RequestConfig, which would take any per_page the URL asks for.
        try:
            table.paginate(page=request.GET.get("page", 1), per_page=_per_page(request))
        except (EmptyPage, PageNotAnInteger):
            table.paginate(page=1, per_page=_per_page(request))
        table_html = render_to_string(
            "coverage/_accounts_table.html",
            {
                **context,
                "filters": filters,
                "table": table,
                "filtering": any(
                    v for k, v in request.GET.items() if k not in ("page", "sort", "per_page")
                ),
            },
            request=request,
        )
        if key:
            cache.set(key, table_html, SHARED_SECONDS)
    return render(request, "coverage/accounts.html", {**context, "table_html": table_html})


@require_POST
@member_required
def snapshot_now(request, pk):
    cycle = get_object_or_404(Cycle, pk=pk)
    try:
        services.snapshot_request(cycle=cycle, by=request.user)
    except DomainError as error:
        if error.status == 403:
            raise PermissionDenied(str(error)) from error
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            "A snapshot is being taken. It takes a minute or so for a large cycle: reload "
            "this page to see it.",
        )
    return redirect("coverage:dashboard", pk=cycle.pk)
