"""My queue can be filtered (cycle, tier, how long it has waited) and sorted; each row says how
long it has waited against its cycle's reminder delay, and whether the viewer can act on it.
The page's number of queries does not grow with the rows, filters or not."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import AccountFactory, cycle
from tests.web.test_query_counts import MAX_QUERIES, add_nominations
from workflow import services
from workflow.models import Nomination

QUEUE = reverse("workflow:queue")


def get(client, **params) -> str:
    response = client.get(QUEUE, params)
    assert response.status_code == 200
    return response.content.decode()


def shown(page: str, names) -> list[str]:
    """The names that appear in the table, in the order they appear."""
    table = page[page.index("<tbody>") :] if "<tbody>" in page else ""
    return sorted((n for n in names if n in table), key=table.index)


def waited(nomination, **delta) -> None:
    """Make it look as if it had been waiting that long."""
    Nomination.objects.filter(pk=nomination.pk).update(
        waiting_since=timezone.now() - timedelta(**delta)
    )


@pytest.fixture
def spread(people, the_cycle):
    """Waiting for sales: three in FY27 H1 (reminder after 72 h), one in FY27 H2 (24 h)."""
    other = cycle(
        "FY27 H2",
        starts_on=the_cycle.ends_on,
        ends_on=the_cycle.ends_on.replace(month=12, day=31),
        reminder_after_hours=24,
        escalate_after_hours=48,
    )

    def propose(name, c, tier, fit, **age):
        n = services.nomination_create(
            cycle=c,
            account=AccountFactory(name=name, fit_score=fit),
            kind="add",
            tier=tier,
            rationale="x",
            by=people.marketer,
        )
        waited(n, **age)
        return n

    propose("Alpha", the_cycle, 1, 40, hours=2)
    propose("Bravo", the_cycle, 2, 90, days=4)  # past 72 h
    propose("Charlie", the_cycle, 3, 10, days=2)  # 48 h: not yet
    propose("Delta", other, 1, 70, hours=30)  # past 24 h
    return the_cycle, other


NAMES = ["Alpha", "Bravo", "Charlie", "Delta"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["Bravo", "Charlie", "Delta", "Alpha"]),  # waiting longest first
        ({"sort": "newest"}, ["Alpha", "Delta", "Charlie", "Bravo"]),
        ({"sort": "account"}, ["Alpha", "Bravo", "Charlie", "Delta"]),
        ({"sort": "fit"}, ["Bravo", "Delta", "Alpha", "Charlie"]),
        ({"sort": "tier"}, ["Delta", "Alpha", "Bravo", "Charlie"]),
        ({"tier": "1"}, ["Delta", "Alpha"]),
        ({"cycle": "OTHER"}, ["Delta"]),
        ({"age": "overdue"}, ["Bravo", "Delta"]),  # each against its own cycle's delay
        ({"age": "1"}, ["Bravo", "Charlie", "Delta"]),
        ({"age": "7"}, []),
        ({"tier": "1", "age": "overdue", "sort": "account"}, ["Delta"]),
        (
            {"tier": "9", "age": "forever", "sort": "chaos", "cycle": "x"},
            ["Bravo", "Charlie", "Delta", "Alpha"],  # bad values are ignored
        ),
    ],
)
def test_it_filters_and_sorts_the_main_tab(params, expected, spread, people, as_):
    _, other = spread
    params = {k: (other.pk if v == "OTHER" else v) for k, v in params.items()}

    page = get(as_(people.sales_approver), **params)

    assert shown(page, NAMES) == expected
    if not expected:
        assert "Nothing matches these filters." in page


def test_the_filters_apply_to_my_proposals_too(spread, people, as_):
    page = get(as_(people.marketer), tab="proposals", tier="2")

    assert shown(page, NAMES) == ["Bravo"]


def test_each_row_shows_its_wait_against_the_reminder_delay(spread, people, as_):
    page = get(as_(people.sales_approver), sort="account")

    rows = {name: page[page.index(name) :] for name in NAMES}
    for name in NAMES:
        rows[name] = rows[name][: rows[name].index("</tr>")]
    assert "reminder after 72 h" in rows["Bravo"]
    assert "reminder after 24 h" in rows["Delta"]
    assert "4\xa0days" in rows["Bravo"]
    assert 'data-testid="overdue"' in rows["Bravo"]
    assert 'data-testid="overdue"' in rows["Delta"]
    assert 'data-testid="overdue"' not in rows["Charlie"]
    assert 'data-testid="overdue"' not in rows["Alpha"]


@pytest.mark.parametrize(
    ("viewer", "mark"),
    [
        ("sales_approver", "Your decision"),
        ("sales_member", "Approvers only"),
        ("ops", "View only"),
    ],
)
def test_it_marks_what_the_viewer_can_do(viewer, mark, spread, people, as_):
    page = get(as_(getattr(people, viewer)))

    table = page[page.index("<tbody>") :]
    assert table.count(mark) == 4
    marks = {"Your decision", "Approvers only", "View only"} - {mark}
    assert not any(other in table for other in marks)


def test_the_filtered_queue_uses_the_same_number_of_queries_for_10_and_1000_nominations(
    people, the_cycle, as_, django_assert_max_num_queries
):
    url = QUEUE + f"?tab=waiting&cycle={the_cycle.pk}&tier=1&age=overdue&sort=fit"
    client = as_(people.sales_approver)
    client.get(url)  # warm up: session, content types

    def count_queries() -> int:
        Nomination.objects.update(waiting_since=timezone.now() - timedelta(days=5))
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        assert "Company" in response.content.decode()
        return len(queries)

    add_nominations(the_cycle, people, 10, start=0)
    with_10 = count_queries()
    add_nominations(the_cycle, people, 990, start=10)
    with_1000 = count_queries()

    assert with_10 == with_1000
    with django_assert_max_num_queries(MAX_QUERIES):
        client.get(url)
