"""Pushing target accounts to the HubSpot sandbox over HTTP: batches, upsert by key, domain
matching, owners, removals, and nothing sent when nothing changed."""

import pytest

from accounts_app.models import Account
from crm import outbox, services
from crm.models import CrmOwner, OutboxEntry, OutboxState, SyncState
from tests.crm.helpers import (
    KEY_PROPERTY,
    bulk_list,
    companies,
    companies_by_key,
    queue_cycle,
    write_requests,
)
from tests.factories import AccountFactory
from tests.workflow.helpers import decide, nominate, put_on_list

pytestmark = pytest.mark.django_db

UPSERT = "POST /crm/v3/objects/companies/batch/upsert"
UPDATE = "POST /crm/v3/objects/companies/batch/update"
SEARCH = "POST /crm/v3/objects/companies/search"


def push():
    return services.outbox_push(trigger="command")


def routes(sandbox) -> dict:
    return sandbox.counters()["by_route"]


def test_it_creates_the_list_in_batches_of_at_most_100(hubspot, people, the_cycle):
    accounts = bulk_list(people, the_cycle, 250, tier=2)
    queue_cycle(the_cycle)

    run = push()

    assert run.state == SyncState.SUCCEEDED
    assert (run.done, run.sent, run.created, run.failed) == (250, 250, 250, 0)
    assert routes(hubspot)[UPSERT] == 3  # 100 + 100 + 50
    found = companies_by_key(hubspot)
    assert set(found) == {str(a.key) for a in accounts}
    assert {p["hs_is_target_account"] for p in found.values()} == {"true"}
    assert {p["hs_ideal_customer_profile"] for p in found.values()} == {"tier_2"}
    first = found[str(accounts[0].key)]
    assert (first["name"], first["domain"]) == ("bulk 0", "bulk0.example")


def test_it_keeps_hubspots_company_id_on_the_account(hubspot, people, the_cycle):
    account = AccountFactory(domain="globex.example")
    put_on_list(people, the_cycle, account)

    push()

    account.refresh_from_db()
    company = companies_by_key(hubspot)[str(account.key)]
    assert account.hubspot_company_id == company["hs_object_id"]


def test_a_second_push_with_nothing_changed_sends_no_write_request(hubspot, people, the_cycle):
    bulk_list(people, the_cycle, 120)
    queue_cycle(the_cycle)
    push()
    writes = write_requests(hubspot)
    requests = hubspot.counters()["requests"]

    queue_cycle(the_cycle)
    again = push()

    assert write_requests(hubspot) == writes
    assert hubspot.counters()["requests"] == requests
    assert (again.done, again.unchanged, again.sent) == (120, 120, 0)
    assert not OutboxEntry.objects.exclude(state=OutboxState.DELIVERED).exists()


def test_a_known_company_is_updated_by_its_id(hubspot, people, the_cycle):
    account = AccountFactory(domain="initech.example")
    put_on_list(people, the_cycle, account, tier=3)
    push()

    n = nominate(people.marketer, the_cycle, account, kind="change_tier", tier=1)
    decide(n, people.sales_approver)
    run = push()

    assert routes(hubspot).get(UPDATE) == 1
    assert routes(hubspot)[UPSERT] == 1  # only the first push
    assert (run.sent, run.updated, run.created) == (1, 1, 0)
    assert len(companies(hubspot)) == 1
    assert companies_by_key(hubspot)[str(account.key)]["hs_ideal_customer_profile"] == "tier_1"


def test_it_adopts_the_company_with_the_same_domain_instead_of_creating_one(
    hubspot, people, the_cycle
):
    hubspot.seed(
        companies=[
            {"properties": {"name": "Globex (from sales)", "domain": "www.Globex.example"}},
            {"properties": {"name": "Someone else", "domain": "other.example"}},
        ]
    )
    account = AccountFactory(name="Globex", domain="globex.example")
    put_on_list(people, the_cycle, account)

    push()

    assert len(companies(hubspot)) == 2  # nothing created
    adopted = companies_by_key(hubspot)[str(account.key)]
    assert adopted["domain"] == "globex.example"
    assert adopted["hs_is_target_account"] == "true"
    account.refresh_from_db()
    assert account.hubspot_company_id == adopted["hs_object_id"]
    assert routes(hubspot)[SEARCH] == 1


