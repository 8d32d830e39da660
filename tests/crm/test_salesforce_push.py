"""Pushing target accounts to the Salesforce sandbox: OAuth client credentials, sObject
Collections upsert by the external id (200 a request), per-record results, the daily limit."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crm import services
from crm.models import CrmOwner, OutboxEntry, OutboxState, SyncState
from tests.crm.helpers import bulk_list, queue_cycle
from tests.factories import AccountFactory
from tests.workflow.helpers import decide, nominate, put_on_list

pytestmark = pytest.mark.django_db

KEY = "Accord_Account_Key__c"
UPSERT = "PATCH /services/data/v62.0/composite/sobjects/Account/Accord_Account_Key__c"


def accounts_in(sandbox) -> dict[str, dict]:
    found = {}
    for record in sandbox.objects("Account")["records"]:
        assert record[KEY] not in found, f"two accounts carry the key {record[KEY]}"
        found[record[KEY]] = record
    return found


def push():
    return services.outbox_push(trigger="command")


def test_it_upserts_by_the_external_id_200_at_a_time(salesforce, people, the_cycle):
    accounts = bulk_list(people, the_cycle, 450, tier=3)
    queue_cycle(the_cycle)

    run = push()

    assert run.state == SyncState.SUCCEEDED
    assert (run.sent, run.created) == (450, 450)
    assert salesforce.counters()["by_route"][UPSERT] == 3  # 200 + 200 + 50
    found = accounts_in(salesforce)
    assert set(found) == {str(a.key) for a in accounts}
    record = found[str(accounts[3].key)]
    assert (record["Name"], record["Website"]) == ("bulk 3", "bulk3.example")
    assert (record["Accord_Target_Account__c"], record["Accord_Tier__c"]) == (True, "Tier 3")
    accounts[3].refresh_from_db()
    assert accounts[3].salesforce_account_id == record["Id"]


def test_a_second_push_with_nothing_changed_sends_nothing(salesforce, people, the_cycle):
    bulk_list(people, the_cycle, 30)
    queue_cycle(the_cycle)
    push()
    writes = salesforce.counters()["write_requests"]

    queue_cycle(the_cycle)
    run = push()

    assert salesforce.counters()["write_requests"] == writes
    assert run.unchanged == 30


def test_a_change_updates_the_same_record_and_a_removal_unflags_it(salesforce, people, the_cycle):
    account = AccountFactory(domain="acme.example")
    put_on_list(people, the_cycle, account, tier=2)
    push()
    decide(nominate(people.marketer, the_cycle, account, kind="remove"), people.sales_approver)

    run = push()

    assert (run.updated, run.created) == (1, 0)
    record = accounts_in(salesforce)[str(account.key)]
    assert (record["Accord_Target_Account__c"], record["Accord_Tier__c"]) == (False, None)
    assert len(accounts_in(salesforce)) == 1


def test_it_writes_the_owners_salesforce_user_id(salesforce, people, the_cycle):
    CrmOwner.objects.create(user=people.sales_approver, salesforce_user_id="005Sb0000000042AAA")
    account = AccountFactory(sales_owner=people.sales_approver)
    put_on_list(people, the_cycle, account)

    push()

    assert accounts_in(salesforce)[str(account.key)]["OwnerId"] == "005Sb0000000042AAA"


def test_a_refused_record_fails_alone_with_salesforces_message(salesforce, people, the_cycle):
    accounts = bulk_list(people, the_cycle, 10)
    salesforce.set_faults(record_errors={"keys": [str(accounts[4].key)], "message": "No way"})
    queue_cycle(the_cycle)

    run = push()

    assert (run.created, run.failed, run.state) == (9, 1, SyncState.PARTIAL)
    entry = OutboxEntry.objects.get(account=accounts[4])
    assert entry.state == OutboxState.FAILED
    assert entry.last_error == "FIELD_CUSTOM_VALIDATION_EXCEPTION: No way"
    assert run.errors.get().crm_response["success"] is False


def test_the_request_limit_defers_the_work(salesforce, people, the_cycle):
    bulk_list(people, the_cycle, 5)
    queue_cycle(the_cycle)
    salesforce.hook("POST", "limits", {"daily_limit": 0})

    run = push()

    assert run.state == SyncState.PARTIAL
    assert "API request limit is reached" in run.message
    entries = OutboxEntry.objects.all()
    later = timezone.now() + timedelta(minutes=50)
    assert all(e.state == OutboxState.PENDING and e.next_attempt_at > later for e in entries)
    assert salesforce.counters()["by_route"][UPSERT] == 1  # tried once, then waits


def test_wrong_client_credentials_fail_the_run_clearly(salesforce, people, the_cycle, settings):
    settings.SALESFORCE_CLIENT_SECRET = "nope"
    bulk_list(people, the_cycle, 2)
    queue_cycle(the_cycle)

    run = push()

    assert run.state == SyncState.FAILED
    assert "invalid client credentials" in run.message


def test_a_token_expiring_during_a_push_is_renewed(salesforce, people, the_cycle, settings):
    settings.CRM_PUSH_BATCHES_PER_CLAIM = 1  # a progress call between batches
    accounts = bulk_list(people, the_cycle, 450)
    queue_cycle(the_cycle)

    def expire_tokens(run):  # after each batch, every token Salesforce issued expires
        salesforce.app.tokens.clear()

    run = services.outbox_push(trigger="command", progress=expire_tokens)

    assert run.state == SyncState.SUCCEEDED
    assert set(accounts_in(salesforce)) == {str(a.key) for a in accounts}
    assert salesforce.counters()["by_route"]["POST /services/oauth2/token"] == 3
