"""Seats taken in a tier are counted by one function (workflow.selectors.seats_taken): the
approval's capacity check, the cycle page, the API and the admin say the same, and a removal
frees the seat in all of them at once."""

import re

import pytest
from django.test import Client

from core.errors import Conflict
from tests.factories import AccountFactory, cycle
from tests.workflow.helpers import decide, fresh, nominate, put_on_list
from workflow import services
from workflow.models import State

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_cycle(db):
    return cycle("FY27 H2", capacities=(1, 1, 0))


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def seats_everywhere(people, the_cycle) -> dict[str, int]:
    """Tier 1's seats taken as the API, the cycle page and the admin's tier inline show them."""
    api = signed_in(people.ops).get(f"/api/v1/cycles/{the_cycle.pk}/").json()
    page = signed_in(people.marketer).get(f"/cycles/{the_cycle.pk}/").content.decode()
    staff, _ = services.person_set_role(username="opal", role="ops")  # as accord_user makes them
    admin = signed_in(staff).get(f"/admin/workflow/cycle/{the_cycle.pk}/change/")
    inline = re.search(r'field-on_the_list">\s*<p>(\d+)</p>', admin.content.decode())
    return {
        "api": next(t["used"] for t in api["tiers"] if t["number"] == 1),
        "page": int(re.search(r"(\d+) of 1(?: · full)?</span>", page).group(1)),
        "admin": int(inline.group(1)),
    }


def test_the_check_the_page_the_api_and_the_admin_count_the_same_seats(people, small_cycle):
    first, second = AccountFactory(name="Acme"), AccountFactory(name="Initech")
    put_on_list(people, small_cycle, first, tier=1)
    waiting = nominate(people.marketer, small_cycle, second, tier=1)

    assert seats_everywhere(people, small_cycle) == {"api": 1, "page": 1, "admin": 1}
    with pytest.raises(Conflict, match=r"full \(1 of 1 accounts\)"):
        decide(waiting, people.sales_approver)

    decide(nominate(people.marketer, small_cycle, first, kind="remove"), people.sales_approver)

    assert seats_everywhere(people, small_cycle) == {"api": 0, "page": 0, "admin": 0}
    decide(waiting, people.sales_approver)
    assert fresh(waiting).state == State.APPROVED
