"""Sides and roles.

Every person belongs to exactly one side, marketing or sales (the Django groups of those names);
revenue operations is the group `ops`. Approving for a side is the permission
`workflow.sign_off`. A person's side is always read from here, never from a request.
"""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models

from core.errors import NotAllowed


class Side(models.TextChoices):
    MARKETING = "marketing", "Marketing"
    SALES = "sales", "Sales"

    @property
    def other(self) -> "Side":
        return Side.SALES if self is Side.MARKETING else Side.MARKETING


OPS_GROUP = "ops"
SIDE_GROUPS = (Side.MARKETING.value, Side.SALES.value)
SIGN_OFF_PERMISSION = "workflow.sign_off"


def _group_names(user) -> frozenset[str]:
    # Cached on the user object: pages ask several times per request.
    cached = getattr(user, "_accord_groups", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True)) if user.pk else frozenset()
        user._accord_groups = cached
    return cached


def side_of(user: AbstractBaseUser | AnonymousUser | None) -> Side | None:
    """The person's side, or None for ops and people with no side.

    Someone in both side groups is a configuration error: they count for neither.
    """
    if user is None or not user.is_authenticated:
        return None
    sides = [name for name in SIDE_GROUPS if name in _group_names(user)]
    if len(sides) != 1:
        return None
    return Side(sides[0])


def is_on_side(user, side: Side | str) -> bool:
    """Whether the person counts for `side`: an active member of that side and not of the
    other (the one rule for owners, approvers and proposers alike)."""
    return bool(user is not None and user.is_active) and side_of(user) == Side(side)


def people_on_side(side: Side | str):
    """is_on_side as a query: the active members of `side` who are not also of the other (for
    the owner pickers and the approvers to tell)."""
    from django.contrib.auth import get_user_model

    side = Side(side)
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name=side.value)
        .exclude(groups__name=side.other.value)
    )


def is_ops(user) -> bool:
    """Revenue operations: an active member of the `ops` group, or a superuser. The one test of
    "may this person do what ops do", for services, pages, the admin and the API alike."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or OPS_GROUP in _group_names(user)


def is_member(user) -> bool:
    """Signed in and either on a side or in ops: may see the shared list."""
    return side_of(user) is not None or is_ops(user)


def is_approver(user) -> bool:
    return side_of(user) is not None and user.has_perm(SIGN_OFF_PERMISSION)


def require_side(user, action: str) -> Side:
    side = side_of(user)
    if side is None:
        if (
            user is not None
            and user.is_authenticated
            and len([n for n in SIDE_GROUPS if n in _group_names(user)]) > 1
        ):
            raise NotAllowed(
                f"You are in both the marketing and sales groups, so you cannot {action}. "
                "Ask revenue operations to put you on one side."
            )
        raise NotAllowed(f"Only people on the marketing or sales side can {action}.")
    return side


def require_approver(user, action: str) -> Side:
    side = require_side(user, action)
    if not user.has_perm(SIGN_OFF_PERMISSION):
        raise NotAllowed(f"You cannot {action}: you are not an approver for {side.label.lower()}.")
    return side


def require_ops(user, action: str) -> None:
    if not is_ops(user):
        raise NotAllowed(f"Only revenue operations can {action}.")
