"""The dashboard's shared part, the table's pages and the nomination page's coverage panel are
rendered once per snapshot and kept in the cache: every reader sees the same, a new snapshot is
never shown with an old one's numbers, and what depends on the reader (their accounts) or is
free text (a search) is not shared."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse

from coverage.services import snapshot_take
from tests.coverage.dashboard_helpers import client_for, html_of, table_accounts
from tests.coverage.helpers import DAY, opportunity, touch
from tests.workflow.helpers import nominate
from workflow.models import TargetAccount

SHARED = "coverage/_dashboard_details.html"
TABLE = "coverage/_accounts_table.html"


def rendered(response) -> set[str]:
    return {t.name for t in response.templates if t.name}


def test_the_shared_part_is_rendered_once_for_every_reader(world, people):
    snapshot_take(cycle=world.cycle, as_of=world.as_of)
    url = reverse("coverage:dashboard", args=[world.cycle.pk])
    first = client_for(people.sales_member).get(url)
    second = client_for(people.marketing_member).get(url)
    assert SHARED in rendered(first)
    assert SHARED not in rendered(second)
    shared = html_of(first)[html_of(first).index('data-testid="charts"') :]
    assert html_of(second)[html_of(second).index('data-testid="charts"') :] == shared
    # The reader's own part is theirs.
    assert "Bravo" in html_of(first).split('data-testid="charts"')[0]
    assert "Bravo" not in html_of(second).split('data-testid="charts"')[0]


def test_a_new_snapshot_shows_its_own_numbers_not_the_cached_ones(world, people):
    snapshot_take(cycle=world.cycle, as_of=world.as_of)
    dashboard = reverse("coverage:dashboard", args=[world.cycle.pk])
    table = reverse("coverage:accounts", args=[world.cycle.pk])
    reader = client_for(people.sales_member)
    before = html_of(reader.get(dashboard))
    assert table_accounts(html_of(reader.get(table, {"stage": "customer"}))) == ["Charlie"]
    opportunity(world.accounts["Echo"], "won", 125_000)
    snapshot_take(cycle=world.cycle, as_of=world.as_of + timedelta(days=1))
    after = html_of(reader.get(dashboard))
    assert after != before
    assert "125,000" in after
    customers = table_accounts(html_of(reader.get(table, {"stage": "customer"})))
    assert customers == ["Charlie", "Echo"]


def test_searches_and_unknown_parameters_are_rendered_for_each_request(world, people):
    snapshot_take(cycle=world.cycle, as_of=world.as_of)
    table = reverse("coverage:accounts", args=[world.cycle.pk])
    reader = client_for(people.sales_member)
    assert TABLE in rendered(reader.get(table, {"tier": "1"}))
    assert TABLE not in rendered(reader.get(table, {"tier": "1"}))
    for query in ({"q": "acme"}, {"tier": "1", "junk": "x"}, {"tier": "7"}, {"sort": "nothing"}):
        assert TABLE in rendered(reader.get(table, query)), query
        assert TABLE in rendered(reader.get(table, query)), query
    assert table_accounts(html_of(reader.get(table, {"q": "acme"}))) == ["Acme"]
    assert table_accounts(html_of(reader.get(table, {"q": "bravo"}))) == ["Bravo"]


PANEL = "coverage/_nomination_coverage.html"


def _sales_touches(response) -> str:
    html = html_of(response)
    return re.search(r'data-testid="touches-sales">(.*?)</dd>', html, re.S).group(1)


def test_the_nomination_panel_is_rendered_once_per_snapshot_and_shows_a_new_one(world, people):
    TargetAccount.objects.filter(cycle=world.cycle).update(added_at=world.as_of - 7 * DAY)
    bravo = world.accounts["Bravo"]
    change = nominate(people.sales_approver, world.cycle, bravo, kind="change_tier", tier=2)
    url = reverse("workflow:nomination", args=[change.pk])
    reader, other = client_for(people.marketing_member), client_for(people.sales_member)
    assert "No coverage snapshot of this cycle yet" in html_of(reader.get(url))

    snapshot_take(cycle=world.cycle, as_of=world.as_of - timedelta(days=2))
    first = reader.get(url)
    assert PANEL in rendered(first)
    assert _sales_touches(first) == "0 in 30 d · 0 in 90 d"
    second = other.get(url)
    assert PANEL not in rendered(second)
    assert _sales_touches(second) == "0 in 30 d · 0 in 90 d"

    touch(bravo, "sales", world.as_of - timedelta(days=1), kind="call")
    snapshot_take(cycle=world.cycle, as_of=world.as_of)
    assert _sales_touches(other.get(url)) == "1 in 30 d · 1 in 90 d"
    assert _sales_touches(reader.get(url)) == "1 in 30 d · 1 in 90 d"


@pytest.fixture
def shared_cache(settings):
    """As with Redis: the latest snapshot is remembered (not with a process's own cache, which
    the worker taking snapshots could not tell the web processes about)."""
    from coverage.selectors import forget_latest_key

    settings.CACHE_SHARED = True
    return forget_latest_key


def test_the_latest_snapshot_is_remembered_until_one_finishes_or_is_deleted(
    world, shared_cache, django_assert_num_queries
):
    from coverage.selectors import snapshot_latest_key

    cycle = world.cycle.pk
    shared_cache(cycle)
    assert snapshot_latest_key(cycle_id=cycle) is None
    first = snapshot_take(cycle=world.cycle, as_of=world.as_of - timedelta(days=2))
    assert snapshot_latest_key(cycle_id=cycle)[0] == first.pk
    with django_assert_num_queries(0):
        assert snapshot_latest_key(cycle_id=cycle)[0] == first.pk
    second = snapshot_take(cycle=world.cycle, as_of=world.as_of)
    assert snapshot_latest_key(cycle_id=cycle)[0] == second.pk
    second.delete()
    assert snapshot_latest_key(cycle_id=cycle)[0] == first.pk


def test_a_remembered_latest_snapshot_gone_since_is_read_again(world, people, shared_cache):
    """Another process remembered a snapshot that a same-day retake has replaced: the page
    shows the one there is, not an error."""
    from django.core.cache import cache

    from coverage.selectors import _latest_cache_key

    shared_cache(world.cycle.pk)
    bravo = world.accounts["Bravo"]
    change = nominate(people.sales_approver, world.cycle, bravo, kind="change_tier", tier=2)
    snapshot_take(cycle=world.cycle, as_of=world.as_of)
    cache.set(_latest_cache_key(world.cycle.pk), (999_999, "coverage:snapshot:999999:0"), 300)
    page = client_for(people.marketing_member).get(reverse("workflow:nomination", args=[change.pk]))
    assert page.status_code == 200
    assert 'data-testid="touches-sales"' in html_of(page)


def test_a_process_memory_cache_does_not_remember_the_latest(world, settings):
    from coverage.selectors import snapshot_latest_key

    settings.CACHE_SHARED = False
    first = snapshot_take(cycle=world.cycle, as_of=world.as_of - timedelta(days=2))
    assert snapshot_latest_key(cycle_id=world.cycle.pk)[0] == first.pk
    Snapshot = type(first)
    Snapshot.objects.filter(pk=first.pk).update(state="failed")  # no signal, as in a worker
    assert snapshot_latest_key(cycle_id=world.cycle.pk) is None
