"""A push run lists the records it sent, with the account, its CRM id and the change that sent
it; not those the CRM already had, and at most CRM_RUN_RECORDS_KEPT of them per run (the
run's counts cover every record)."""

import pytest
from django.test import Client
from django.urls import reverse

from crm import services
from crm.models import SyncRunRecord
from tests.crm.helpers import bulk_list, companies_by_key, queue_cycle
from tests.factories import AccountFactory
from tests.workflow.helpers import decide, nominate, put_on_list

pytestmark = pytest.mark.django_db


def push():
    return services.outbox_push(trigger="command")


def run_page(user, run) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(reverse("crm:run", args=[run.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_run_page_lists_the_records_it_sent(hubspot, people, the_cycle):
    account = AccountFactory(name="Globex", domain="globex.example")
    put_on_list(people, the_cycle, account)

    run = push()

    account.refresh_from_db()
    crm_id = companies_by_key(hubspot)[str(account.key)]["hs_object_id"]
    assert account.hubspot_company_id == crm_id
    record = SyncRunRecord.objects.get(run=run)
    assert (record.account, record.crm_id, record.change, record.created) == (
        account,
        crm_id,
        "added",
        True,
    )
    page = run_page(people.sales_member, run)
    sent = page[page.index('data-testid="records-sent"') :]
    sent = sent[: sent.index("</table>")]
    assert "Globex" in sent
    assert f"<code>{crm_id}</code>" in sent
    assert "Added to a list" in sent
    assert "Created" in sent


def test_records_the_crm_already_had_are_not_listed(hubspot, people, the_cycle):
    bulk_list(people, the_cycle, 3)
    queue_cycle(the_cycle)
    push()

    queue_cycle(the_cycle)
    again = push()

    assert (again.unchanged, again.sent) == (3, 0)
    assert not SyncRunRecord.objects.filter(run=again).exists()
    page = run_page(people.ops, again)
    assert "3 records already up to date there were not sent" in page


def test_a_second_change_lists_the_update(hubspot, people, the_cycle):
    account = AccountFactory(name="Globex", domain="globex.example")
    target = put_on_list(people, the_cycle, account, tier=1)
    push()
    decide(
        nominate(people.marketer, the_cycle, account, kind="change_tier", tier=2),
        people.sales_approver,
    )
    run = push()

    record = SyncRunRecord.objects.get(run=run)
    assert (record.account_id, record.change, record.created) == (
        target.account_id,
        "tier_changed",
        False,
    )


def test_it_keeps_at_most_the_configured_number_of_records_per_run(
    hubspot, people, the_cycle, settings
):
    settings.CRM_RUN_RECORDS_KEPT = 120
    bulk_list(people, the_cycle, 250)
    queue_cycle(the_cycle)

    run = push()

    assert (run.sent, run.created) == (250, 250)
    assert SyncRunRecord.objects.filter(run=run).count() == 120
    page = run_page(people.ops, run)
    assert "The first 120 are listed; the counts above cover them all." in page
