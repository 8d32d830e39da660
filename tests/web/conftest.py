import pytest
from django.test import Client

from accounts_app.models import Account, IcpSignOff
from accounts_app.services import icp_version_create, icp_version_submit
from tests.factories import AccountFactory, person
from workflow import services
from workflow.models import (
    Comment,
    ListVersion,
    Nomination,
    NominationEvent,
    SignOff,
    TargetAccount,
)


@pytest.fixture
def nobody(db):
    """Signed in, but on no side and not in ops."""
    return person("nora", side=None)


@pytest.fixture
def as_():
    """A fresh client signed in as `user` (or anonymous for None)."""

    def sign_in(user) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def in_review(people, the_cycle, account):
    """Marketing (mara) proposes Globex for Tier 1; her submission counts for marketing."""
    return services.nomination_create(
        cycle=the_cycle,
        account=account,
        kind="add",
        tier=1,
        rationale="Strong fit: expanding in EMEA.",
        evidence_links=["https://globex.example/news"],
        by=people.marketer,
    )


@pytest.fixture
def draft(people, the_cycle):
    return services.nomination_create(
        cycle=the_cycle,
        account=AccountFactory(name="Initech", domain="initech.example"),
        kind="add",
        tier=2,
        rationale="Still drafting.",
        by=people.marketer,
        submit=False,
    )


@pytest.fixture
def changes_requested(in_review, people):
    return services.nomination_sign_off(
        nomination=in_review,
        by=people.sales_approver,
        decision="request_changes",
        note="Tier 2 fits better.",
    )


# The roles of the permission matrix, by name (resolved against the `people` cast).
ROLES = [
    "proposer",
    "same_side_approver",
    "other_side_approver",
    "non_approver",
    "ops",
    "anonymous",
    "no_side",
]


@pytest.fixture
def role_user(people, nobody):
    def resolve(role: str):
        return {
            "proposer": people.marketer,
            "same_side_approver": people.marketing_approver,
            "other_side_approver": people.sales_approver,
            "non_approver": people.sales_member,
            "ops": people.ops,
            "anonymous": None,
            "no_side": nobody,
        }[role]

    return resolve


@pytest.fixture
def icp_in_review(people):
    version = icp_version_create(
        name="Mid-market software",
        criteria={
            "industries": {"values": ["Software"], "weight": 60},
            "employees": {"min": 200, "max": 5000, "weight": 40},
        },
        by=people.ops,
    )
    return icp_version_submit(icp_version=version, by=people.ops)


def everything() -> tuple:
    """All a person could have changed."""
    return (
        list(Nomination.objects.order_by("pk").values_list("state", "round", "tier", "rationale")),
        list(SignOff.objects.order_by("pk").values_list("person", "decision", "round")),
        list(NominationEvent.objects.order_by("pk").values_list("action", "to_state")),
        Comment.objects.count(),
        ListVersion.objects.count(),
        list(TargetAccount.objects.values_list("account", "tier", "removed_at")),
        IcpSignOff.objects.count(),
        Account.objects.count(),
    )
