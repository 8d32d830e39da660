"""The coverage dashboard of a cycle, as the people on each side and ops see it."""

import re

from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from coverage.models import Snapshot
from coverage.services import snapshot_take
from tests.factories import person


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def dashboard(cycle) -> str:
    return reverse("coverage:dashboard", args=[cycle.pk])


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def section(html: str, testid: str, length: int = 20_000) -> str:
    start = html.index(f'data-testid="{testid}"')
    return html[start : start + length]


def charts_of(html: str) -> str:
    return html[html.index('data-testid="charts"') : html.index('data-testid="tiers"')]


def test_it_shows_the_scorecard_tables_alignment_and_charts_of_the_latest_snapshot(world, people):
    snapshot = snapshot_take(cycle=world.cycle, as_of=world.as_of)
    html = html_of(client_for(people.marketing_member).get(dashboard(world.cycle)))

    assert f"definitions v{snapshot.definitions_version.number}" in html
    scorecard = section(html, "scorecard")
    accounts = section(html, "score-accounts")
    assert re.search(r'score-value">6<', accounts)
    # Acme, Charlie and Echo have every required role: 3 of 6.
    assert re.search(r'score-value">50%<', section(html, "score-fully_covered_share"))
    assert re.search(r'score-value">50,000<', section(html, "score-open_pipeline"))
    assert re.search(r'score-value">20,000<', section(html, "score-won_amount"))
    assert "Missing required role" in scorecard
    tiers = section(html, "tiers")
    assert "Tier 1" in tiers and "Tier 3" in tiers
    assert "Nominations" in section(html, "alignment")
    charts = charts_of(html)
    assert charts.count("<svg") == 7
    assert "<script" not in charts


def test_each_number_links_to_the_accounts_behind_it(world, people):
    snapshot_take(cycle=world.cycle, as_of=world.as_of)
    html = html_of(client_for(people.sales_member).get(dashboard(world.cycle)))
    table = reverse("coverage:accounts", args=[world.cycle.pk])
    assert f'href="{table}?gap=missing_role"' in section(html, "score-gap_missing_role")
    assert f'href="{table}?covered=full"' in section(html, "score-fully_covered_share")
    assert f'href="{table}?tier=1"' in section(html, "tiers")
    seller = people.sales_member
    assert f'href="{table}?sales_owner={seller.pk}"' in section(html, "sales-owners")
    assert f'href="{table}?gap=no_marketing_owner"' in section(html, "marketing-owners")


def test_an_empty_cycle_says_so_and_offers_ops_the_button(people, the_cycle):
    html = html_of(client_for(people.ops).get(dashboard(the_cycle)))
    empty = section(html, "empty-state")
    assert "No coverage snapshot yet" in empty
    assert "Take a snapshot now" in empty

    html = html_of(client_for(people.sales_member).get(dashboard(the_cycle)))
    assert "No coverage snapshot yet" in section(html, "empty-state")
    assert "Take a snapshot now" not in html


def test_ops_button_queues_a_snapshot_that_a_task_takes(
    world, people, django_capture_on_commit_callbacks
):
    url = reverse("coverage:snapshot", args=[world.cycle.pk])
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_for(people.ops).post(url)
    assert response.status_code == 302
    # The request only queued the task: nothing was computed in it.
    assert not Snapshot.objects.filter(cycle=world.cycle).exists()
    assert len(callbacks) == 1

    callbacks[0]()  # the worker runs the task (eagerly in tests)
    html = html_of(client_for(people.ops).get(dashboard(world.cycle)))
    assert "empty-state" not in html
    assert re.search(r'score-value">6<', section(html, "score-accounts"))


def test_only_ops_may_ask_for_a_snapshot(world, people):
    url = reverse("coverage:snapshot", args=[world.cycle.pk])
    assert client_for(people.sales_approver).post(url).status_code == 403
    assert client_for(people.marketer).post(url).status_code == 403
    assert not Snapshot.objects.filter(cycle=world.cycle).exists()


def test_the_dashboard_is_for_members_only(world, people):
    snapshot_take(cycle=world.cycle, as_of=world.as_of)
    nobody = person("nora", side=None)
    for url in (
        dashboard(world.cycle),
        reverse("coverage:accounts", args=[world.cycle.pk]),
        reverse("coverage:index"),
    ):
        assert client_for(nobody).get(url).status_code == 403
        anonymous = client_for(None).get(url)
        assert anonymous.status_code == 302
        assert anonymous["Location"].startswith(reverse("login"))
    assert (
        client_for(None).post(reverse("coverage:snapshot", args=[world.cycle.pk])).status_code
        == 302
    )


def test_the_charts_are_rendered_once_per_snapshot(world, people, monkeypatch):
    cache.clear()
    snapshot_take(cycle=world.cycle, as_of=world.as_of)
    client = client_for(people.marketing_member)
    first = charts_of(html_of(client.get(dashboard(world.cycle))))
    import vl_convert

    def refuse(*args, **kwargs):
        raise AssertionError("vl-convert was called again for a cached snapshot")

    # Third-party renderer, not the project's code: a second view must not call it.
    monkeypatch.setattr(vl_convert, "vegalite_to_svg", refuse)
    second = charts_of(html_of(client.get(dashboard(world.cycle))))
    assert first == second


def test_the_cycle_page_and_the_nav_link_to_coverage(world, people):
    html = html_of(
        client_for(people.marketer).get(reverse("workflow:cycle", args=[world.cycle.pk]))
    )
    assert f'href="{dashboard(world.cycle)}"' in html
    assert f'href="{reverse("coverage:index")}"' in html
    index = html_of(client_for(people.marketer).get(reverse("coverage:index")))
    assert f'href="{dashboard(world.cycle)}"' in index
