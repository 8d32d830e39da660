"""E-mails the workflow sends. Called by the tasks in workflow/tasks.py, never inside a
transaction: a slow mail server must not hold a row lock."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mass_mail
from django.db.models import Q
from django.urls import reverse

from workflow.models import Comment, Nomination, SignOff, State
from workflow.roles import OPS_GROUP, SIGN_OFF_PERMISSION, Side

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
    other = Side(side).other.value
    return (
        User.objects.filter(is_active=True, groups__name=side)
        .filter(perm | group_perm)
        .exclude(groups__name=other)
        .exclude(email="")
        .distinct()
    )


def ops_people():
    return User.objects.filter(is_active=True, groups__name=OPS_GROUP).exclude(email="").distinct()


def _send(messages: list[tuple[str, str, list[str]]]) -> int:
    batch = [
        (subject, body, settings.DEFAULT_FROM_EMAIL, to) for subject, body, to in messages if to
    ]
    return send_mass_mail(batch, fail_silently=False) if batch else 0


def _title(n: Nomination) -> str:
    tier = f" (Tier {n.tier})" if n.tier else ""
    return f"{n.get_kind_display()}: {n.account.name}{tier} · {n.cycle.name}"


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


def send_waiting(nomination: Nomination) -> int:
    if nomination.state != State.IN_REVIEW:
        return 0
    people = waiting_recipients(nomination)
    body = (
        f"{nomination.proposer.get_full_name() or nomination.proposer.username} "
        f"({nomination.get_proposer_side_display()}) proposes:\n\n{_title(nomination)}\n\n"
        f"Rationale:\n{nomination.rationale}\n\nReview it and sign off: {_link(nomination)}\n"
    )
    return _send(
        [(f"[Accord] Waiting for your side: {_title(nomination)}", body, [p.email for p in people])]
    )


def send_decision(sign_off: SignOff) -> int:
    n = sign_off.nomination
    proposer = n.proposer
    if not proposer.email or sign_off.by_submission:
        return 0
    who = sign_off.person.get_full_name() or sign_off.person.username
    outcome = {
        State.APPROVED: "Both sides agreed: the list has changed.",
        State.REJECTED: "It is rejected.",
        State.CHANGES_REQUESTED: "Changes are requested: edit and resubmit it.",
    }.get(n.state, "It is still in review.")
    body = (
        f"{who} ({sign_off.get_side_display()}) decided “{sign_off.get_decision_display()}” on "
        f"{_title(n)}.\n\n{sign_off.note + chr(10) + chr(10) if sign_off.note else ''}"
        f"{outcome}\n\n{_link(n)}\n"
    )
    return _send(
        [(f"[Accord] {sign_off.get_decision_display()}: {_title(n)}", body, [proposer.email])]
    )


def send_mentions(comment: Comment) -> int:
    n = comment.nomination
    who = comment.author.get_full_name() or comment.author.username
    body = f"{who} mentioned you on {_title(n)}:\n\n{comment.body}\n\n{_link(n)}\n"
    return _send(
        [
            (
                f"[Accord] {who} mentioned you",
                body,
                [p.email for p in comment.mentions.all() if p.email],
            )
        ]
    )


def send_reminder(nomination: Nomination) -> int:
    people = waiting_recipients(nomination)
    hours = nomination.cycle.reminder_after_hours
    body = (
        f"This nomination has waited more than {hours} hours for your side:\n\n"
        f"{_title(nomination)}\n\n{_link(nomination)}\n"
    )
    return _send([(f"[Accord] Reminder: {_title(nomination)}", body, [p.email for p in people])])


def send_escalation(nomination: Nomination) -> int:
    hours = nomination.cycle.escalate_after_hours
    waiting = ", ".join(p.username for p in waiting_recipients(nomination)) or "nobody with e-mail"
    body = (
        f"This nomination has waited more than {hours} hours for a decision.\n\n"
        f"{_title(nomination)}\nWaiting on: {waiting}\n\n{_link(nomination)}\n"
    )
    return _send(
        [(f"[Accord] Escalation: {_title(nomination)}", body, [p.email for p in ops_people()])]
    )
