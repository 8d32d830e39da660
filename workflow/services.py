"""Every write of the agreement workflow. The web form, the REST API and the admin all call
these; none of them changes state itself.

Concurrency: each state change locks the nomination row (`select_for_update`) inside
`atomic()` before reading anything it decides on, and the approval additionally locks the
cycle row, so two approvers at the same instant are serialised: neither sign-off is lost and
the list is changed once; two approvals racing for the last seat of a tier are serialised on
the cycle row, so the second sees the tier full. Nomination also carries
ConcurrentTransitionMixin, which refuses to save a state that changed underneath us.
Notifications leave only after commit.
"""

import logging
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts_app.models import Account, BuyingRole
from core import hooks
from core.errors import Conflict, Invalid, NotAllowed
from core.roles import (
    OPS_GROUP,
    Side,
    is_approver,
    is_member,
    require_approver,
    require_ops,
    require_side,
    side_of,
)
from core.text import MAX_LINK, MAX_TEXT, bounded, is_web_address, single_line
from workflow import quorum
from workflow.models import (
    OPEN_STATES,
    Comment,
    Cycle,
    CycleAction,
    CycleEvent,
    CycleState,
    Decision,
    EventAction,
    FailedNotification,
    ListVersion,
    Nomination,
    NominationEvent,
    NominationKind,
    SignOff,
    State,
    TargetAccount,
    Tier,
)
from workflow.selectors import open_nomination_for, seats_taken

logger = logging.getLogger(__name__)

User = get_user_model()

MAX_LINKS = 10


def _event(
    nomination: Nomination,
    *,
    actor,
    action: str,
    from_state: str,
    note: str = "",
    changes: dict | None = None,
):
    return NominationEvent.objects.create(
        nomination=nomination,
        actor=actor,
        actor_side=(side_of(actor) or "") if actor is not None else "",
        action=action,
        from_state=from_state,
        to_state=nomination.state,
        round=nomination.round,
        note=note,
        changes=changes or {},
    )


def _after_commit(task, *args) -> None:
    """Queue a Celery task once the transaction has committed (tasks receive ids)."""
    # robust: a broker that is down (Redis stopped) is logged; the committed change stands.
    transaction.on_commit(lambda: _queue(task, *args), robust=True)


def _queue(task, *args) -> None:
    from kombu.exceptions import OperationalError

    try:
        task.delay(*args)
    except OperationalError as error:
        # The broker cannot be reached: keep the e-mail for ops instead of losing it.
        notification_failure_record(
            task_id=f"unqueued-{uuid.uuid4()}",
            task_name=task.name,
            args=list(args),
            description=f"{getattr(task, 'describes', task.name)} {', '.join(map(str, args))}",
            error=f"Could not be queued (the task broker is unreachable): {error}",
        )
        raise


def notification_failure_record(
    *, task_id: str, task_name: str, args: list, description: str, error: str
) -> FailedNotification:
    """Keep an e-mail that could not be sent, for ops to see and retry. Retries of one task
    run share its id, so a run is recorded once whichever attempt reports it."""
    logger.error("E-mail not sent: %s (%s, task %s): %s", description, task_name, task_id, error)
    failed, _ = FailedNotification.objects.update_or_create(
        task_id=task_id,
        defaults={
            "task_name": task_name,
            "args": args,
            "description": description[:300],
            "error": error[:10_000],
        },
    )
    return failed


def notification_retry(*, failed: FailedNotification, by) -> bool:
    """Queue a failed e-mail again. Returns False if it was already retried. Should it fail
    again it is kept again, as a new row."""
    from celery import current_app

    require_ops(by, "retry e-mails")
    with transaction.atomic():
        claimed = FailedNotification.objects.filter(pk=failed.pk, retried_at__isnull=True).update(
            retried_at=timezone.now(), retried_by=by
        )
    if not claimed:
        return False
    task = current_app.tasks.get(failed.task_name)
    if task is None:
        raise Conflict(f"This version of Accord has no task {failed.task_name} to send it.")
    try:
        _queue(task, *failed.args)
    except Exception as error:
        # Run in-process (no broker) and failed again: the task has kept the new failure.
        raise Conflict(f"It failed again and is listed again: {error}") from error
    return True


def _lock(nomination: Nomination) -> Nomination:
    # of=("self",): lock the nomination only. Without it PostgreSQL would also lock the joined
    # cycle and account rows, serialising every action of a whole cycle. no_key: the key never
    # changes, so comments and events may still be inserted against it meanwhile.
    return (
        Nomination.objects.select_for_update(of=("self",), no_key=True)
        .select_related("cycle", "account")
        .get(pk=nomination.pk)
    )


def _require_proposer(nomination: Nomination, by, action: str) -> None:
    if nomination.proposer_id != by.pk:
        raise NotAllowed(f"Only the proposer can {action} this nomination.")


def _require_open_cycle(cycle: Cycle) -> None:
    # Read from the database: the caller's copy may predate a close.
    state = Cycle.objects.filter(pk=cycle.pk).values_list("state", flat=True).first()
    if state == CycleState.CLOSED:
        raise Conflict(f"{cycle.name} is closed; its list can no longer change.")


def _clean_links(links: Iterable[str] | None) -> list[str]:
    cleaned = [
        bounded(link, field="evidence_links", limit=MAX_LINK, what="An evidence link")
        for link in (links or [])
        if link and link.strip()
    ]
    if len(cleaned) > MAX_LINKS:
        raise Invalid(f"Give at most {MAX_LINKS} evidence links.", field="evidence_links")
    for link in cleaned:
        if not is_web_address(link):
            raise Invalid(
                f"“{link}” is not a web address (http:// or https://).", field="evidence_links"
            )
    return cleaned


