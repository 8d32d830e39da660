from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, FSMModelMixin, transition

from accounts_app.models import Account, BuyingRole
from core.models import AppendOnlyModel
from core.roles import Side

TIERS = (1, 2, 3)


class CycleState(models.TextChoices):
    PLANNING = "planning", "Planning"
    ACTIVE = "active", "Active"
    CLOSED = "closed", "Closed"


# Each side's quorum field of a cycle.
QUORUM_FIELDS = {Side.MARKETING: "marketing_quorum", Side.SALES: "sales_quorum"}


class Cycle(FSMModelMixin, models.Model):
    """A planning period whose target list both sides agree on."""

    name = models.CharField(max_length=100, unique=True)
    starts_on = models.DateField()
    ends_on = models.DateField()
    # Changed only through the transitions below, by workflow.services.cycle_set_state.
    state = FSMField(
        max_length=10, choices=CycleState.choices, default=CycleState.PLANNING, protected=True
    )
    marketing_quorum = models.PositiveSmallIntegerField(
        default=1, help_text="Approvals marketing must give for a nomination to pass."
    )
    sales_quorum = models.PositiveSmallIntegerField(
        default=1, help_text="Approvals sales must give for a nomination to pass."
    )
    proposer_counts = models.BooleanField(
        default=True,
        help_text="The proposer's own submission counts as the first approval of their side.",
    )
    reminder_after_hours = models.PositiveIntegerField(
        default=72, help_text="Remind the waiting side's approvers after this many hours."
    )
    escalate_after_hours = models.PositiveIntegerField(
        default=168, help_text="Escalate to revenue operations after this many hours."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_on"]
        permissions = [("sign_off", "Can sign off nominations and ICP versions for their side")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gt=models.F("starts_on")), name="cycle_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(marketing_quorum__gte=1) & Q(sales_quorum__gte=1),
                name="cycle_quorum_at_least_one",
            ),
            models.CheckConstraint(
                condition=Q(escalate_after_hours__gte=models.F("reminder_after_hours")),
                name="cycle_escalation_after_reminder",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @transition(field=state, source=CycleState.PLANNING, target=CycleState.ACTIVE)
    def activate(self):
        pass

    @transition(
        field=state, source=[CycleState.PLANNING, CycleState.ACTIVE], target=CycleState.CLOSED
    )
    def close(self):
        pass

    @transition(field=state, source=CycleState.CLOSED, target=CycleState.ACTIVE)
    def reopen(self):
        pass

    def quorum(self, side: str) -> int:
        """Approvals `side` must give (counted by workflow.quorum)."""
        return getattr(self, QUORUM_FIELDS[Side(side)])

    @property
    def is_open(self) -> bool:
        return self.state != CycleState.CLOSED


class Tier(models.Model):
    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="tiers")
    number = models.PositiveSmallIntegerField(choices=[(n, f"Tier {n}") for n in TIERS])
    capacity = models.PositiveIntegerField(help_text="Most accounts this tier may hold.")
    required_roles = models.JSONField(
        default=list,
        blank=True,
        help_text="Buying roles each account of this tier should have a contact in.",
    )

    class Meta:
        ordering = ["cycle", "number"]
        constraints = [
            models.UniqueConstraint(fields=["cycle", "number"], name="tier_unique_per_cycle"),
            models.CheckConstraint(
                condition=Q(number__gte=1) & Q(number__lte=3), name="tier_number_1_to_3"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cycle} · Tier {self.number}"

    def required_role_labels(self) -> list[str]:
        return [BuyingRole(role).label for role in self.required_roles if role in BuyingRole]


class NominationKind(models.TextChoices):
    ADD = "add", "Add to the list"
    CHANGE_TIER = "change_tier", "Change tier"
    REMOVE = "remove", "Remove from the list"


class State(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


OPEN_STATES = (State.DRAFT, State.IN_REVIEW, State.CHANGES_REQUESTED)
# "The open nomination" of an account: submitted and not yet decided. A draft is the proposer's
# own until it is submitted, so it blocks nobody; the first one submitted wins.
SUBMITTED_OPEN_STATES = (State.IN_REVIEW, State.CHANGES_REQUESTED)


class Nomination(ConcurrentTransitionMixin, models.Model):
    """A proposal to change a cycle's list. The transition graph is declared here, once;
    transitions are called only from workflow.services, inside atomic(), which also writes
    the event."""

    cycle = models.ForeignKey(Cycle, on_delete=models.PROTECT, related_name="nominations")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="nominations")
    kind = models.CharField(max_length=12, choices=NominationKind.choices)
    tier = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        choices=[(n, f"Tier {n}") for n in TIERS],
        help_text="The tier proposed (none for a removal).",
    )
    rationale = models.TextField()
    evidence_links = models.JSONField(default=list, blank=True)
    proposer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="proposals"
    )
    proposer_side = models.CharField(max_length=10, choices=Side.choices)
    fit_score_at_proposal = models.PositiveSmallIntegerField(null=True, blank=True)
    round = models.PositiveIntegerField(default=1)
    state = FSMField(default=State.DRAFT, choices=State.choices, protected=True)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    waiting_since = models.DateTimeField(
        null=True, blank=True, help_text="Start of the current wait for a decision."
    )
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["cycle", "account"],
                condition=Q(state__in=[s.value for s in SUBMITTED_OPEN_STATES]),
                name="nomination_one_submitted_open_per_cycle_account",
                violation_error_message="This account has an open nomination in this cycle.",
            ),
            models.CheckConstraint(
                condition=(Q(kind=NominationKind.REMOVE) & Q(tier__isnull=True))
                | (~Q(kind=NominationKind.REMOVE) & Q(tier__gte=1) & Q(tier__lte=3)),
                name="nomination_tier_matches_kind",
            ),
            models.CheckConstraint(condition=Q(round__gte=1), name="nomination_round_positive"),
        ]
        indexes = [
            models.Index(fields=["cycle", "state"]),
            models.Index(fields=["state", "waiting_since"]),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()}: {self.account.name}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    # The transition graph. No side effects here: services do the writing.
    @transition(field=state, source=State.DRAFT, target=State.IN_REVIEW)
    def submit(self) -> None:
        pass

    @transition(field=state, source=State.IN_REVIEW, target=State.APPROVED)
    def approve(self) -> None:
        pass

    @transition(field=state, source=State.IN_REVIEW, target=State.REJECTED)
    def reject(self) -> None:
        pass

    @transition(field=state, source=State.IN_REVIEW, target=State.CHANGES_REQUESTED)
    def request_changes(self) -> None:
        pass

    @transition(field=state, source=State.CHANGES_REQUESTED, target=State.IN_REVIEW)
    def resubmit(self) -> None:
        self.round += 1

    @transition(field=state, source=[s.value for s in OPEN_STATES], target=State.WITHDRAWN)
    def withdraw(self) -> None:
        pass


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"
    REQUEST_CHANGES = "request_changes", "Request changes"


