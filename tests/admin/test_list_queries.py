"""The admin lists read related rows in a fixed number of queries (no N+1)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.admin.helpers import agree, nominate
from tests.factories import AccountFactory, cycle, person
from workflow import services

pytestmark = pytest.mark.django_db

LISTS = [
    "/admin/accounts_app/account/",
    "/admin/workflow/nomination/",
    "/admin/workflow/signoff/",
    "/admin/workflow/comment/",
    "/admin/workflow/nominationevent/",
    "/admin/workflow/targetaccount/",
    "/admin/workflow/cycle/",
    "/admin/auth/user/",
]


def add_rows(the_cycle, people, n: int, *, offset: int = 0) -> None:
    for i in range(n):
        n_ = agree(the_cycle, people, tier=3)
        services.comment_create(nomination=n_, by=people.sales_member, body=f"Note {i} @mina")
        AccountFactory(sales_owner=people.sales_member, marketing_owner=people.marketing_member)
        nominate(the_cycle, people.marketing_approver)
        person(f"extra{offset + i}", side="sales", approver=True)
        cycle(f"Extra {offset + i}")


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("url", LISTS)
def test_a_list_page_costs_the_same_queries_for_2_and_for_12_rows(admin_client, people, url):
    c = cycle(capacities=(50, 100, 200))
    add_rows(c, people, 2)
    few = count_queries(admin_client, url)
    add_rows(c, people, 10, offset=2)

    assert count_queries(admin_client, url) == few