def _clean_tier(kind: str, tier) -> int | None:
    if kind == NominationKind.REMOVE:
        return None
    if tier in (None, ""):
        raise Invalid("Choose a tier (1, 2 or 3).", field="tier")
    try:
        tier = int(tier)
    except (TypeError, ValueError):
        raise Invalid("The tier must be 1, 2 or 3.", field="tier") from None
    if tier not in (1, 2, 3):
        raise Invalid("The tier must be 1, 2 or 3.", field="tier")
    return tier


def active_target(cycle: Cycle, account: Account) -> TargetAccount | None:
    return TargetAccount.objects.filter(
        cycle=cycle, account=account, removed_at__isnull=True
    ).first()


def _check_against_list(*, cycle: Cycle, account: Account, kind: str, tier: int | None) -> None:
    target = active_target(cycle, account)
    if kind == NominationKind.ADD and target is not None:
        raise Conflict(
            f"{account.name} is already on the {cycle.name} list (Tier {target.tier}). "
            "Propose a tier change or a removal instead.",
            field="kind",
        )
    if kind in (NominationKind.CHANGE_TIER, NominationKind.REMOVE) and target is None:
        raise Conflict(
            f"{account.name} is not on the {cycle.name} list, so it cannot be "
            f"{'moved' if kind == NominationKind.CHANGE_TIER else 'removed'}.",
            field="kind",
        )
    if kind == NominationKind.CHANGE_TIER and target.tier == tier:
        raise Invalid(f"{account.name} is already in Tier {tier}.", field="tier")


def nomination_create(
    *,
    cycle: Cycle,
    account: Account,
    kind: str,
    tier=None,
    rationale: str,
    evidence_links: Iterable[str] | None = None,
    by,
    submit: bool = True,
) -> Nomination:
    """Propose a change to a cycle's list.

    1. The proposer must be on a side; their side is recorded from their groups.
    2. The cycle must not be closed; the account must not already have a submitted, open
       nomination (another person's draft does not count: the first submitted wins);
       an add needs the account off the list, a change or removal needs it on.
    3. The nomination is saved as a draft (event `created`) and, unless `submit=False`,
       submitted at once (see `nomination_submit`).
    """
    side = require_side(by, "propose accounts")
    if kind not in NominationKind.values:
        raise Invalid("Choose what to propose: add, change tier or remove.", field="kind")
    tier = _clean_tier(kind, tier)
    rationale = bounded(rationale, field="rationale", what="The rationale")
    if submit:
        _require_rationale(rationale)  # a draft may lack one until it is submitted
    links = _clean_links(evidence_links)
    _require_open_cycle(cycle)

    with transaction.atomic():
        _require_no_open_nomination(cycle, account)
        _check_against_list(cycle=cycle, account=account, kind=kind, tier=tier)
        nomination = Nomination(
            cycle=cycle,
            account=account,
            kind=kind,
            tier=tier,
            rationale=rationale,
            evidence_links=links,
            proposer=by,
            proposer_side=side,
            fit_score_at_proposal=account.fit_score,
        )
        nomination.save()
        _event(nomination, actor=by, action=EventAction.CREATED, from_state="")
        if submit:
            _submit(nomination, by=by)
    return nomination


def _require_no_open_nomination(cycle: Cycle, account: Account) -> None:
    """One submitted, undecided nomination per account and cycle (drafts do not count)."""
    existing = open_nomination_for(cycle, account)
    if existing is not None:
        raise Conflict(
            f"{account.name} already has an open nomination in {cycle.name} "
            f"(#{existing.pk}, {existing.get_state_display().lower()}). "
            "Join that discussion instead.",
            field="account",
        )


def _require_rationale(rationale: str) -> None:
    if not rationale:
        raise Invalid(
            "Say why: the rationale is what the other side will read first.", field="rationale"
        )


def _submit(nomination: Nomination, *, by) -> None:
    _require_rationale(nomination.rationale)
    now = timezone.now()
    from_state = nomination.state
    _require_no_open_nomination(nomination.cycle, nomination.account)
    nomination.submit()
    nomination.submitted_at = nomination.submitted_at or now
    nomination.waiting_since = now
    try:
        with transaction.atomic():
            nomination.save()
    except IntegrityError:
        # Another one for the same account was submitted a moment ago (the partial unique index).
        raise Conflict(
            f"{nomination.account.name} already has an open nomination in "
            f"{nomination.cycle.name}. Join that discussion instead.",
            field="account",
        ) from None
    _event(nomination, actor=by, action=EventAction.SUBMITTED, from_state=from_state)
    _count_proposer(nomination)
    from workflow import tasks

    _after_commit(tasks.notify_nomination_waiting, nomination.pk)


def _count_proposer(nomination: Nomination) -> None:
    """Where the cycle says so, the proposer's submission is their side's first approval.

    Only an approver's submission counts: approving for a side is the sign-off permission, and
    a proposal must not let someone without it stand in for their side's approvers. The side
    is the one recorded on the nomination, and only while the proposer is still on it, so the
    proposer never counts for the other side.
    """
    proposer = nomination.proposer
    if (
        nomination.cycle.proposer_counts
        and side_of(proposer) == nomination.proposer_side
        and is_approver(proposer)
    ):
        SignOff.objects.create(
            nomination=nomination,
            round=nomination.round,
            person=nomination.proposer,
            side=nomination.proposer_side,
            decision=Decision.APPROVE,
            by_submission=True,
            note="Proposed it.",
        )


def nomination_submit(*, nomination: Nomination, by) -> Nomination:
    """Send a draft to review, unless another nomination of its account was submitted first."""
    require_side(by, "submit nominations")
    with transaction.atomic():
        nomination = _lock(nomination)
        _require_proposer(nomination, by, "submit")
        if nomination.state != State.DRAFT:
            raise Conflict(
                f"This nomination is {nomination.get_state_display().lower()}, not a draft."
            )
        _require_open_cycle(nomination.cycle)
        _check_against_list(
            cycle=nomination.cycle,
            account=nomination.account,
            kind=nomination.kind,
            tier=nomination.tier,
        )
        _submit(nomination, by=by)
    return nomination