def test_a_company_already_keyed_by_accord_is_not_adopted_twice(hubspot, people, the_cycle):
    """Only companies without an Accord key are matched on domain: another Accord account's
    company keeps its key."""
    hubspot.seed(
        companies=[{"properties": {"domain": "dup.example", KEY_PROPERTY: "someone-elses-key"}}]
    )
    account = AccountFactory(domain="dup.example")
    put_on_list(people, the_cycle, account)

    push()

    keys = {c["properties"].get(KEY_PROPERTY) for c in companies(hubspot)}
    assert keys == {"someone-elses-key", str(account.key)}


def test_a_big_push_reads_the_unkeyed_companies_once(hubspot, people, the_cycle):
    """300 companies without a key, 250 accounts to place: reading them (2 pages) costs fewer
    requests than a search per batch, and every matching one is adopted."""
    hubspot.seed(
        companies=[
            {"properties": {"name": f"CRM {i}", "domain": f"bulk{i * 2}.example"}}
            for i in range(300)
        ]
    )
    accounts = bulk_list(people, the_cycle, 250)
    queue_cycle(the_cycle)

    push()

    assert routes(hubspot)[SEARCH] == 2
    # Even-numbered accounts matched one of the seeded companies; odd ones were created.
    assert len(companies(hubspot)) == 300 + 125
    found = companies_by_key(hubspot)
    assert set(found) == {str(a.key) for a in accounts}


def test_a_removal_unflags_the_company(hubspot, people, the_cycle):
    account = AccountFactory(domain="hooli.example")
    put_on_list(people, the_cycle, account, tier=2)
    push()

    n = nominate(people.marketer, the_cycle, account, kind="remove")
    decide(n, people.sales_approver)
    push()

    company = companies_by_key(hubspot)[str(account.key)]
    assert company["hs_is_target_account"] == "false"
    assert company.get("hs_ideal_customer_profile") is None
    assert len(companies(hubspot)) == 1


def test_it_writes_the_sales_owners_hubspot_owner_id(hubspot, people, the_cycle):
    CrmOwner.objects.create(user=people.sales_approver, hubspot_owner_id="102")
    account = AccountFactory(domain="umbrella.example", sales_owner=people.sales_approver)
    put_on_list(people, the_cycle, account)

    push()

    assert companies_by_key(hubspot)[str(account.key)]["hubspot_owner_id"] == "102"


def test_a_new_owner_reaches_the_list_and_the_crm(hubspot, people, the_cycle):
    from accounts_app.services import account_update

    CrmOwner.objects.create(user=people.sales_approver, hubspot_owner_id="102")
    CrmOwner.objects.create(user=people.sales_approver_2, hubspot_owner_id="103")
    account = AccountFactory(domain="tyrell.example", sales_owner=people.sales_approver)
    target = put_on_list(people, the_cycle, account)
    push()

    account_update(account=account, by=people.ops, sales_owner=people.sales_approver_2)
    push()

    target.refresh_from_db()
    assert target.sales_owner == people.sales_approver_2
    assert companies_by_key(hubspot)[str(account.key)]["hubspot_owner_id"] == "103"


def test_a_record_the_crm_refuses_fails_alone(hubspot, people, the_cycle):
    accounts = bulk_list(people, the_cycle, 30)
    refused = accounts[7]
    hubspot.set_faults(record_errors={"keys": [str(refused.key)], "message": "Blocked by rule"})
    queue_cycle(the_cycle)

    run = push()

    assert run.state == SyncState.PARTIAL
    assert (run.sent, run.created, run.failed) == (30, 29, 1)
    entry = OutboxEntry.objects.get(account=refused)
    assert entry.state == OutboxState.FAILED
    assert "Blocked by rule" in entry.last_error
    error = run.errors.get()
    assert (error.object_key, error.account_id) == (str(refused.key), refused.pk)
    assert "Blocked by rule" in error.message
    assert error.crm_response["category"] == "VALIDATION_ERROR"
    assert str(refused.key) not in companies_by_key(hubspot)
    assert OutboxEntry.objects.filter(state=OutboxState.DELIVERED).count() == 29


