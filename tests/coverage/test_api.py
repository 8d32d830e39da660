"""`GET /api/v1/cycles/{id}/coverage/` and `…/coverage/accounts/`: what is stored, with the
fields and filters documented, for members and integration tokens; 404 before a snapshot."""

import pytest

from coverage.services import snapshot_take
from tests.api.conftest import ROLES, client_for
from tests.factories import person

ROW_FIELDS = {
    "account",
    "tier",
    "required_roles",
    "covered_roles",
    "missing_roles",
    "coverage",
    "contacts",
    "engaged_contacts",
    "marketing_touches_30d",
    "sales_touches_30d",
    "marketing_touches_90d",
    "sales_touches_90d",
    "open_opportunities",
    "open_pipeline",
    "won_amount",
    "stage",
    "stage_since",
    "gaps",
}


@pytest.fixture
def snapshot(world):
    return snapshot_take(cycle=world.cycle, as_of=world.as_of)


@pytest.fixture
def ops(people):
    return client_for(people.ops)


def accounts_url(world, query=""):
    return f"/api/v1/cycles/{world.cycle.pk}/coverage/accounts/{query}"


def names(response):
    assert response.status_code == 200, response.json()
    return [row["account"]["name"] for row in response.json()["results"]]


def test_each_row_has_exactly_the_documented_fields(snapshot, world, ops):
    response = ops.get(accounts_url(world))
    rows = {row["account"]["name"]: row for row in response.json()["results"]}
    assert response.json()["count"] == 6
    assert all(set(row) == ROW_FIELDS for row in rows.values())
    acme = world.accounts["Acme"]
    assert rows["Bravo"] == {
        "account": {
            "id": world.accounts["Bravo"].pk,
            "key": str(world.accounts["Bravo"].key),
            "name": "Bravo",
            "domain": "bravo.example",
        },
        "tier": 1,
        "required_roles": ["decision_maker", "champion", "budget_holder"],
        "covered_roles": ["decision_maker"],
        "missing_roles": ["champion", "budget_holder"],
        "coverage": pytest.approx(1 / 3),
        "contacts": 2,
        "engaged_contacts": 1,
        "marketing_touches_30d": 1,
        "sales_touches_30d": 0,
        "marketing_touches_90d": 2,
        "sales_touches_90d": 0,
        "open_opportunities": 0,
        "open_pipeline": "0.00",
        "won_amount": "0.00",
        "stage": "aware",
        "stage_since": world.as_of.date().isoformat(),
        "gaps": ["no_sales_follow_up", "missing_role", "single_threaded", "no_marketing_owner"],
    }
    assert rows["Acme"]["account"]["id"] == acme.pk
    assert rows["Acme"]["open_pipeline"] == "50000.00"


def test_rows_come_by_tier_then_name(snapshot, world, ops):
    assert names(ops.get(accounts_url(world))) == [
        "Acme",
        "Bravo",
        "Charlie",
        "Delta",
        "Echo",
        "Foxtrot",
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?tier=2", ["Charlie", "Delta"]),
        ("?stage=targeted", ["Delta", "Foxtrot"]),
        ("?gap=missing_role", ["Bravo", "Delta"]),
        ("?gap=gone_cold", ["Charlie"]),
        ("?gap=no_marketing_owner&tier=1", ["Bravo"]),
        ("?stage=customer&gap=gone_cold", ["Charlie"]),
    ],
)
def test_it_filters_by_tier_stage_and_gap(snapshot, world, ops, query, expected):
    assert names(ops.get(accounts_url(world, query))) == expected


def test_it_filters_by_owner(snapshot, world, ops, people):
    sales = names(ops.get(accounts_url(world, f"?sales_owner={people.sales_member.pk}")))
    assert sales == ["Acme", "Bravo", "Charlie", "Echo", "Foxtrot"]
    marketing = f"?marketing_owner={people.marketing_member.pk}"
    assert names(ops.get(accounts_url(world, marketing))) == ["Acme", "Charlie", "Echo", "Foxtrot"]
    assert names(ops.get(accounts_url(world, f"?sales_owner={people.ops.pk}"))) == []