def nomination_update(
    *,
    nomination: Nomination,
    by,
    tier=None,
    rationale: str | None = None,
    evidence_links: Iterable[str] | None = None,
) -> Nomination:
    """Edit a draft (the proposer only). Edits in review go through request changes."""
    with transaction.atomic():
        nomination = _lock(nomination)
        _require_proposer(nomination, by, "edit")
        _require_open_cycle(nomination.cycle)
        if nomination.state != State.DRAFT:
            raise Conflict(
                "Only drafts can be edited; resubmit to change a nomination that "
                "the other side asked changes to."
            )
        changes = _apply_edits(
            nomination, tier=tier, rationale=rationale, evidence_links=evidence_links
        )
        nomination.save()
        _event(
            nomination,
            actor=by,
            action=EventAction.EDITED,
            from_state=nomination.state,
            changes=changes,
        )
    return nomination


def _apply_edits(nomination: Nomination, *, tier, rationale, evidence_links) -> dict:
    """Apply the edits given; return what they changed, for the event (NominationEvent.changes)."""
    changes: dict = {}
    if tier is not None and nomination.kind != NominationKind.REMOVE:
        tier = _clean_tier(nomination.kind, tier)
        if tier != nomination.tier:
            changes["tier"] = [nomination.tier, tier]
        nomination.tier = tier
    if rationale is not None:
        rationale = bounded(rationale, field="rationale", what="The rationale")
        if not rationale and nomination.state != State.DRAFT:
            raise Invalid("The rationale cannot be empty.", field="rationale")
        if rationale != nomination.rationale:
            changes["rationale"] = True
        nomination.rationale = rationale
    if evidence_links is not None:
        links = _clean_links(evidence_links)
        added = len([link for link in links if link not in nomination.evidence_links])
        removed = len([link for link in nomination.evidence_links if link not in links])
        if added or removed:
            changes["evidence_links"] = {"added": added, "removed": removed}
        nomination.evidence_links = links
    return changes


@dataclass(frozen=True)
class SideStatus:
    side: Side
    quorum: int
    approvals: list  # SignOff rows that count, in order
    decisions: list  # every sign-off of this side in the current round

    @property
    def reached(self) -> bool:
        return quorum.reached(approvals=len(self.approvals), quorum=self.quorum)


def side_statuses(nomination: Nomination, sign_offs: Iterable[SignOff] | None = None):
    """Each side's sign-off status in the current round: who approved, whether quorum is met
    (workflow.quorum).

    `sign_offs` may be passed prefetched; otherwise they are read.
    """
    if sign_offs is None:
        sign_offs = nomination.sign_offs.filter(round=nomination.round).select_related("person")
    current = [s for s in sign_offs if s.round == nomination.round]
    statuses = {}
    for side in Side:
        statuses[side] = SideStatus(
            side=side,
            quorum=nomination.cycle.quorum(side),
            approvals=quorum.approvals(current, side=side, round=nomination.round),
            decisions=[s for s in current if s.side == side],
        )
    return statuses


def _both_sides_agree(nomination: Nomination) -> bool:
    return all(status.reached for status in side_statuses(nomination).values())


def nomination_sign_off(*, nomination: Nomination, by, decision: str, note: str = "") -> Nomination:
    """Record an approver's decision on the current round.

    1. The signer must be an approver on a side; the side comes from their groups.
    2. The nomination must be in review in an open cycle, the signer not its proposer, and
       this their first decision in the round.
    3. Reject (a veto from either side) and request changes move the nomination at once and
       need a note. An approve that brings both sides to quorum approves it and applies it to
       the list, refusing the whole sign-off if the tier is full.
    """
    side = require_approver(by, "sign off nominations")
    if decision not in Decision.values:
        raise Invalid("The decision must be approve, reject or request_changes.", field="decision")
    note = bounded(note, field="note", what="The note")
    if decision == Decision.REJECT and not note:
        raise Invalid("Give a reason for rejecting: the proposer needs it.", field="note")
    if decision == Decision.REQUEST_CHANGES and not note:
        raise Invalid("Say what should change.", field="note")

    with transaction.atomic():
        nomination = _lock(nomination)
        if nomination.state != State.IN_REVIEW:
            raise Conflict(
                f"This nomination is {nomination.get_state_display().lower()}; decisions can "
                "only be made while it is in review."
            )
        _require_open_cycle(nomination.cycle)
        if nomination.proposer_id == by.pk:
            raise NotAllowed(
                "You proposed this nomination, so you cannot decide on it. "
                "You can withdraw it instead."
            )
        earlier = nomination.sign_offs.filter(round=nomination.round, person=by).first()
        if earlier is not None:
            raise NotAllowed(
                f"You already decided on round {nomination.round} "
                f"({earlier.get_decision_display().lower()})."
            )
        try:
            with transaction.atomic():
                sign_off = SignOff.objects.create(
                    nomination=nomination,
                    round=nomination.round,
                    person=by,
                    side=side,
                    decision=decision,
                    note=note,
                )
        except IntegrityError:
            raise NotAllowed(f"You already decided on round {nomination.round}.") from None

        from_state = nomination.state
        if decision == Decision.REJECT:
            nomination.reject()
            nomination.decided_at = timezone.now()
        elif decision == Decision.REQUEST_CHANGES:
            nomination.request_changes()
        if nomination.state != from_state:
            nomination.waiting_since = None
            nomination.save()
        _event(nomination, actor=by, action=decision, from_state=from_state, note=note)

        if decision == Decision.APPROVE:
            # Read the quorums again: one lowered by cycle_update while we waited for the
            # nomination's lock (it holds them first) must count here.
            nomination.cycle.refresh_from_db(fields=["marketing_quorum", "sales_quorum"])
        if decision == Decision.APPROVE and _both_sides_agree(nomination):
            _agree(nomination, by=by, note="Both sides reached their quorum.")

        from workflow import tasks

        # An approval that leaves it in review only shrinks the set of people it waits for;
        # they were told when it was submitted, so nobody is told again here.
        _after_commit(tasks.notify_decision, sign_off.pk)
    return nomination


