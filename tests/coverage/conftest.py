"""The hand-built data set of the coverage tests: six accounts on one cycle's list, each chosen
to show some metrics and gaps, with the numbers each should give written in the tests.

    Acme     tier 1  both owners   3 roles covered (one contact holds two), 2 engaged, open deal
    Bravo    tier 1  sales owner   1 of 3 roles, 1 engaged (last_engaged_at), marketing only
    Charlie  tier 2  both owners   role covered, touches 45 and 60 days ago only, won deal
    Delta    tier 2  no owners     no contacts, nothing
    Echo     tier 3  both owners   no roles required, 2 engaged contacts, touches of both sides
    Foxtrot  tier 3  both owners   no contacts, one touch 100 days ago
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts_app.models import Account
from tests.api.conftest import clients, integration_token  # noqa: F401 (fixtures)
from tests.coverage.helpers import DAY, contact, opportunity, touch
from tests.factories import AccountFactory
from tests.workflow.helpers import put_on_list
from workflow.models import Tier

M, S = "marketing", "sales"


@dataclass
class World:
    cycle: Any
    as_of: Any
    accounts: dict[str, Account]


def account_named(name: str, *, sales=None, marketing=None) -> Account:
    return AccountFactory(
        name=name, domain=f"{name.lower()}.example", sales_owner=sales, marketing_owner=marketing
    )


@pytest.fixture
def world(people, the_cycle):
    Tier.objects.filter(cycle=the_cycle, number=1).update(
        required_roles=["decision_maker", "champion", "budget_holder"]
    )
    Tier.objects.filter(cycle=the_cycle, number=2).update(required_roles=["decision_maker"])
    seller, marketer = people.sales_member, people.marketing_member
    acme = account_named("Acme", sales=seller, marketing=marketer)
    bravo = account_named("Bravo", sales=seller)
    charlie = account_named("Charlie", sales=seller, marketing=marketer)
    delta = account_named("Delta")
    echo = account_named("Echo", sales=seller, marketing=marketer)
    foxtrot = account_named("Foxtrot", sales=seller, marketing=marketer)
    for account, tier in (
        (acme, 1),
        (bravo, 1),
        (charlie, 2),
        (delta, 2),
        (echo, 3),
        (foxtrot, 3),
    ):
        put_on_list(people, the_cycle, account, tier=tier)
    as_of = timezone.now().replace(microsecond=0) + timedelta(hours=1)

    # Engaged twice over (an activity and last_engaged_at): still one engaged contact.
    c1 = contact(acme, "decision_maker", "champion", last_engaged_at=as_of - DAY)
    c2 = contact(acme, "budget_holder")
    touch(acme, M, as_of - 5 * DAY, contact=c1)
    touch(acme, S, as_of - 3 * DAY, contact=c1, kind="meeting")
    touch(acme, S, as_of - 10 * DAY, contact=c2, kind="call")
    opportunity(acme, "open", 50_000)

    c3 = contact(bravo, "decision_maker")
    contact(bravo, last_engaged_at=as_of - 20 * DAY)
    touch(bravo, M, as_of - 2 * DAY, kind="web_visit")
    touch(bravo, M, as_of - 40 * DAY, contact=c3, kind="form_fill")

    contact(charlie, "decision_maker")
    touch(charlie, S, as_of - 45 * DAY, kind="call")
    touch(charlie, M, as_of - 60 * DAY)
    opportunity(charlie, "won", 20_000)
    opportunity(charlie, "lost", 5_000)

    c6 = contact(echo)
    c7 = contact(echo, last_engaged_at=as_of - 31 * DAY)
    touch(echo, M, as_of - 20 * DAY, contact=c6)
    touch(echo, S, as_of - 25 * DAY, contact=c7, kind="call")
    touch(echo, S, as_of - 30 * DAY, kind="call")  # exactly 30 days: outside the 30-day window
    touch(echo, M, as_of + DAY)  # after as_of: not counted
    opportunity(echo, "lost", 9_000)

    touch(foxtrot, M, as_of - 100 * DAY)

    return World(
        cycle=the_cycle,
        as_of=as_of,
        accounts={a.name: a for a in (acme, bravo, charlie, delta, echo, foxtrot)},
    )