@pytest.mark.parametrize("query", ["?gap=lonely", "?stage=won", "?tier=4", "?sales_owner=x"])
def test_it_refuses_a_filter_it_does_not_know(snapshot, world, ops, query):
    response = ops.get(accounts_url(world, query))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_it_pages_like_the_other_lists(snapshot, world, ops):
    page = ops.get(accounts_url(world, "?page_size=4&page=2")).json()
    assert page["count"] == 6
    assert [row["account"]["name"] for row in page["results"]] == ["Echo", "Foxtrot"]
    assert page["previous"] is not None and page["next"] is None


def test_the_coverage_answers_the_snapshots_aggregates(snapshot, world, ops):
    body = ops.get(f"/api/v1/cycles/{world.cycle.pk}/coverage/").json()
    assert body["cycle_id"] == world.cycle.pk
    assert body["snapshot"]["id"] == snapshot.pk
    assert body["snapshot"]["taken_on"] == world.as_of.date().isoformat()
    assert body["definitions_version"] == {"number": 1, "settings": snapshot.settings}
    assert body["cycle"] == snapshot.aggregates["cycle"]
    assert [tier["tier"] for tier in body["tiers"]] == [1, 2, 3]
    assert body["sales_owners"] == snapshot.aggregates["sales_owners"]
    assert body["marketing_owners"] == snapshot.aggregates["marketing_owners"]
    assert body["stages"]["accounts"]["targeted"] == 2
    assert body["trend"] == {"previous": None, "first": None}
    assert body["alignment"]["nominations"]["approved"] == 6
    assert body["alignment"]["both_owners_share"] == pytest.approx(4 / 6, abs=1e-4)


@pytest.mark.parametrize("path", ["coverage/", "coverage/accounts/"])
def test_before_the_first_snapshot_it_answers_404_saying_why(world, ops, path):
    response = ops.get(f"/api/v1/cycles/{world.cycle.pk}/{path}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert "FY27 H1 has no coverage snapshot yet" in response.json()["detail"]
    assert f"coverage_snapshot --cycle {world.cycle.pk}" in response.json()["detail"]


@pytest.mark.parametrize("path", ["coverage/", "coverage/accounts/"])
def test_an_unknown_cycle_is_a_404_too(db, ops, path):
    response = ops.get(f"/api/v1/cycles/999999/{path}")
    assert response.status_code == 404
    assert response.json()["detail"] == "There is no cycle #999999."


def test_a_web_request_never_takes_a_snapshot(world, ops):
    from coverage.models import Snapshot

    ops.get(f"/api/v1/cycles/{world.cycle.pk}/coverage/")
    ops.get(accounts_url(world))
    assert not Snapshot.objects.exists()


@pytest.mark.parametrize("path", ["coverage/", "coverage/accounts/"])
def test_members_and_integration_tokens_may_read_it_and_nobody_else(snapshot, world, clients, path):
    url = f"/api/v1/cycles/{world.cycle.pk}/{path}"
    answers = {role: clients[role].get(url).status_code for role in ROLES}
    assert answers == {
        "proposer": 200,
        "same_side_approver": 200,
        "other_side_approver": 200,
        "non_approver": 200,
        "ops": 200,
        "integration": 200,
        "anonymous": 401,
    }
    assert client_for(person("otto", side=None)).get(url).status_code == 403
    assert clients["integration"].post(url, {}).status_code == 403
    assert clients["ops"].post(url, {}).status_code == 405


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Auckland"])
def test_the_rows_are_exactly_what_the_documented_serializer_says(snapshot, settings, zone):
    """The list is built without the serializer, for speed; it must not drift from it."""
    from api.coverage_views import AccountCoverageOutput, coverage_row_representations
    from coverage.selectors import snapshot_row_page, snapshot_rows

    settings.TIME_ZONE = zone
    rows = snapshot_rows(snapshot=snapshot)
    instances = rows.select_related("account")
    assert coverage_row_representations(snapshot_row_page(rows)) == (
        AccountCoverageOutput(instances, many=True).data
    )