class SignOff(models.Model):
    """One person's decision on one round. The side is copied from the person at sign-off."""

    nomination = models.ForeignKey(Nomination, on_delete=models.PROTECT, related_name="sign_offs")
    round = models.PositiveIntegerField()
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sign_offs"
    )
    side = models.CharField(max_length=10, choices=Side.choices)
    decision = models.CharField(max_length=20, choices=Decision.choices)
    note = models.TextField(blank=True)
    by_submission = models.BooleanField(
        default=False, help_text="The proposer's submission, counted as their side's approval."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["nomination", "round", "person"], name="sign_off_one_per_person_per_round"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} ({self.side}) {self.decision} round {self.round}"


class Comment(models.Model):
    nomination = models.ForeignKey(Nomination, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    author_side = models.CharField(max_length=10, choices=Side.choices, blank=True)
    body = models.TextField()
    mentions = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Comment by {self.author} on #{self.nomination_id}"


class EventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Nomination events are append-only: they are never updated.")

    def delete(self):
        raise TypeError("Nomination events are append-only: they are never deleted.")


class EventAction(models.TextChoices):
    CREATED = "created", "Created as draft"
    SUBMITTED = "submitted", "Submitted"
    APPROVED_BY = "approve", "Approved (sign-off)"
    REJECTED_BY = "reject", "Rejected"
    CHANGES_REQUESTED_BY = "request_changes", "Requested changes"
    RESUBMITTED = "resubmitted", "Resubmitted"
    AGREED = "agreed", "Agreed by both sides"
    WITHDRAWN = "withdrawn", "Withdrawn"
    EDITED = "edited", "Edited"
    REMINDED = "reminded", "Reminder sent"
    ESCALATED = "escalated", "Escalated to revenue operations"


class NominationEvent(models.Model):
    """The append-only audit trail: who, when, from, to, action, note."""

    nomination = models.ForeignKey(Nomination, on_delete=models.PROTECT, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_side = models.CharField(max_length=10, choices=Side.choices, blank=True)
    action = models.CharField(max_length=20, choices=EventAction.choices)
    from_state = models.CharField(max_length=20, choices=State.choices, blank=True)
    to_state = models.CharField(max_length=20, choices=State.choices)
    round = models.PositiveIntegerField()
    note = models.TextField(blank=True)
    changes = models.JSONField(
        default=dict,
        blank=True,
        help_text="What an edit or a resubmission changed: {tier: [old, new], rationale: true, "
        "evidence_links: {added: n, removed: n}}.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"#{self.nomination_id} {self.action} {self.from_state}→{self.to_state}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise TypeError("Nomination events are append-only: they are never updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Nomination events are append-only: they are never deleted.")

    def change_lines(self) -> list[str]:
        """`changes` in words, for the timeline: ["Tier 2 → 3", "rationale edited", …]."""
        lines = []
        if "tier" in self.changes:
            old, new = self.changes["tier"]
            lines.append(f"Tier {old} → {new}")
        if self.changes.get("rationale"):
            lines.append("rationale edited")
        links = self.changes.get("evidence_links")
        if links:
            counts = [f"{links[k]} {k}" for k in ("added", "removed") if links.get(k)]
            lines.append(f"evidence links: {', '.join(counts)}")
        return lines


class TargetAccount(models.Model):
    """An account on a cycle's agreed list. Written only by an approved nomination."""

    cycle = models.ForeignKey(Cycle, on_delete=models.PROTECT, related_name="targets")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="targets")
    tier = models.PositiveSmallIntegerField(choices=[(n, f"Tier {n}") for n in TIERS])
    sales_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    marketing_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    nomination = models.ForeignKey(
        Nomination,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The nomination that put the account on the list.",
    )
    last_nomination = models.ForeignKey(
        Nomination,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The latest nomination that changed this entry.",
    )
    added_at = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["tier", "account__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["cycle", "account"],
                condition=Q(removed_at__isnull=True),
                name="target_one_active_per_cycle_account",
                violation_error_message="This account is already on the cycle's list.",
            ),
            models.CheckConstraint(
                condition=Q(tier__gte=1) & Q(tier__lte=3), name="target_tier_1_to_3"
            ),
        ]
        indexes = [models.Index(fields=["cycle", "tier", "removed_at"])]

    def __str__(self) -> str:
        return f"{self.account.name} · Tier {self.tier} · {self.cycle}"

    @property
    def is_active(self) -> bool:
        return self.removed_at is None


class ListVersion(models.Model):
    """An immutable, numbered snapshot of a cycle's list, published by ops.

    `entries` is a list of {"account_id", "account_name", "domain", "tier", "nomination_id"},
    sorted by account id.
    """

    cycle = models.ForeignKey(Cycle, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    entries = models.JSONField(default=list)
    note = models.TextField(blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    published_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["cycle", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["cycle", "number"], name="list_version_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.cycle} v{self.number}"


class FailedNotification(models.Model):
    """An e-mail that could not be sent, kept for revenue operations to see and retry.

    Written when a notification task fails for good (after its retries for passing SMTP errors,
    or at once for an error that will not pass, such as a refused header), or when the task
    could not even be queued (the broker was down). One row per task run: retries of one run
    share its task id.
    """

    task_id = models.CharField(max_length=255, unique=True)
    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    description = models.CharField(max_length=300)
    error = models.TextField()
    failed_at = models.DateTimeField(default=timezone.now, db_index=True)
    retried_at = models.DateTimeField(null=True, blank=True)
    retried_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-failed_at"]

    def __str__(self) -> str:
        return self.description


class CycleAction(models.TextChoices):
    ACTIVATED = "activated", "Opened (active)"
    CLOSED = "closed", "Closed"
    REOPENED = "reopened", "Reopened"
    SETTINGS_CHANGED = "settings_changed", "Settings changed"


class CycleEvent(AppendOnlyModel):
    """The append-only history of a cycle: its state changes (with the reason for a reopening)
    and who changed which of its settings."""

    cycle = models.ForeignKey(Cycle, on_delete=models.PROTECT, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=20, choices=CycleAction.choices)
    from_state = models.CharField(max_length=10, choices=CycleState.choices, blank=True)
    to_state = models.CharField(max_length=10, choices=CycleState.choices)
    note = models.TextField(blank=True)
    changes = models.JSONField(
        default=list,
        blank=True,
        help_text='What a settings change changed: [{"field", "tier", "old", "new"}].',
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.cycle} {self.action} {self.from_state}→{self.to_state}"
