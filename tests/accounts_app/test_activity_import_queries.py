"""The check of a file of activities costs a fixed number of queries a batch, whatever the
number of rows in it: the rules find the accounts (one query for each way of naming them) and
the contacts in a query each, the activities already in Accord in one more."""

import pytest

from tests.accounts_app.csv_import import ACTIVITY_HEADER
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db


def a_file(accounts, count: int) -> str:
    """Rows naming their account in each of the three ways, half of them with a contact."""
    lines = []
    for i in range(count):
        account = accounts[i % len(accounts)]
        named = [f"{account.pk},,", f",{account.key},", f",,{account.domain}"][i % 3]
        contact = f"someone{account.pk}@example.com" if i % 2 else ""
        lines.append(f"{named},{contact},web_visit,marketing,2026-11-30T10:00:00Z,,v-{i}\n")
    return ACTIVITY_HEADER + "".join(lines)


@pytest.fixture
def accounts(db):
    made = [AccountFactory() for _ in range(20)]
    for account in made:
        ContactFactory(account=account, email=f"someone{account.pk}@example.com")
    return made


def test_the_check_of_ten_rows_and_of_a_thousand_costs_the_same_queries(
    ops, upload_activities, accounts, django_assert_max_num_queries, settings
):
    settings.CSV_IMPORT_BATCH_SIZE = 2000  # one batch for either file
    upload_activities(ops, a_file(accounts, 3))  # the first upload of a session costs a few more

    with django_assert_max_num_queries(40) as small:
        assert upload_activities(ops, a_file(accounts, 10)).context["csv_import"].new == 10
    with django_assert_max_num_queries(len(small)):
        assert upload_activities(ops, a_file(accounts, 1000)).context["csv_import"].new == 1000