def test_a_batch_refused_as_a_whole_is_split_to_find_the_faulty_record(hubspot, people, the_cycle):
    """HubSpot refuses a whole batch for one unknown owner id: the others still go."""
    accounts = bulk_list(people, the_cycle, 20)
    CrmOwner.objects.create(user=people.sales_approver, hubspot_owner_id="999")  # not in HubSpot
    bad = accounts[5]
    Account.objects.filter(pk=bad.pk).update(sales_owner=people.sales_approver)
    from workflow.models import TargetAccount

    TargetAccount.objects.filter(account=bad).update(sales_owner=people.sales_approver)
    queue_cycle(the_cycle)

    run = push()

    assert (run.created, run.failed) == (19, 1)
    entry = OutboxEntry.objects.get(account=bad)
    assert entry.state == OutboxState.FAILED
    assert "999 is not a valid owner id" in entry.last_error
    assert len(companies_by_key(hubspot)) == 19


def test_a_failed_record_goes_again_once_ops_retry_it(hubspot, people, the_cycle):
    accounts = bulk_list(people, the_cycle, 3)
    hubspot.set_faults(record_errors={"keys": [str(accounts[1].key)]})
    queue_cycle(the_cycle)
    run = push()
    hubspot.clear_faults()

    assert services.sync_run_retry(run=run, by=people.ops) == 1
    push()

    assert set(companies_by_key(hubspot)) == {str(a.key) for a in accounts}
    assert not OutboxEntry.objects.exclude(state=OutboxState.DELIVERED).exists()


def test_the_cycle_push_sends_removals_too(hubspot, people, the_cycle):
    keep, drop = AccountFactory(domain="keep.example"), AccountFactory(domain="drop.example")
    put_on_list(people, the_cycle, keep)
    put_on_list(people, the_cycle, drop)
    decide(nominate(people.marketer, the_cycle, drop, kind="remove"), people.sales_approver)
    OutboxEntry.objects.all().delete()  # as if the CRM had been switched on only now

    run = services.cycle_push(cycle=the_cycle)

    assert (run.total, run.done, run.created) == (2, 2, 2)
    found = companies_by_key(hubspot)
    assert found[str(keep.key)]["hs_is_target_account"] == "true"
    assert found[str(drop.key)]["hs_is_target_account"] == "false"


def test_an_account_on_two_lists_follows_the_active_cycle(hubspot, people, the_cycle):
    from tests.factories import cycle as make_cycle
    from workflow.models import CycleState

    planned = make_cycle("FY27 H2", state=CycleState.PLANNING)
    account = AccountFactory(domain="both.example")
    put_on_list(people, the_cycle, account, tier=2)
    put_on_list(people, planned, account, tier=1)
    push()

    assert companies_by_key(hubspot)[str(account.key)]["hs_ideal_customer_profile"] == "tier_2"


def test_the_outbox_entry_records_what_changed(hubspot, people, the_cycle):
    account = AccountFactory()
    put_on_list(people, the_cycle, account)
    entry = OutboxEntry.objects.get(account=account)
    assert (entry.change, entry.cycle, entry.state) == ("added", the_cycle, "pending")

    outbox_id = outbox.record(account_id=account.pk, change="tier_changed")

    assert outbox_id == entry.pk
    entry.refresh_from_db()
    assert (entry.change, entry.version) == ("tier_changed", 2)


def test_a_company_deleted_in_hubspot_is_written_again_by_key(hubspot, people, the_cycle):
    from crm.models import DeliveredPayload

    account = AccountFactory(domain="gone.example")
    put_on_list(people, the_cycle, account)
    push()
    company_id = companies_by_key(hubspot)[str(account.key)]["hs_object_id"]
    # Accord holds an id HubSpot no longer knows, and something changed since.
    Account.objects.filter(pk=account.pk).update(hubspot_company_id="987654321")
    DeliveredPayload.objects.all().delete()
    outbox.record(account_id=account.pk, change="resync")

    run = push()

    assert (run.sent, run.updated, run.failed) == (1, 1, 0)
    assert routes(hubspot)[UPDATE] == 1  # refused as unknown, then upserted by key
    account.refresh_from_db()
    assert account.hubspot_company_id == company_id
    assert len(companies(hubspot)) == 1