def _agree(nomination: Nomination, *, by, note: str) -> None:
    """Approve a nomination in review that both sides agree on: change the list (refused with
    a Conflict if the tier is full), tell the CRM, write the `agreed` event. Called with the
    nomination locked, by a sign-off and by a quorum lowered in cycle_update."""
    target = _apply_to_list(nomination)
    # The CRM hears of it in this transaction (crm's outbox; see core.hooks).
    hooks.target_changed.send(sender=Nomination, target=target, nomination=nomination)
    from_state = nomination.state
    nomination.approve()
    nomination.decided_at = timezone.now()
    nomination.waiting_since = None
    nomination.save()
    _event(nomination, actor=by, action=EventAction.AGREED, from_state=from_state, note=note)


def _capacity_check(cycle: Cycle, tier: int, account: Account) -> None:
    tier_row = Tier.objects.filter(cycle=cycle, number=tier).first()
    capacity = tier_row.capacity if tier_row else 0
    used = seats_taken([cycle.pk]).get((cycle.pk, tier), 0)
    if used >= capacity:
        raise Conflict(
            f"Tier {tier} of {cycle.name} is full ({used} of {capacity} accounts), so "
            f"{account.name} cannot join it. Remove an account from Tier {tier}, propose "
            "another tier, or ask revenue operations to raise the capacity.",
            field="tier",
        )


def _apply_to_list(nomination: Nomination) -> TargetAccount:
    """Change the target list as an approved nomination says. Called with the nomination
    locked; locks the cycle too so capacity checks of concurrent approvals are serialised."""
    cycle = Cycle.objects.select_for_update(no_key=True).get(pk=nomination.cycle_id)
    # Under the cycle's lock: a close that committed first wins over this approval.
    _require_open_cycle(cycle)
    account = nomination.account
    now = timezone.now()
    target = (
        TargetAccount.objects.select_for_update()
        .filter(cycle=cycle, account=account, removed_at__isnull=True)
        .first()
    )
    if nomination.kind == NominationKind.ADD:
        if target is not None:
            raise Conflict(f"{account.name} is already on the {cycle.name} list.")
        _capacity_check(cycle, nomination.tier, account)
        try:
            with transaction.atomic():
                target = TargetAccount.objects.create(
                    cycle=cycle,
                    account=account,
                    tier=nomination.tier,
                    sales_owner_id=account.sales_owner_id,
                    marketing_owner_id=account.marketing_owner_id,
                    nomination=nomination,
                    last_nomination=nomination,
                    added_at=now,
                    updated_at=now,
                )
        except IntegrityError:
            raise Conflict(f"{account.name} is already on the {cycle.name} list.") from None
        return target
    if target is None:
        raise Conflict(f"{account.name} is no longer on the {cycle.name} list.")
    if nomination.kind == NominationKind.CHANGE_TIER:
        if target.tier != nomination.tier:
            _capacity_check(cycle, nomination.tier, account)
        target.tier = nomination.tier
    else:
        target.removed_at = now
    target.last_nomination = nomination
    target.updated_at = now
    target.save()
    return target


def nomination_resubmit(
    *,
    nomination: Nomination,
    by,
    tier=None,
    rationale: str | None = None,
    evidence_links: Iterable[str] | None = None,
    note: str = "",
) -> Nomination:
    """The proposer answers a request for changes: edits, then a new round begins. Earlier
    sign-offs stay in the history but no longer count. The `resubmitted` event records what
    the edits changed (tier, rationale, evidence links) besides the proposer's note."""
    require_side(by, "resubmit nominations")
    with transaction.atomic():
        nomination = _lock(nomination)
        _require_proposer(nomination, by, "resubmit")
        if nomination.state != State.CHANGES_REQUESTED:
            raise Conflict(
                f"This nomination is {nomination.get_state_display().lower()}; only one with "
                "changes requested can be resubmitted."
            )
        _require_open_cycle(nomination.cycle)
        changes = _apply_edits(
            nomination, tier=tier, rationale=rationale, evidence_links=evidence_links
        )
        _check_against_list(
            cycle=nomination.cycle,
            account=nomination.account,
            kind=nomination.kind,
            tier=nomination.tier,
        )
        from_state = nomination.state
        nomination.resubmit()
        now = timezone.now()
        nomination.waiting_since = now
        nomination.reminded_at = None
        nomination.escalated_at = None
        nomination.save()
        _event(
            nomination,
            actor=by,
            action=EventAction.RESUBMITTED,
            from_state=from_state,
            note=bounded(note, field="note", what="The note"),
            changes=changes,
        )
        _count_proposer(nomination)
        from workflow import tasks

        _after_commit(tasks.notify_nomination_waiting, nomination.pk)
    return nomination


def nomination_withdraw(*, nomination: Nomination, by, note: str = "") -> Nomination:
    """The proposer takes back a nomination that is still open (draft, in review or with
    changes requested)."""
    with transaction.atomic():
        nomination = _lock(nomination)
        _require_proposer(nomination, by, "withdraw")
        if nomination.state not in OPEN_STATES:
            raise Conflict(f"This nomination is already {nomination.get_state_display().lower()}.")
        _require_open_cycle(nomination.cycle)
        from_state = nomination.state
        nomination.withdraw()
        nomination.waiting_since = None
        nomination.decided_at = timezone.now()
        nomination.save()
        _event(
            nomination,
            actor=by,
            action=EventAction.WITHDRAWN,
            from_state=from_state,
            note=bounded(note, field="note", what="The note"),
        )
    return nomination


MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_.+-]*[A-Za-z0-9_+-])")


def _mentioned_names(body: str) -> set[str]:
    return {m.group(1) for m in MENTION.finditer(body)}


def mentioned_users(body: str):
    names = _mentioned_names(body)
    if not names:
        return User.objects.none()
    return User.objects.filter(username__in=names, is_active=True)


