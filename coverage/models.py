"""Coverage and alignment: the agreed definitions of the metrics, daily snapshots of a cycle and
one row per target account per snapshot. Data and constraints only; coverage.services writes."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts_app.models import Account
from core.models import AgreedSignOff, AgreedVersion, AgreementEvent, AgreementState
from workflow.models import TIERS, Cycle, TargetAccount

# Read once: `settings` is also the name of a field below.
USER = settings.AUTH_USER_MODEL


DefinitionsState = AgreementState  # the states of every agreed definition (core.models)


class DefinitionsVersion(AgreedVersion):
    """A numbered version of the settings the metric definitions use (coverage.definitions).
    Like the ideal customer profile, and through the same mechanism (core.agreements), a version
    takes effect only when an approver of each side signs it off; exactly one is effective at a
    time, and every snapshot records the one it used."""

    settings = models.JSONField(default=dict)

    noun = "definitions version"
    a_noun = "a definitions version"
    untitled = "Definitions v{number}"

    class Meta(AgreedVersion.Meta):
        verbose_name = "definitions version"
        constraints = [AgreedVersion.one_effective("definitions_one_effective_version")]

    def __str__(self) -> str:
        return f"Definitions v{self.number} ({self.get_state_display().lower()})"

    def after_effective(self) -> None:
        # Today's snapshots follow the new definitions at once (after commit, in a worker).
        from django.db import transaction

        from coverage import tasks

        transaction.on_commit(lambda: tasks.snapshot_active_cycles.delay(), robust=True)


class DefinitionsSignOff(AgreedSignOff):
    version = models.ForeignKey(
        DefinitionsVersion, on_delete=models.CASCADE, related_name="sign_offs"
    )

    class Meta(AgreedSignOff.Meta):
        verbose_name = "definitions sign-off"
        constraints = [
            models.UniqueConstraint(
                fields=["version", "person"], name="definitions_one_sign_off_per_person"
            ),
        ]


class DefinitionsEvent(AgreementEvent):
    """The append-only history of a definitions version."""

    version = models.ForeignKey(DefinitionsVersion, on_delete=models.PROTECT, related_name="events")

    class Meta(AgreementEvent.Meta):
        verbose_name = "definitions event"


class SnapshotState(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Snapshot(models.Model):
    """A cycle's coverage as of one instant, one per cycle per day. A new snapshot is computed
    while the day's previous one (if any) stays readable; it replaces it in one transaction."""

    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="coverage_snapshots")
    taken_on = models.DateField()
    taken_at = models.DateTimeField(auto_now_add=True)
    as_of = models.DateTimeField(help_text="The instant the metrics are computed at.")
    definitions_version = models.ForeignKey(
        DefinitionsVersion, on_delete=models.PROTECT, related_name="snapshots"
    )
    settings = models.JSONField(
        default=dict, help_text="A copy of the definitions version's settings used."
    )
    aggregates = models.JSONField(default=dict, blank=True)
    alignment = models.JSONField(default=dict, blank=True)
    state = models.CharField(
        max_length=10, choices=SnapshotState.choices, default=SnapshotState.RUNNING
    )
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["cycle", "-taken_on"]
        get_latest_by = "taken_on"
        constraints = [
            models.UniqueConstraint(
                fields=["cycle", "taken_on"],
                condition=Q(state="done"),
                name="snapshot_one_done_per_cycle_day",
            ),
            models.CheckConstraint(
                condition=Q(done__lte=models.F("total")), name="snapshot_done_le_total"
            ),
        ]
        indexes = [models.Index(fields=["cycle", "state", "taken_on"])]

    def __str__(self) -> str:
        return f"{self.cycle} coverage {self.taken_on:%Y-%m-%d}"


class Stage(models.TextChoices):
    """The journey stages, in order: a later one is further along."""

    TARGETED = "targeted", "Targeted"
    AWARE = "aware", "Aware"
    ENGAGED = "engaged", "Engaged"
    OPPORTUNITY = "opportunity", "Opportunity"
    CUSTOMER = "customer", "Customer"


class Gap(models.TextChoices):
    NO_SALES_FOLLOW_UP = "no_sales_follow_up", "No sales follow-up"
    MISSING_ROLE = "missing_role", "Missing required role"
    SINGLE_THREADED = "single_threaded", "Single-threaded"
    GONE_COLD = "gone_cold", "Gone cold"
    NO_SALES_OWNER = "no_sales_owner", "No sales owner"
    NO_MARKETING_OWNER = "no_marketing_owner", "No marketing owner"


def gap_field(code: str) -> str:
    return f"gap_{code}"


