"""Small builders for the admin tests; the workflow itself runs through its services."""

from tests.factories import AccountFactory
from workflow import services


def nominate(cycle, by, *, tier=1, **kw):
    """A fresh account proposed to `cycle` by `by`, in review."""
    return services.nomination_create(
        cycle=cycle,
        account=kw.pop("account", None) or AccountFactory(),
        kind="add",
        tier=tier,
        rationale=kw.pop("rationale", "Strong fit"),
        by=by,
        **kw,
    )


def agree(cycle, people, *, tier=1):
    """A nomination approved by both sides: the account is on the list."""
    n = nominate(cycle, people.marketer, tier=tier)
    return services.nomination_sign_off(nomination=n, by=people.sales_approver, decision="approve")