def mentions_of_nobody(body: str) -> list[str]:
    """The @names in `body` that are nobody's (no active person has that username), sorted:
    they notify no one, and the writer should be told."""
    names = _mentioned_names(body)
    found = set(mentioned_users(body).values_list("username", flat=True)) if names else set()
    return sorted(names - found)


def comment_create(*, nomination: Nomination, by, body: str) -> Comment:
    """Add to the discussion. `@username` mentions notify the person named."""
    if not is_member(by):
        raise NotAllowed("Only people on a side or in revenue operations can comment.")
    body = (body or "").strip()
    if not body:
        raise Invalid("Write something first.", field="body")
    if len(body) > MAX_TEXT:
        raise Invalid(f"Keep comments under {MAX_TEXT:,} characters.", field="body")
    with transaction.atomic():
        comment = Comment.objects.create(
            nomination=nomination, author=by, author_side=side_of(by) or "", body=body
        )
        mentioned = [user for user in mentioned_users(body) if user.pk != by.pk]
        comment.mentions.set(mentioned)
        if mentioned:
            from workflow import tasks

            _after_commit(tasks.notify_mentions, comment.pk)
    return comment


def nomination_remind(*, nomination: Nomination, escalate: bool, now=None) -> bool:
    """Record that a nomination has waited too long and tell people, once each per wait.

    A reminder (after the cycle's reminder delay) goes to the approvers it waits for; an
    escalation (after the escalation delay) goes to revenue operations. Under the row lock
    this re-checks that it is still in review, has waited long enough and was not already
    reminded (escalated) in this wait, so two beat runs at once send one e-mail. Writes a
    `reminded` / `escalated` event; the e-mail leaves after commit. Returns whether it acted.
    """
    from workflow import tasks

    now = now or timezone.now()
    with transaction.atomic():
        nomination = _lock(nomination)
        if nomination.state != State.IN_REVIEW or nomination.waiting_since is None:
            return False
        cycle = nomination.cycle
        if not cycle.is_open:
            return False  # a closed cycle's nominations are read-only: nobody is chased
        hours = cycle.escalate_after_hours if escalate else cycle.reminder_after_hours
        if now - nomination.waiting_since < timedelta(hours=hours):
            return False
        if escalate:
            if nomination.escalated_at is not None:
                return False
            nomination.escalated_at = now
            action, task = EventAction.ESCALATED, tasks.notify_escalation
            note = f"Waited more than {hours} hours: escalated to revenue operations."
        else:
            if nomination.reminded_at is not None:
                return False
            nomination.reminded_at = now
            action, task = EventAction.REMINDED, tasks.notify_reminder
            note = f"Waited more than {hours} hours: reminded the approvers it waits for."
        nomination.save()
        _event(nomination, actor=None, action=action, from_state=nomination.state, note=note)
        _after_commit(task, nomination.pk)
    return True