# The metrics of a target account's row, in the order the API, the table and the CSV export give
# them (after the account, tier and roles, and before the gaps).
METRIC_FIELDS = (
    "coverage",
    "contacts",
    "engaged_contacts",
    "marketing_touches_30d",
    "sales_touches_30d",
    "marketing_touches_90d",
    "sales_touches_90d",
    "open_opportunities",
    "open_pipeline",
    "won_amount",
    "stage",
    "stage_since",
)


class AccountCoverage(models.Model):
    """One target account in one snapshot. Gaps are boolean columns so that filters run in SQL;
    `stage_since` is carried over from the previous snapshot while the stage is unchanged."""

    # No index of their own: the unique (snapshot, position) and (target, snapshot) serve
    # them (every index is maintained for each of a snapshot's 20,000 inserted rows).
    snapshot = models.ForeignKey(
        Snapshot, on_delete=models.CASCADE, related_name="rows", db_index=False
    )
    # The row's other references are kept by Django (on_delete), not by foreign keys in the
    # database: a snapshot inserts 20,000 rows, and PostgreSQL checked four such keys per row at
    # commit, 80,000 lookups that took longer than the insert itself (0.7 of 1.3 s). Nothing
    # but snapshot_take writes these rows, from the entries on the list, whose accounts are
    # protected by their nominations (Nomination.account PROTECT).
    target = models.ForeignKey(
        TargetAccount,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    position = models.PositiveIntegerField(
        help_text="The row's place in the snapshot, by tier, account name and entry: lists page "
        "through an index instead of sorting every row."
    )
    tier = models.PositiveSmallIntegerField(choices=[(n, f"Tier {n}") for n in TIERS])
    sales_owner = models.ForeignKey(
        USER,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    marketing_owner = models.ForeignKey(
        USER,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    required_roles = models.JSONField(default=list)
    covered_roles = models.JSONField(default=list)
    missing_roles = models.JSONField(default=list)
    coverage = models.FloatField(help_text="Required roles with a contact ÷ required roles, 0–1.")
    contacts = models.PositiveIntegerField(default=0)
    engaged_contacts = models.PositiveIntegerField(default=0)
    marketing_touches_30d = models.PositiveIntegerField(default=0)
    sales_touches_30d = models.PositiveIntegerField(default=0)
    marketing_touches_90d = models.PositiveIntegerField(default=0)
    sales_touches_90d = models.PositiveIntegerField(default=0)
    open_opportunities = models.PositiveIntegerField(default=0)
    open_pipeline = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    won_amount = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    stage = models.CharField(max_length=12, choices=Stage.choices)
    stage_since = models.DateField()
    first_stage = models.CharField(
        max_length=12,
        choices=Stage.choices,
        help_text="The stage of the account's first snapshot in this cycle.",
    )
    gap_no_sales_follow_up = models.BooleanField(default=False)
    gap_missing_role = models.BooleanField(default=False)
    gap_single_threaded = models.BooleanField(default=False)
    gap_gone_cold = models.BooleanField(default=False)
    gap_no_sales_owner = models.BooleanField(default=False)
    gap_no_marketing_owner = models.BooleanField(default=False)

    class Meta:
        ordering = ["snapshot", "position"]
        verbose_name = "account coverage"
        verbose_name_plural = "account coverage"
        constraints = [
            # Target first: it also serves the stage history of one target across a cycle's
            # snapshots (and a lookup by snapshot and target as well).
            models.UniqueConstraint(
                fields=["target", "snapshot"], name="account_coverage_one_per_target"
            ),
            models.UniqueConstraint(
                fields=["snapshot", "position"], name="account_coverage_unique_position"
            ),
            models.CheckConstraint(
                condition=Q(coverage__gte=0) & Q(coverage__lte=1), name="account_coverage_0_1"
            ),
        ]
        # No other index: owner, tier, stage and gap filters ("my accounts" too) read the
        # snapshot's rows in position order through the unique (snapshot, position) index,
        # 20,000 rows at most, and each index more made every snapshot's insert slower
        # (seven indexes took a third of it). The account's own index (its ForeignKey) serves
        # the account page's history.

    def __str__(self) -> str:
        return f"{self.account_id} in {self.snapshot}"

    @property
    def gaps(self) -> list[str]:
        return [code for code in Gap.values if getattr(self, gap_field(code))]


class CycleCoverage(Cycle):
    """Cycles as the coverage admin shows them: with their latest snapshot, and the action
    that takes one now."""

    class Meta:
        proxy = True
        verbose_name = "cycle coverage"
        verbose_name_plural = "cycle coverage"
