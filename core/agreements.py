"""The one sign-off mechanism for every agreed definition (core.models.AgreedVersion): the
ideal customer profile, the coverage metrics' settings. A version takes effect only when an
approver of each side has approved it; a rejection from either side rejects it.

Every step locks the version's row, checks, changes the state through its declared transition
and writes an append-only event, in one transaction. What follows from a version taking effect
(rescoring every account, say) is queued by the version's `after_effective()` after commit.
"""

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from core.errors import Conflict, Invalid, NotAllowed
from core.models import AgreedVersion, AgreementAction, AgreementState
from core.roles import Side, is_approver, is_member, is_ops, require_approver, side_of
from core.text import bounded, single_line

SIDES = frozenset({Side.MARKETING.value, Side.SALES.value})


def _event(version: AgreedVersion, *, by, action: str, from_state: str, note: str = "") -> None:
    version.events.create(
        actor=by,
        actor_side=(side_of(by) or "") if by is not None else "",
        action=action,
        from_state=from_state,
        to_state=version.state,
        note=note,
    )


def _lock(version: AgreedVersion) -> AgreedVersion:
    return type(version).objects.select_for_update(no_key=True).get(pk=version.pk)


def agreed_version_create(*, model: type[AgreedVersion], name: str, by, **fields):
    """A new draft, numbered after the newest version of its kind."""
    if not is_member(by):
        raise NotAllowed(
            f"Only people on a side or in revenue operations can draft {model.a_noun}."
        )
    name = single_line(name, field="name", what=f"The {model.noun}'s name")
    try:
        with transaction.atomic():
            number = (model.objects.aggregate(n=Max("number"))["n"] or 0) + 1
            version = model.objects.create(
                number=number,
                name=name or model.untitled.format(number=number),
                proposed_by=by,
                **fields,
            )
            _event(version, by=by, action=AgreementAction.CREATED, from_state="")
    except IntegrityError:
        # Another draft took this number at the same instant (numbers are unique).
        raise Conflict(f"Another {model.noun} was drafted at the same moment; try again.") from None
    return version


def agreed_version_submit(*, version: AgreedVersion, by) -> AgreedVersion:
    """Put a draft up for both sides' sign-off. The person submitting it, if they are an
    approver of a side, counts as that side's approval (like a nomination's proposer)."""
    with transaction.atomic():
        version = _lock(version)
        if version.proposed_by_id != by.pk and not is_ops(by):
            raise NotAllowed(f"Only the person who drafted this {version.noun} can submit it.")
        if version.state != AgreementState.DRAFT:
            raise Conflict(
                f"This {version.noun} is {version.get_state_display().lower()}, not a draft."
            )
        version.submit()
        version.save()
        _event(version, by=by, action=AgreementAction.SUBMITTED, from_state=AgreementState.DRAFT)
        side = side_of(by)
        if side is not None and is_approver(by):
            _record(version, by=by, side=side, approve=True, note="Proposed this version.")
    return version


def agreed_version_sign_off(
    *, version: AgreedVersion, by, approve: bool, note: str = ""
) -> AgreedVersion:
    """Record one approver's decision.

    1. Only approvers of a side decide, once each; a rejection needs a reason.
    2. A rejection from either side rejects the version (equal say).
    3. An approval that gives both sides an approval makes it effective: the effective version
       of its kind (locked first) is superseded, and `after_effective()` queues what follows.
    """
    side = require_approver(by, f"sign off {version.a_noun}")
    note = bounded(note, field="note", what="The note")
    if not approve and not note:
        raise Invalid(f"Say why you reject this {version.noun}.", field="note")
    with transaction.atomic():
        version = _lock(version)
        if version.state != AgreementState.IN_REVIEW:
            raise Conflict(
                f"This {version.noun} is {version.get_state_display().lower()}; only "
                f"{version.noun}s in review can be signed off."
            )
        if version.sign_offs.filter(person=by).exists():
            raise NotAllowed(f"You have already signed off this {version.noun}.")
        _record(version, by=by, side=side, approve=approve, note=note)
    return version


def _record(version: AgreedVersion, *, by, side: Side, approve: bool, note: str) -> None:
    """Inside the caller's transaction, with the version locked."""
    version.sign_offs.create(person=by, side=side, approve=approve, note=note)
    from_state = version.state
    if not approve:
        version.reject()
        version.save()
    _event(
        version,
        by=by,
        action=AgreementAction.APPROVED if approve else AgreementAction.REJECTED,
        from_state=from_state,
        note=note,
    )
    if not approve:
        return
    sides = set(version.sign_offs.filter(approve=True).values_list("side", flat=True))
    if sides >= SIDES:
        _take_effect(version, by=by)


def _take_effect(version: AgreedVersion, *, by) -> None:
    model = type(version)
    # Lock the effective version first: a second version agreed at the same instant then waits
    # here and supersedes this one, instead of breaking the one-effective constraint.
    for previous in model.objects.select_for_update().filter(state=AgreementState.EFFECTIVE):
        previous.supersede()
        previous.save()
        _event(
            previous,
            by=by,
            action=AgreementAction.SUPERSEDED,
            from_state=AgreementState.EFFECTIVE,
            note=f"Superseded by v{version.number}.",
        )
    version.take_effect()
    version.effective_at = timezone.now()
    version.save()
    _event(
        version,
        by=by,
        action=AgreementAction.TOOK_EFFECT,
        from_state=AgreementState.IN_REVIEW,
        note="Both sides approved.",
    )
    version.after_effective()
