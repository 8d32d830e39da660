"""The weekly coverage digest: one e-mail per person on either side and in ops, and a Slack
post (coverage/slack.py) when a webhook is configured. Sent by coverage.tasks (beat, weekly).

Per active cycle with a snapshot, everyone reads the same scorecard (the snapshot's stored
aggregates and alignment), what changed since the snapshot at least a week older, the top gaps
and the nominations waiting longer than the cycle's reminder delay; each reader also gets their
own accounts with gaps (as sales or marketing owner). Nothing is computed here that the
snapshot already holds; the week's changes are a handful of queries over two snapshots' rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from email.mime.image import MIMEImage

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from core.roles import OPS_GROUP, SIDE_GROUPS, is_ops, side_of
from core.text import flatten
from coverage.definitions import stage_rank
from coverage.models import AccountCoverage, Gap, Snapshot, SnapshotState, Stage, gap_field
from coverage.selectors import snapshot_latest
from workflow.models import CycleState, Nomination, State

User = get_user_model()
logger = logging.getLogger(__name__)

WEEK = timedelta(days=7)
EXAMPLES = 10  # named accounts per list of changes
OWN_GAPS_SHOWN = 25
WAITING_SHOWN = 20


# --- What everyone reads -------------------------------------------------------------------


@dataclass
class Move:
    account: str
    before: str
    after: str

    @property
    def forward(self) -> bool:
        return stage_rank(self.after) > stage_rank(self.before)


@dataclass
class Changes:
    """The latest snapshot against one taken at least a week before it. Gaps opened and closed
    count accounts on the list in both; an account added with a gap counts as added."""

    since: date
    added: int
    added_names: list[str]
    removed: int
    removed_names: list[str]
    gaps_opened: dict[str, int]
    gaps_closed: dict[str, int]
    moved_forward: int
    moved_back: int
    moves: list[Move]

    @property
    def opened(self) -> int:
        return sum(self.gaps_opened.values())

    @property
    def closed(self) -> int:
        return sum(self.gaps_closed.values())

    @property
    def moved(self) -> int:
        return self.moved_forward + self.moved_back

    def gap_lines(self) -> list[tuple[str, int, int]]:
        """(gap label, opened, closed) for each gap that changed."""
        return [
            (Gap(code).label, self.gaps_opened[code], self.gaps_closed[code])
            for code in Gap.values
            if self.gaps_opened[code] or self.gaps_closed[code]
        ]


def snapshot_week_before(snapshot: Snapshot) -> Snapshot | None:
    """The cycle's latest finished snapshot taken at least seven days before `snapshot`."""
    return (
        Snapshot.objects.filter(
            cycle_id=snapshot.cycle_id,
            state=SnapshotState.DONE,
            taken_on__lte=snapshot.taken_on - WEEK,
        )
        .order_by("-taken_on", "-pk")
        .first()
    )


def snapshot_changes(*, latest: Snapshot, earlier: Snapshot) -> Changes:
    """Accounts added and removed, gaps opened and closed, stage moves: counts in SQL, and the
    first few accounts of each list by name."""
    now = AccountCoverage.objects.filter(snapshot=latest)
    then = AccountCoverage.objects.filter(snapshot=earlier)
    was = then.filter(account_id=OuterRef("account_id"))
    added = now.exclude(Exists(was)).order_by("tier", "account__name")
    removed = then.exclude(Exists(now.filter(account_id=OuterRef("account_id")))).order_by(
        "tier", "account__name"
    )
    kept = now.filter(Exists(was)).annotate(
        was_stage=Subquery(was.values("stage")[:1]),
        **{f"was_{code}": Subquery(was.values(gap_field(code))[:1]) for code in Gap.values},
    )
    flips = kept.aggregate(
        **{
            f"opened_{code}": Count("pk", filter=Q(**{gap_field(code): True, f"was_{code}": False}))
            for code in Gap.values
        },
        **{
            f"closed_{code}": Count("pk", filter=Q(**{gap_field(code): False, f"was_{code}": True}))
            for code in Gap.values
        },
    )
    moved = kept.exclude(stage=F("was_stage"))
    forward = back = 0
    for row in moved.values("was_stage", "stage").annotate(n=Count("pk")).order_by():
        if stage_rank(row["stage"]) > stage_rank(row["was_stage"]):
            forward += row["n"]
        else:
            back += row["n"]
    return Changes(
        since=earlier.taken_on,
        added=added.count(),
        added_names=list(added.values_list("account__name", flat=True)[:EXAMPLES]),
        removed=removed.count(),
        removed_names=list(removed.values_list("account__name", flat=True)[:EXAMPLES]),
        gaps_opened={code: flips[f"opened_{code}"] for code in Gap.values},
        gaps_closed={code: flips[f"closed_{code}"] for code in Gap.values},
        moved_forward=forward,
        moved_back=back,
        moves=[
            Move(name, before, after)
            for name, before, after in moved.order_by("tier", "account__name").values_list(
                "account__name", "was_stage", "stage"
            )[:EXAMPLES]
        ],
    )