def list_version_publish(*, cycle: Cycle, by, note: str = "") -> ListVersion:
    """Store a numbered, immutable snapshot of the cycle's current list (ops only)."""
    require_ops(by, "publish list versions")
    with transaction.atomic():
        cycle = Cycle.objects.select_for_update(no_key=True).get(pk=cycle.pk)
        number = (cycle.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        entries = [
            {
                "account_id": t.account_id,
                "account_name": t.account.name,
                "domain": t.account.domain,
                "tier": t.tier,
                "nomination_id": t.last_nomination_id,
            }
            for t in TargetAccount.objects.filter(cycle=cycle, removed_at__isnull=True)
            .select_related("account")
            .order_by("account_id")
        ]
        return ListVersion.objects.create(
            cycle=cycle,
            number=number,
            entries=entries,
            note=bounded(note, field="note", what="The note"),
            published_by=by,
        )


def cycle_create(
    *,
    name: str,
    starts_on,
    ends_on,
    by,
    capacities: dict[int, int],
    required_roles: dict[int, list[str]] | None = None,
    **settings_,
) -> Cycle:
    """Open a planning period with its three tiers (ops only)."""
    require_ops(by, "create cycles")
    # The name reaches e-mail subjects and file names: one line.
    name = single_line(name, field="name", what="The cycle's name")
    if not name:
        raise Invalid("Name the cycle, e.g. FY27 H1.", field="name")
    if ends_on <= starts_on:
        raise Invalid("The cycle must end after it starts.", field="ends_on")
    if Cycle.objects.filter(name=name).exists():
        raise Conflict(f"A cycle called {name} already exists.", field="name")
    for tier in (1, 2, 3):
        if tier not in capacities or int(capacities[tier]) < 0:
            raise Invalid(f"Give Tier {tier} a capacity of 0 or more.", field="capacities")
    for side in Side:
        if int(settings_.get(f"{side.value}_quorum", 1)) < 1:
            raise Invalid(
                f"{side.label} must give at least one approval.", field=f"{side.value}_quorum"
            )
    reminder = int(settings_.get("reminder_after_hours", 72))
    if int(settings_.get("escalate_after_hours", 168)) < reminder:
        raise Invalid("Escalate no sooner than the reminder is sent.", field="escalate_after_hours")
    with transaction.atomic():
        cycle = Cycle.objects.create(name=name, starts_on=starts_on, ends_on=ends_on, **settings_)
        Tier.objects.bulk_create(
            Tier(
                cycle=cycle,
                number=n,
                capacity=int(capacities[n]),
                required_roles=list((required_roles or {}).get(n, [])),
            )
            for n in (1, 2, 3)
        )
    return cycle


def cycle_set_state(*, cycle: Cycle, state: str, by, reason: str = "") -> Cycle:
    """Move a cycle along planning → active → closed (ops only).

    1. The cycle is locked: an approval, which locks it too, either commits first or sees the
       new state (a close that commits first wins).
    2. Only the declared transitions are allowed; reopening a closed cycle needs a reason.
    3. An event records who, when, from, to and the reason.
    4. On close, the CRM hears of it in this transaction (core.hooks.cycle_closed): its
       accounts are pushed again, so one on no other open list stops being a target there.
       Its open nominations stay as they are, read-only: decisions, edits and reminders are
       refused on a closed cycle, and they leave every queue.
    """
    require_ops(by, "change a cycle's state")
    if state not in CycleState.values:
        raise Invalid("Unknown cycle state.", field="state")
    reason = bounded(reason, field="reason", what="The reason")
    with transaction.atomic():
        cycle = Cycle.objects.select_for_update(no_key=True).get(pk=cycle.pk)
        from_state = cycle.state
        if state == from_state:
            raise Conflict(f"{cycle.name} is already {cycle.get_state_display().lower()}.")
        move = {
            (CycleState.PLANNING, CycleState.ACTIVE): (cycle.activate, CycleAction.ACTIVATED),
            (CycleState.PLANNING, CycleState.CLOSED): (cycle.close, CycleAction.CLOSED),
            (CycleState.ACTIVE, CycleState.CLOSED): (cycle.close, CycleAction.CLOSED),
            (CycleState.CLOSED, CycleState.ACTIVE): (cycle.reopen, CycleAction.REOPENED),
        }.get((from_state, state))
        if move is None:
            raise Conflict(
                f"{cycle.name} is {cycle.get_state_display().lower()}; it cannot go back to "
                f"{CycleState(state).label.lower()}."
            )
        transition, action = move
        if action == CycleAction.REOPENED and not reason:
            raise Invalid(
                "Say why the closed cycle reopens: the reason is kept in its history.",
                field="reason",
            )
        transition()
        cycle.save(update_fields=["state"])
        CycleEvent.objects.create(
            cycle=cycle, actor=by, action=action, from_state=from_state, to_state=state, note=reason
        )
        if action == CycleAction.CLOSED:
            hooks.cycle_closed.send(sender=Cycle, cycle=cycle)
    return cycle


# Cycle settings ops may change mid-review, with the label their history shows.
CYCLE_SETTINGS = {
    "name": "Name",
    "starts_on": "Starts on",
    "ends_on": "Ends on",
    "marketing_quorum": "Marketing quorum",
    "sales_quorum": "Sales quorum",
    "proposer_counts": "Proposer's submission counts",
    "reminder_after_hours": "Reminder after (hours)",
    "escalate_after_hours": "Escalation after (hours)",
}
TIER_SETTINGS = {"capacity": "capacity", "required_roles": "required roles"}
QUORUMS = ("marketing_quorum", "sales_quorum")


def tier_capacity_check(*, cycle: Cycle, number: int, capacity: int) -> None:
    """A tier's capacity never goes below the accounts already on it. cycle_update checks it
    under the cycle's lock; the admin's tier form asks it too, to show the error by the field."""
    used = seats_taken([cycle.pk]).get((cycle.pk, number), 0)
    if capacity < used:
        raise Conflict(
            f"Tier {number} of {cycle.name} has {used} account{'s' if used != 1 else ''} on the "
            f"list, so its capacity cannot be set below {used} (you asked for {capacity}). "
            f"Agree their removal or a tier change first.",
            field="capacity",
        )


def _clean_cycle_settings(changes: dict) -> dict:
    unknown = sorted(set(changes) - set(CYCLE_SETTINGS))
    if unknown:
        raise Invalid(f"These are not settings of a cycle: {', '.join(unknown)}.", field=unknown[0])
    cleaned = {}
    for name, value in changes.items():
        if name == "name":
            value = single_line(value, field="name", what="The cycle's name")
            if not value:
                raise Invalid("Name the cycle, e.g. FY27 H1.", field="name")
        elif name == "proposer_counts":
            value = bool(value)
        elif name in ("starts_on", "ends_on"):
            if value is None:
                raise Invalid("Give a date.", field=name)
        else:
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise Invalid("Give a whole number.", field=name) from None
            if value < (1 if name in QUORUMS else 0):
                raise Invalid(
                    "A side must give at least one approval."
                    if name in QUORUMS
                    else "Give a number of hours of 0 or more.",
                    field=name,
                )
        cleaned[name] = value
    return cleaned


def _clean_tier_settings(tiers: dict) -> dict[int, dict]:
    cleaned = {}
    for number, values in tiers.items():
        try:
            number = int(number)
        except (TypeError, ValueError):
            raise Invalid("The tier must be 1, 2 or 3.", field="tiers") from None
        if number not in (1, 2, 3):
            raise Invalid("The tier must be 1, 2 or 3.", field="tiers")
        unknown = sorted(set(values) - set(TIER_SETTINGS))
        if unknown:
            raise Invalid(f"These are not settings of a tier: {', '.join(unknown)}.", field="tiers")
        tier = {}
        if "capacity" in values:
            try:
                tier["capacity"] = int(values["capacity"])
            except (TypeError, ValueError):
                raise Invalid("Give a capacity of 0 or more.", field="capacity") from None
            if tier["capacity"] < 0:
                raise Invalid(f"Give Tier {number} a capacity of 0 or more.", field="capacity")
        if "required_roles" in values:
            roles = set(values["required_roles"] or [])
            if roles - set(BuyingRole.values):
                raise Invalid("Choose buying roles from the list.", field="required_roles")
            tier["required_roles"] = [r for r in BuyingRole.values if r in roles]  # one order
        cleaned[number] = tier
    return cleaned


def _shown(value) -> str:
    if isinstance(value, list):
        return ", ".join(value) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def cycle_changes_text(changes: list[dict]) -> str:
    """A settings event's `changes` as one line: "Sales quorum 2 → 1; Tier 1 capacity 50 → 40"."""
    return "; ".join(f"{_label(c)} {_shown(c['old'])} → {_shown(c['new'])}" for c in changes)


def _label(change: dict) -> str:
    if change["tier"] is None:
        return CYCLE_SETTINGS[change["field"]]
    return f"Tier {change['tier']} {TIER_SETTINGS[change['field']]}"


def _jsonable(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def cycle_update(
    *,
    cycle: Cycle,
    by,
    tiers: dict[int, dict] | None = None,
    state: str | None = None,
    reason: str = "",
    **changes,
) -> Cycle:
    """Change a cycle's settings and its tiers' (ops only), mid-review, with history.

    `changes` are fields of CYCLE_SETTINGS; `tiers` maps a tier's number to its new
    `capacity` and/or `required_roles`; `state` (with `reason` when reopening) goes through
    cycle_set_state in the same transaction, before the settings. `reason` is also the note of
    the settings event.

    1. Locks in the workflow's order, nominations before their cycle (see `_lock` and
       `_apply_to_list`): when a quorum is given, the cycle's nominations in review, then the
       cycle. Approvals and capacity changes are thus serialised on the cycle row.
    2. Refuses a capacity below the accounts already in that tier (`tier_capacity_check`), an
       escalation sooner than the reminder, a cycle ending before it starts, a name taken.
    3. Writes one `settings_changed` event naming each field changed, old → new (none if
       nothing changed).
    4. A lowered quorum re-evaluates the nominations in review: each one both sides now agree
       on is approved as the last sign-off would approve it (`_agree`: list, CRM, `agreed`
       event), the longest waiting first. If the list refuses one (its tier is full), the
       whole change is refused, as that sign-off would be: raise the capacity in the same
       change. No nomination is left in review with both sides at quorum. A closed cycle's
       quorums do not change (its nominations are read-only).
    """
    require_ops(by, "change a cycle's settings")
    changes = _clean_cycle_settings(changes)
    tier_changes = _clean_tier_settings(tiers or {})
    reason = bounded(reason, field="reason", what="The reason")
    with transaction.atomic():
        in_review = []
        if any(name in changes for name in QUORUMS):
            in_review = list(
                Nomination.objects.select_for_update(no_key=True)
                .filter(cycle_id=cycle.pk, state=State.IN_REVIEW)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
        cycle = Cycle.objects.select_for_update(no_key=True).get(pk=cycle.pk)
        if state is not None and state != cycle.state:
            cycle = cycle_set_state(cycle=cycle, state=state, by=by, reason=reason)

        if not cycle.is_open and any(
            name in changes and changes[name] != getattr(cycle, name) for name in QUORUMS
        ):
            # Its nominations are read-only: none may be approved by a quorum changed now.
            raise Conflict(f"{cycle.name} is closed: reopen it before changing its quorums.")
        before = {name: getattr(cycle, name) for name in changes}
        for name, value in changes.items():
            setattr(cycle, name, value)
        if cycle.ends_on <= cycle.starts_on:
            raise Invalid("The cycle must end after it starts.", field="ends_on")
        if cycle.escalate_after_hours < cycle.reminder_after_hours:
            raise Invalid(
                "Escalate no sooner than the reminder is sent.", field="escalate_after_hours"
            )
        if (
            "name" in changes
            and Cycle.objects.filter(name=cycle.name).exclude(pk=cycle.pk).exists()
        ):
            raise Conflict(f"A cycle called {cycle.name} already exists.", field="name")
        record = [
            {"field": name, "tier": None, "old": _jsonable(old), "new": _jsonable(changes[name])}
            for name, old in before.items()
            if old != changes[name]
        ]
        if record:
            cycle.save(update_fields=[c["field"] for c in record])

        existing = {t.number: t for t in Tier.objects.filter(cycle=cycle)}
        for number, values in sorted(tier_changes.items()):
            tier = existing.get(number) or Tier(cycle=cycle, number=number, capacity=0)
            changed = []
            if "capacity" in values and values["capacity"] != tier.capacity:
                tier_capacity_check(cycle=cycle, number=number, capacity=values["capacity"])
                changed.append(("capacity", tier.capacity, values["capacity"]))
                tier.capacity = values["capacity"]
            roles = values.get("required_roles")
            if roles is not None and set(roles) != set(tier.required_roles):
                changed.append(("required_roles", list(tier.required_roles), roles))
                tier.required_roles = roles
            if changed:
                tier.save()
                record += [
                    {"field": name, "tier": number, "old": old, "new": new}
                    for name, old, new in changed
                ]
        if not record:
            return cycle

        summary = cycle_changes_text(record)
        lowered = [c["field"] for c in record if c["field"] in QUORUMS and c["new"] < c["old"]]
        agreed = _now_agreed(cycle, in_review) if lowered else []
        # The event first: a nomination it approves is decided after the quorum changed.
        CycleEvent.objects.create(
            cycle=cycle,
            actor=by,
            action=CycleAction.SETTINGS_CHANGED,
            from_state=cycle.state,
            to_state=cycle.state,
            note=" ".join(
                [reason]
                + [f"#{n.pk} ({n.account.name}) approved: both sides reach it now." for n in agreed]
            ).strip(),
            changes=record,
        )
        for nomination in agreed:
            try:
                _agree(nomination, by=by, note=f"Both sides reached their quorum ({summary}).")
            except Conflict as error:
                raise Conflict(
                    f"Lowering the quorum would approve #{nomination.pk} "
                    f"({nomination.account.name}) now, and the list refuses it: {error.message}",
                    field=lowered[0],
                ) from None
    return cycle


def _now_agreed(cycle: Cycle, nomination_ids) -> list[Nomination]:
    """Of the locked nominations in review, those both sides agree on under the cycle's
    quorums, the longest waiting first."""
    nominations = (
        Nomination.objects.filter(pk__in=nomination_ids, state=State.IN_REVIEW)
        .select_related("account")
        .order_by("waiting_since", "pk")
    )
    agreed = []
    for nomination in nominations:
        nomination.cycle = cycle  # the locked row, with the new quorums
        if _both_sides_agree(nomination):
            agreed.append(nomination)
    return agreed


# --- People and roles --------------------------------------------------------------------------
# Used by `manage.py accord_user`, the user admin and the demo data: one rule for who may be what.

ROLE_GROUPS = (Side.MARKETING.value, Side.SALES.value, OPS_GROUP)

# What revenue operations may do in the Django admin, besides viewing every model of these apps.
OPS_VIEW_APPS = ("accounts_app", "workflow", "crm", "coverage")
OPS_EXTRA_PERMISSIONS = (
    "auth.view_user",
    "auth.add_user",  # through the admin's add form only: person_set_role (see workflow.admin)
    "auth.view_group",
    "accounts_app.add_account",
    "accounts_app.change_account",
    "accounts_app.add_contact",
    "accounts_app.change_contact",
    "accounts_app.add_icpversion",
    "accounts_app.change_icpversion",
    "coverage.add_definitionsversion",
    "workflow.add_cycle",
    "workflow.change_cycle",
    "workflow.change_tier",
)


def person_role_check(*, group_names: Iterable[str], approver: bool) -> None:
    """Refuse a combination of groups and approval that Accord cannot work with.

    A person is on one side or in revenue operations, never on both sides (they would count for
    both) and never on a side and in ops at once; only someone on a side can be an approver.
    """
    names = set(group_names)
    sides = names & {Side.MARKETING.value, Side.SALES.value}
    if len(sides) > 1:
        raise Invalid(
            "A person cannot be in both the marketing and the sales group: they would count for "
            "both sides. Keep only the group of their side.",
            field="groups",
        )
    if OPS_GROUP in names and sides:
        raise Invalid(
            "A person is either on a side (marketing or sales) or in revenue operations (ops), "
            "not both. Keep only one of these groups.",
            field="groups",
        )
    if approver and not sides:
        raise Invalid(
            "Only people on the marketing or sales side can be approvers (permission "
            "workflow.sign_off); revenue operations and people without a side cannot sign off.",
            field="user_permissions",
        )


def _permissions(names: Iterable[str]):
    from django.contrib.auth.models import Permission
    from django.db.models import Q

    query = Q(pk__in=[])
    for name in names:
        app_label, codename = name.split(".")
        query |= Q(content_type__app_label=app_label, codename=codename)
    return Permission.objects.filter(query)


def ops_group_grant_admin_permissions():
    """Give the ops group what revenue operations need in the admin: view every model of
    Accord's apps, edit accounts, contacts, profiles, cycles and tiers, import and export
    accounts. Nominations, sign-offs, events and the list stay read-only there."""
    from django.contrib.auth.models import Group, Permission

    group, _ = Group.objects.get_or_create(name=OPS_GROUP)
    view = Permission.objects.filter(
        content_type__app_label__in=OPS_VIEW_APPS, codename__startswith="view_"
    )
    group.permissions.add(*view, *_permissions(OPS_EXTRA_PERMISSIONS))
    return group


def person_set_role(
    *,
    username: str,
    role: str,
    approver: bool = False,
    email: str | None = None,
    password: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
):
    """Create or update a person and give them one role. Returns (user, created).

    1. `role` is marketing, sales or ops; ops cannot approve. Someone already in both side
       groups is refused: which side they belong to is for a person to decide.
    2. The person ends up in exactly one of the groups marketing, sales and ops.
    3. The sign-off permission is granted or removed as `approver` says.
    4. Ops people are staff (they use the admin) and their group gets the admin permissions;
       people on a side are not staff unless they are superusers.
    5. The e-mail, the password (it must pass the validators) and the names are set when given.
    """
    from django.contrib.auth.models import Group
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    from core.roles import SIGN_OFF_PERMISSION

    if role not in ROLE_GROUPS:
        raise Invalid("The role must be marketing, sales or ops.", field="side")
    if role == OPS_GROUP and approver:
        raise Invalid(
            "Revenue operations cannot be approvers: approvers sign off for marketing or sales. "
            "Leave out --approver, or put the person on a side.",
            field="approver",
        )
    username = (username or "").strip()
    try:
        User.username_validator(username)
    except ValidationError:
        raise Invalid(
            f"“{username}” is not a valid username: use letters, digits and @ . + - _ only.",
            field="username",
        ) from None

    with transaction.atomic():
        user = User.objects.select_for_update().filter(username=username).first()
        created = user is None
        if created:
            user = User(username=username)
        else:
            current = set(user.groups.values_list("name", flat=True))
            if {Side.MARKETING.value, Side.SALES.value} <= current:
                raise Conflict(
                    f"{username} is in both the marketing and the sales group, so Accord cannot "
                    "tell which side they are on. Remove them from one of the two groups in the "
                    f"admin (Users → {username} → Groups), then run this again.",
                    field="groups",
                )
        if email is not None:
            email = email.strip()
            try:
                validate_email(email)
            except ValidationError:
                raise Invalid(f"“{email}” is not an e-mail address.", field="email") from None
            user.email = email
        if password is not None:
            try:
                validate_password(password, user)
            except ValidationError as error:
                raise Invalid(" ".join(error.messages), field="password") from None
            user.set_password(password)
        elif created:
            user.set_unusable_password()
        for field, value in (("first_name", first_name), ("last_name", last_name)):
            if value is not None:
                setattr(user, field, single_line(value, field=field, what="A name"))
        user.is_staff = role == OPS_GROUP or user.is_superuser
        user.save()

        groups = {name: Group.objects.get_or_create(name=name)[0] for name in ROLE_GROUPS}
        user.groups.remove(*(group for name, group in groups.items() if name != role))
        user.groups.add(groups[role])
        sign_off = _permissions([SIGN_OFF_PERMISSION])
        if approver:
            user.user_permissions.add(*sign_off)
        else:
            user.user_permissions.remove(*sign_off)
        if role == OPS_GROUP:
            ops_group_grant_admin_permissions()
    # A fresh instance: groups and permissions are cached on the old one.
    return User.objects.get(pk=user.pk), created
