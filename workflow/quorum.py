"""Quorum: when a side has said yes to a nomination. The one home of the rule, in its two forms:
over sign-offs already read (the approval itself, the nomination page, the API, e-mails, the
digest, the alignment metrics) and in SQL (the queue of what waits for a side).

A side reaches its quorum in a round when at least `cycle.quorum(side)` of its people approved
in that round. Each person counts once (the unique (nomination, round, person) constraint) and
for one side only: a sign-off's side is the signer's one side when they signed
(core.roles.side_of). When the cycle lets the proposer's submission count, it is a sign-off of
its own (`by_submission`) and counts like any other. Earlier rounds never count.
"""

from collections.abc import Iterable

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from core.roles import Side
from workflow.models import QUORUM_FIELDS, Decision, SignOff


def counts(sign_off: SignOff, *, side: Side | str, round: int) -> bool:
    """Whether this sign-off counts toward `side`'s quorum in `round`."""
    return (
        sign_off.round == round and sign_off.side == side and sign_off.decision == Decision.APPROVE
    )


def approvals(sign_offs: Iterable[SignOff], *, side: Side | str, round: int) -> list[SignOff]:
    """The sign-offs that count toward `side`'s quorum in `round`, in their order."""
    return [s for s in sign_offs if counts(s, side=side, round=round)]


def reached(*, approvals: int, quorum: int) -> bool:
    return approvals >= quorum


def with_side_approvals(nominations: QuerySet, side: Side | str) -> QuerySet:
    """`side_approvals`: the sign-offs that count toward `side`'s quorum in each nomination's
    current round (the SQL form of `approvals`). A subquery, not an aggregate, so that a
    condition on it (`below`) may be OR-ed with others."""
    side = Side(side)
    counted = (
        SignOff.objects.filter(
            nomination=OuterRef("pk"),
            round=OuterRef("round"),
            side=side,
            decision=Decision.APPROVE,
        )
        .order_by()
        .values("nomination")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return nominations.annotate(side_approvals=Coalesce(Subquery(counted), 0))


def below(side: Side | str) -> Q:
    """`side` has not reached its quorum (the SQL form of `reached`); needs
    `with_side_approvals`."""
    return Q(side_approvals__lt=F(f"cycle__{QUORUM_FIELDS[Side(side)]}"))


def below_quorum(nominations: QuerySet, side: Side | str) -> QuerySet:
    """The nominations of the queryset whose current round has not reached `side`'s quorum."""
    return with_side_approvals(nominations, side).filter(below(side))
