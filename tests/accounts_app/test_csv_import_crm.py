"""Accounts the import changes reach the agreed list and the CRM, as an edit in Accord does:
new owners go to the account's open list entries, and its CRM record is queued."""

import pytest

from crm.models import OutboxEntry, OutboxState
from tests.accounts_app.csv_import import HEADER
from tests.factories import AccountFactory
from tests.workflow.helpers import put_on_list

pytestmark = pytest.mark.django_db


def test_new_owners_from_a_file_reach_the_list_entry_and_the_outbox(
    ops, upload, confirm, people, the_cycle, account
):
    target = put_on_list(people, the_cycle, account)
    OutboxEntry.objects.update(state=OutboxState.DELIVERED)
    loner = AccountFactory(domain="loner.example")

    done = confirm(
        ops,
        upload(
            ops,
            HEADER
            + f"Globex,{account.domain},,,,,,{people.sales_approver.username},"
            + f"{people.marketer.username},\n"
            + f"Loner,{loner.domain},,,,,,{people.sales_approver.username},,\n",
        ),
    )

    assert "0 new account(s), 2 updated" in done.content.decode()
    target.refresh_from_db()
    assert (target.sales_owner, target.marketing_owner) == (people.sales_approver, people.marketer)
    # Recorded, and pushed after the commit (to the test's "none" CRM backend).
    entry = OutboxEntry.objects.exclude(change="added").get()
    assert (entry.account, entry.change) == (account, "owners_changed")


def test_a_renamed_listed_account_is_queued_and_an_unchanged_one_is_not(
    ops, upload, confirm, people, the_cycle, account
):
    put_on_list(people, the_cycle, account)
    other = AccountFactory(name="Initech", domain="initech.example", industry="Software")
    put_on_list(people, the_cycle, other)
    OutboxEntry.objects.update(state=OutboxState.DELIVERED)

    confirm(
        ops,
        upload(
            ops,
            HEADER + f"Globex Corporation,{account.domain},,,,,,,,\n"
            "Initech,initech.example,Software,,,,,,,\n",
        ),
    )

    entry = OutboxEntry.objects.exclude(change="added").get()
    assert (entry.account, entry.change) == (account, "account_changed")