@dataclass
class Waiting:
    nomination: Nomination
    hours: int
    waiting_for: list[str]  # the sides' labels that have not reached quorum

    @property
    def days(self) -> float:
        return round(self.hours / 24, 1)


def nominations_waiting_too_long(cycle, *, now: datetime) -> tuple[list[Waiting], int]:
    """In review for longer than the cycle's reminder delay, longest first: the first
    WAITING_SHOWN, and how many in all."""
    from workflow.services import side_statuses

    waiting = Nomination.objects.filter(
        cycle=cycle,
        state=State.IN_REVIEW,
        waiting_since__lte=now - timedelta(hours=cycle.reminder_after_hours),
    )
    shown = []
    for nomination in (
        waiting.select_related("account", "cycle", "proposer")
        .prefetch_related("sign_offs")
        .order_by("waiting_since", "pk")[:WAITING_SHOWN]
    ):
        statuses = side_statuses(nomination, sign_offs=nomination.sign_offs.all())
        shown.append(
            Waiting(
                nomination=nomination,
                hours=int((now - nomination.waiting_since).total_seconds() // 3600),
                waiting_for=[s.side.label for s in statuses.values() if not s.reached],
            )
        )
    return shown, waiting.count()


@dataclass
class Chart:
    """A chart for the e-mail: a PNG attached inline, referenced as `cid:<cid>` in the HTML."""

    cid: str
    title: str
    png: bytes


@dataclass
class Score:
    label: str
    value: str


@dataclass
class CycleDigest:
    cycle: object
    snapshot: Snapshot
    scorecard: list[Score]
    top_gaps: list[tuple[str, int]]
    changes: Changes | None
    waiting: list[Waiting]
    waiting_total: int
    dashboard_url: str
    charts: list[Chart] = field(default_factory=list)


def _percent(share) -> str:
    return "–" if share is None else f"{round(share * 100)}%"


def _money(amount: str) -> str:
    return f"{Decimal(amount):,.2f}"


def _hours(value) -> str:
    return "–" if value is None else f"{value:,.1f} h"


def scorecard(snapshot: Snapshot) -> list[Score]:
    """The numbers both sides read, from the snapshot as stored."""
    metrics = snapshot.aggregates.get("cycle", {})
    alignment = snapshot.alignment or {}
    nominations = alignment.get("nominations", {})
    waiting = alignment.get("hours_waiting", {})
    if not metrics:
        return []
    return [
        Score("Target accounts", f"{metrics['accounts']:,}"),
        Score("Fully covered", _percent(metrics["fully_covered_share"])),
        Score("Engaged or further", _percent(metrics["engaged_or_further_share"])),
        Score("Open pipeline", _money(metrics["open_pipeline"])),
        Score("Won", _money(metrics["won_amount"])),
        Score("Both owners assigned", _percent(alignment.get("both_owners_share"))),
        Score("Nominations agreed", _percent(nominations.get("approved_share"))),
        Score("Nominations disputed", _percent(nominations.get("disputed_share"))),
        Score(
            "Median time to decision",
            _hours(alignment.get("hours_to_decision", {}).get("median")),
        ),
        Score(
            "Hours waiting on marketing / sales",
            f"{_hours(waiting.get('marketing'))} / {_hours(waiting.get('sales'))}",
        ),
    ]


def top_gaps(snapshot: Snapshot) -> list[tuple[str, int]]:
    """(gap label, accounts) for the gaps some account has, the commonest first."""
    counts = snapshot.aggregates.get("cycle", {}).get("gaps", {})
    present = [(Gap(code).label, n) for code, n in counts.items() if n and code in Gap.values]
    return sorted(present, key=lambda item: -item[1])


def dashboard_url(cycle) -> str:
    return settings.SITE_URL + reverse("coverage:dashboard", args=[cycle.pk])


# The dashboard's charts the e-mail shows (coverage.charts), in this order.
DIGEST_CHARTS = ("coverage_by_tier", "gaps", "stage_funnel", "alignment_over_time")


def _charts(snapshot: Snapshot) -> list[Chart]:
    from coverage import charts
    from coverage.dashboard import snapshot_history

    specs = charts.chart_specs(snapshot, snapshot_history(snapshot=snapshot))
    drawn = []
    for name in DIGEST_CHARTS:
        try:
            png = charts.to_png(specs[name])
        except ValueError as error:
            # vl-convert refuses a chart with nothing to draw (e.g. no aggregates): the digest
            # is still worth sending, without that chart.
            logger.warning("Chart %s of snapshot %s not drawn: %s", name, snapshot.pk, error)
            continue
        drawn.append(
            Chart(
                # A Content-ID is an address: unique per e-mail, nothing from people in it.
                cid=f"{name.replace('_', '-')}-{snapshot.pk}@accord",
                title=charts.CHARTS[name],
                png=png,
            )
        )
    return drawn


def digest_cycles(*, now: datetime | None = None, charts: bool = True) -> list[CycleDigest]:
    """The shared part of the digest: every active cycle that has a snapshot."""
    from workflow.models import Cycle

    now = now or timezone.now()
    result = []
    for cycle in Cycle.objects.filter(state=CycleState.ACTIVE).order_by("starts_on", "pk"):
        snapshot = snapshot_latest(cycle_id=cycle.pk)
        if snapshot is None:
            continue
        earlier = snapshot_week_before(snapshot)
        waiting, waiting_total = nominations_waiting_too_long(cycle, now=now)
        result.append(
            CycleDigest(
                cycle=cycle,
                snapshot=snapshot,
                scorecard=scorecard(snapshot),
                top_gaps=top_gaps(snapshot),
                changes=snapshot_changes(latest=snapshot, earlier=earlier) if earlier else None,
                waiting=waiting,
                waiting_total=waiting_total,
                dashboard_url=dashboard_url(cycle),
                charts=_charts(snapshot) if charts else [],
            )
        )
    return result


# --- What each reader reads ----------------------------------------------------------------


@dataclass
class OwnAccount:
    name: str
    domain: str
    tier: int
    roles: list[str]  # "sales owner", "marketing owner"
    stage: str
    gaps: list[str]  # labels


def own_accounts_with_gaps(*, snapshot: Snapshot, person) -> tuple[list[OwnAccount], int]:
    """The reader's accounts in the snapshot (as sales or marketing owner) with at least one
    gap: the first OWN_GAPS_SHOWN by tier and name, and how many in all."""
    any_gap = Q()
    for code in Gap.values:
        any_gap |= Q(**{gap_field(code): True})
    rows = (
        AccountCoverage.objects.filter(snapshot=snapshot)
        .filter(Q(sales_owner=person) | Q(marketing_owner=person))
        .filter(any_gap)
        .select_related("account")
        .order_by("tier", "account__name", "pk")
    )
    shown = [
        OwnAccount(
            name=row.account.name,
            domain=row.account.domain,
            tier=row.tier,
            roles=[
                role
                for role, owner_id in (
                    ("sales owner", row.sales_owner_id),
                    ("marketing owner", row.marketing_owner_id),
                )
                if owner_id == person.pk
            ],
            stage=Stage(row.stage).label,
            gaps=[Gap(code).label for code in row.gaps],
        )
        for row in rows[:OWN_GAPS_SHOWN]
    ]
    return shown, rows.count()


def digest_recipients():
    """Everyone the digest goes to: active people with an e-mail address on the marketing or
    the sales side (core.roles.side_of: someone in both counts for neither) or in ops."""
    candidates = (
        User.objects.filter(is_active=True, groups__name__in=[*SIDE_GROUPS, OPS_GROUP])
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )
    return [p for p in candidates if side_of(p) is not None or is_ops(p)]


def digest_message(*, person, cycles: list[CycleDigest]) -> EmailMultiAlternatives:
    """The reader's e-mail: a plain-text part, an HTML part and the charts inline."""
    sections = []
    for item in cycles:
        own, own_total = own_accounts_with_gaps(snapshot=item.snapshot, person=person)
        sections.append({"digest": item, "own": own, "own_total": own_total})
    context = {
        "person": person,
        "name": person.get_full_name() or person.username,
        "sections": sections,
        "site_url": settings.SITE_URL,
    }
    subject = flatten(
        "[Accord] Weekly coverage: " + ", ".join(item.cycle.name for item in cycles), limit=250
    )
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("coverage/email/digest.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[person.email],
    )
    message.attach_alternative(render_to_string("coverage/email/digest.html", context), "text/html")
    charts = [chart for item in cycles for chart in item.charts]
    if charts:
        # multipart/related: the images belong to the HTML part that shows them.
        message.mixed_subtype = "related"
        for chart in charts:
            image = MIMEImage(chart.png, "png")
            image.add_header("Content-ID", f"<{chart.cid}>")
            image.add_header("Content-Disposition", "inline", filename=f"{chart.cid}.png")
            message.attach(image)
    return message


def digest_send(*, person, now: datetime | None = None) -> int:
    """Send `person` this week's digest. Returns the number of e-mails sent (0: no e-mail
    address, or no active cycle has a snapshot yet)."""
    if not person.email:
        return 0
    cycles = digest_cycles(now=now)
    if not cycles:
        return 0
    return digest_message(person=person, cycles=cycles).send(fail_silently=False)
