"""The CSV exports of a cycle: the per-account coverage table (with the API's filters), the
aggregates and the agreed list, streamed, as UTF-8 with a byte order mark."""

import re

import pytest
from django.http import StreamingHttpResponse

from coverage.services import snapshot_take
from tests.coverage.exports import client_of, table, url
from tests.workflow.helpers import nominate


@pytest.fixture
def snapshot(world):
    return snapshot_take(cycle=world.cycle, as_of=world.as_of)


def test_the_account_table_has_the_api_row_columns_and_one_row_per_account(people, snapshot):
    response = client_of(people.marketing_member).get(url("coverage_accounts", snapshot.cycle))
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = table(response)
    assert [r["account_name"] for r in rows] == [
        "Acme",
        "Bravo",
        "Charlie",
        "Delta",
        "Echo",
        "Foxtrot",
    ]
    acme = rows[0]
    assert acme["account_domain"] == "acme.example"
    assert acme["tier"] == "1"
    assert acme["sales_owner"] == people.sales_member.username
    assert acme["marketing_owner"] == people.marketing_member.username
    assert acme["required_roles"] == "decision_maker; champion; budget_holder"
    assert acme["missing_roles"] == ""
    assert float(acme["coverage"]) == 1.0
    assert acme["open_pipeline"] == "50000.00"
    assert acme["stage"] == "opportunity"
    delta = rows[3]
    assert delta["sales_owner"] == ""
    assert delta["gaps"] == "missing_role; no_sales_owner; no_marketing_owner"


def test_the_account_table_takes_the_api_filters(people, snapshot, world):
    client = client_of(people.sales_member)

    def names(**query):
        response = client.get(url("coverage_accounts", world.cycle, **query))
        return [row["account_name"] for row in table(response)]

    assert names(tier=2) == ["Charlie", "Delta"]
    assert names(gap="no_marketing_owner") == ["Bravo", "Delta"]
    marketer = people.marketing_member.pk
    assert names(marketing_owner=marketer) == ["Acme", "Charlie", "Echo", "Foxtrot"]
    assert names(sales_owner=people.sales_member.pk, tier=1) == ["Acme", "Bravo"]
    assert names(stage="opportunity") == ["Acme"]


@pytest.mark.parametrize(
    "query", [{"tier": 4}, {"gap": "nothing"}, {"stage": "lost"}, {"sales_owner": "me"}]
)
def test_a_bad_filter_answers_400_saying_which(people, snapshot, query):
    response = client_of(people.ops).get(url("coverage_accounts", snapshot.cycle, **query))
    assert response.status_code == 400
    assert next(iter(query)) in response.content.decode()


def test_the_aggregates_have_a_row_per_cycle_tier_and_owner(people, snapshot):
    rows = table(client_of(people.ops).get(url("coverage_aggregates", snapshot.cycle)))
    groups = [(r["group"], r["tier"], r["owner_username"]) for r in rows]
    seller, marketer = people.sales_member.username, people.marketing_member.username
    assert groups[:4] == [
        ("cycle", "", ""),
        ("tier", "1", ""),
        ("tier", "2", ""),
        ("tier", "3", ""),
    ]
    # Owners in the snapshot's stored order; an empty owner is the accounts with none.
    assert sorted(groups[4:6]) == [("sales_owner", "", ""), ("sales_owner", "", seller)]
    assert sorted(groups[6:]) == [("marketing_owner", "", ""), ("marketing_owner", "", marketer)]
    cycle_row = rows[0]
    stored = snapshot.aggregates["cycle"]
    assert cycle_row["accounts"] == "6"
    assert cycle_row["open_pipeline"] == stored["open_pipeline"]
    assert cycle_row["gap_missing_role"] == str(stored["gaps"]["missing_role"])
    assert [r["accounts"] for r in rows if r["group"] == "tier"] == ["2", "2", "2"]


def test_the_agreed_list_has_each_active_entry_with_the_nomination_that_put_it_there(people, world):
    rows = table(client_of(people.marketing_member).get(url("agreed_list", world.cycle)))
    assert len(rows) == 6
    acme = rows[0]
    assert acme["account_name"] == "Acme"
    assert acme["tier"] == "1"
    assert acme["sales_owner"] == people.sales_member.username
    assert acme["sales_owner_email"] == people.sales_member.email
    assert acme["marketing_owner"] == people.marketing_member.username
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d.*", acme["added_at"])
    assert acme["nomination_url"].endswith(f"/nominations/{acme['nomination_id']}/")


def test_the_agreed_list_leaves_out_entries_that_were_removed(people, world):
    from tests.workflow.helpers import decide

    removal = nominate(people.sales_approver, world.cycle, world.accounts["Bravo"], kind="remove")
    decide(removal, people.marketing_approver)
    rows = table(client_of(people.ops).get(url("agreed_list", world.cycle)))
    assert "Bravo" not in [r["account_name"] for r in rows]
    assert len(rows) == 5


def test_before_the_first_snapshot_the_coverage_files_answer_404(people, world):
    client = client_of(people.ops)
    assert client.get(url("coverage_accounts", world.cycle)).status_code == 404
    assert client.get(url("coverage_aggregates", world.cycle)).status_code == 404
    assert client.get(url("agreed_list", world.cycle)).status_code == 200


def test_the_cycle_page_links_the_three_files(people, world):
    page = client_of(people.sales_member).get(f"/cycles/{world.cycle.pk}/").content.decode()
    for name in ("agreed_list", "coverage_accounts", "coverage_aggregates"):
        assert f'href="{url(name, world.cycle)}"' in page
