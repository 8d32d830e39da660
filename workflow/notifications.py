"""E-mails the workflow sends. Called by the tasks in workflow/tasks.py, never inside a
transaction: a slow mail server must not hold a row lock."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mass_mail
from django.db.models import Q
from django.urls import reverse

from core.roles import OPS_GROUP, SIGN_OFF_PERMISSION, people_on_side
from core.text import flatten
from workflow.models import Comment, Nomination, SignOff, State

User = get_user_model()


def _link(nomination: Nomination) -> str:
    return settings.SITE_URL + reverse("workflow:nomination", args=[nomination.pk])


def approvers_of(side: str):
    app_label, codename = SIGN_OFF_PERMISSION.split(".")
    perm = Q(
        user_permissions__codename=codename, user_permissions__content_type__app_label=app_label
    )
    group_perm = Q(
        groups__permissions__codename=codename,
        groups__permissions__content_type__app_label=app_label,
    )
    return people_on_side(side).filter(perm | group_perm).exclude(email="").distinct()


def ops_people():
    return User.objects.filter(is_active=True, groups__name=OPS_GROUP).exclude(email="").distinct()


def _send(messages: list[tuple[str, str, list[str]]]) -> int:
    """One e-mail per recipient: nobody sees who else was told."""
    batch = [
        # A subject is one line whatever the names in it hold (see core.text).
        (flatten(subject, limit=250), body, settings.DEFAULT_FROM_EMAIL, [address])
        for subject, body, to in messages
        for address in dict.fromkeys(to)
        if address
    ]
    return send_mass_mail(batch, fail_silently=False) if batch else 0


def _title(n: Nomination) -> str:
    tier = f" (Tier {n.tier})" if n.tier else ""
    return f"{n.get_kind_display()}: {n.account.name}{tier} · {n.cycle.name}"


def _name(user) -> str:
    return user.get_full_name() or user.username


def waiting_recipients(nomination: Nomination) -> list:
    """Approvers of each side that has not reached quorum in the current round, minus the
    proposer and those who already decided."""
    from workflow.services import side_statuses

    statuses = side_statuses(nomination)
    decided = set(
        nomination.sign_offs.filter(round=nomination.round).values_list("person_id", flat=True)
    )
    people = []
    for side, status in statuses.items():
        if status.reached:
            continue
        people.extend(
            p for p in approvers_of(side) if p.pk != nomination.proposer_id and p.pk not in decided
        )
    return people


def _waiting_sides(nomination: Nomination) -> str:
    from workflow.services import side_statuses

    waiting = [
        f"{status.side.label} ({len(status.approvals)} of {status.quorum} approvals)"
        for status in side_statuses(nomination).values()
        if not status.reached
    ]
    return ", ".join(waiting) or "nobody"


def send_waiting(nomination: Nomination) -> int:
    if nomination.state != State.IN_REVIEW:
        return 0
    people = waiting_recipients(nomination)
    again = f" (round {nomination.round}, resubmitted)" if nomination.round > 1 else ""
    body = (
        f"{_name(nomination.proposer)} ({nomination.get_proposer_side_display()}) proposes"
        f"{again}:\n\n{_title(nomination)}\n\nRationale:\n{nomination.rationale}\n\n"
        "It waits for your side's sign-off. Open it, read the discussion and approve, reject "
        f"(with a reason) or request changes (with a note):\n{_link(nomination)}\n"
    )
    return _send(
        [(f"[Accord] Waiting for your side: {_title(nomination)}", body, [p.email for p in people])]
    )


def send_decision(sign_off: SignOff) -> int:
    n = sign_off.nomination
    proposer = n.proposer
    if not proposer.email or sign_off.by_submission:
        return 0
    outcome = {
        State.APPROVED: "Both sides agreed: the account's entry on the list has changed.",
        State.REJECTED: "It is rejected. Read the reason; you may propose it again later.",
        State.CHANGES_REQUESTED: (
            "Changes are requested: edit your nomination and resubmit it for a new round."
        ),
    }.get(n.state, f"It is still in review, waiting for: {_waiting_sides(n)}.")
    note = f"“{sign_off.note}”\n\n" if sign_off.note else ""
    body = (
        f"{_name(sign_off.person)} ({sign_off.get_side_display()}) decided "
        f"“{sign_off.get_decision_display()}” on your nomination {_title(n)}.\n\n"
        f"{note}{outcome}\n\n{_link(n)}\n"
    )
    return _send(
        [(f"[Accord] {sign_off.get_decision_display()}: {_title(n)}", body, [proposer.email])]
    )


def send_mentions(comment: Comment) -> int:
    n = comment.nomination
    who = _name(comment.author)
    body = (
        f"{who} mentioned you in the discussion of {_title(n)}:\n\n{comment.body}\n\n"
        f"Read and reply here: {_link(n)}\n"
    )
    return _send(
        [
            (
                f"[Accord] {who} mentioned you: {n.account.name}",
                body,
                [p.email for p in comment.mentions.all() if p.email],
            )
        ]
    )


def send_reminder(nomination: Nomination) -> int:
    if nomination.state != State.IN_REVIEW:
        return 0
    people = waiting_recipients(nomination)
    hours = nomination.cycle.reminder_after_hours
    body = (
        f"This nomination has waited more than {hours} hours for your side's sign-off:\n\n"
        f"{_title(nomination)}\n\nPlease open it and approve, reject (with a reason) or "
        f"request changes (with a note):\n{_link(nomination)}\n"
    )
    return _send([(f"[Accord] Reminder: {_title(nomination)}", body, [p.email for p in people])])


def send_escalation(nomination: Nomination) -> int:
    if nomination.state != State.IN_REVIEW:
        return 0
    hours = nomination.cycle.escalate_after_hours
    waiting = ", ".join(_name(p) for p in waiting_recipients(nomination)) or "no approver"
    body = (
        f"This nomination has waited more than {hours} hours for a decision:\n\n"
        f"{_title(nomination)}\n"
        f"Waiting for: {_waiting_sides(nomination)}\nApprovers who have not decided: "
        f"{waiting}\n\nPlease follow up with them, or with the proposer "
        f"{_name(nomination.proposer)}, so that it gets a decision:\n{_link(nomination)}\n"
    )
    return _send(
        [(f"[Accord] Escalation: {_title(nomination)}", body, [p.email for p in ops_people()])]
    )
