"""Pulling Salesforce with SOQL: accounts, contacts with their contact roles, opportunities,
tasks and events; nextRecordsUrl paging; only what changed since the last pull."""

from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from accounts_app.models import (
    Account,
    Activity,
    ActivityKind,
    BuyingRole,
    Contact,
    Opportunity,
    OpportunityStatus,
)
from core.roles import Side
from crm.models import SyncState
from tests.crm.pull_helpers import pull, seed_salesforce
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

QUERY_MORE = "GET /services/data/v62.0/query/{locator}"


@pytest.fixture
def globex(salesforce):
    """Globex in Accord (with its own name) and in Salesforce, with two contacts."""
    account = AccountFactory(name="Globex (Accord)", domain="globex.example", industry="")
    [sf_account] = seed_salesforce(
        salesforce,
        "Account",
        {"Name": "Globex Inc", "Website": "https://www.globex.example/", "Industry": "Software"},
    )
    ada, ben = seed_salesforce(
        salesforce,
        "Contact",
        {
            "AccountId": sf_account,
            "FirstName": "Ada",
            "LastName": "L",
            "Email": "ada@globex.example",
            "Title": "CFO",
            "LastActivityDate": "2026-02-03",
        },
        {"AccountId": sf_account, "LastName": "Ben", "Email": "ben@globex.example"},
    )
    return account, sf_account, ada, ben


def test_it_maps_accounts_and_contacts_keeping_accords_fields(salesforce, globex):
    account, sf_account, ada, _ = globex

    run = pull()

    account.refresh_from_db()
    assert run.state == SyncState.SUCCEEDED
    assert account.salesforce_account_id == sf_account
    assert (account.name, account.industry) == ("Globex (Accord)", "Software")
    contact = Contact.objects.get(salesforce_contact_id=ada)
    assert (contact.account, contact.first_name, contact.email, contact.title) == (
        account,
        "Ada",
        "ada@globex.example",
        "CFO",
    )
    assert contact.last_engaged_at == datetime(2026, 2, 3, tzinfo=UTC)
    assert Contact.objects.filter(account=account).count() == 2


def test_a_contact_holds_its_account_roles_and_its_opportunity_roles(salesforce, globex):
    _, sf_account, ada, ben = globex
    [deal] = seed_salesforce(
        salesforce,
        "Opportunity",
        {
            "AccountId": sf_account,
            "Name": "Pilot",
            "StageName": "Prospecting",
            "CloseDate": "2026-09-30",
        },
    )
    seed_salesforce(
        salesforce,
        "AccountContactRole",
        {"AccountId": sf_account, "ContactId": ada, "Role": "Economic Buyer", "IsPrimary": True},
    )
    seed_salesforce(
        salesforce,
        "OpportunityContactRole",
        {"OpportunityId": deal, "ContactId": ada, "Role": "Evaluator"},
        {"OpportunityId": deal, "ContactId": ben, "Role": "Decision Maker"},
    )

    pull()

    roles = {}
    for contact_id, role in Contact.objects.values_list("salesforce_contact_id", "roles__role"):
        roles.setdefault(contact_id, set()).add(role)
    # Each role once, from the account and from its opportunities: Salesforce's roles are as
    # many records as the contact has roles.
    assert roles == {
        ada: {BuyingRole.BUDGET_HOLDER, BuyingRole.INFLUENCER},
        ben: {BuyingRole.DECISION_MAKER},
    }


def test_it_maps_opportunities_with_stage_amount_and_status(salesforce, globex):
    account, sf_account, _, _ = globex
    won, open_ = seed_salesforce(
        salesforce,
        "Opportunity",
        {
            "AccountId": sf_account,
            "Name": "Renewal",
            "StageName": "Closed Won",
            "Amount": 40000,
            "CloseDate": "2026-03-31",
        },
        {
            "AccountId": sf_account,
            "Name": "Pilot",
            "StageName": "Needs Analysis",
            "Amount": 1250.5,
            "CloseDate": "2026-09-30",
        },
    )

    pull()

    renewal = Opportunity.objects.get(salesforce_opportunity_id=won)
    pilot = Opportunity.objects.get(salesforce_opportunity_id=open_)
    assert (renewal.account, renewal.status, renewal.amount) == (
        account,
        OpportunityStatus.WON,
        Decimal("40000.00"),
    )
    assert (pilot.stage, pilot.status, pilot.amount, pilot.currency) == (
        "Needs Analysis",
        OpportunityStatus.OPEN,
        Decimal("1250.50"),
        "USD",
    )
    assert pilot.close_date.isoformat() == "2026-09-30"


def test_it_maps_calls_emails_and_events_but_not_to_dos(salesforce, globex):
    account, sf_account, ada, _ = globex
    call, email, _todo = seed_salesforce(
        salesforce,
        "Task",
        {
            "WhoId": ada,
            "WhatId": sf_account,
            "Subject": "Discovery",
            "TaskSubtype": "Call",
            "ActivityDate": "2026-01-10",
            "CompletedDateTime": "2026-01-10T15:00:00.000+0000",
        },
        {"WhoId": ada, "Subject": "Proposal", "TaskSubtype": "Email", "ActivityDate": "2026-01-11"},
        {"WhatId": sf_account, "Subject": "Update the forecast", "TaskSubtype": "Task"},
    )
    [event] = seed_salesforce(
        salesforce,
        "Event",
        {
            "WhoId": ada,
            "WhatId": sf_account,
            "Subject": "Demo",
            "ActivityDateTime": "2026-01-12T10:00:00.000+0000",
            "DurationInMinutes": 30,
        },
    )

    run = pull()

    touches = {a.crm_id: a for a in Activity.objects.all()}
    assert set(touches) == {
        f"salesforce:Task:{call}",
        f"salesforce:Task:{email}",
        f"salesforce:Event:{event}",
    }
    assert run.detail["objects"]["Task"]["skipped"] == 1
    discovery = touches[f"salesforce:Task:{call}"]
    assert (discovery.account, discovery.kind, discovery.side) == (
        account,
        ActivityKind.CALL,
        Side.SALES,
    )
    assert discovery.occurred_at == datetime(2026, 1, 10, 15, tzinfo=UTC)
    assert discovery.contact.salesforce_contact_id == ada
    assert touches[f"salesforce:Task:{email}"].kind == ActivityKind.EMAIL
    demo = touches[f"salesforce:Event:{event}"]
    assert (demo.kind, demo.occurred_at) == (
        ActivityKind.MEETING,
        datetime(2026, 1, 12, 10, tzinfo=UTC),
    )


def test_it_follows_next_records_url_through_the_pages_of_a_query(salesforce):
    salesforce.seed(Account=1, Contact=4500, modified_start="2025-01-01T00:00:00Z")

    run = pull()

    assert run.state == SyncState.SUCCEEDED
    assert Account.objects.count() == 1
    assert Contact.objects.count() == 4500
    # 2,000 a page: the contacts' query and two more pages.
    assert salesforce.counters()["by_route"][QUERY_MORE] == 2


def test_a_second_pull_reads_only_what_changed_since_the_first(salesforce, globex):
    sf_account = globex[1]
    pull()
    token = httpx.post(
        f"{salesforce.url}/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "cid", "client_secret": "secret"},
    ).json()["access_token"]
    created = httpx.post(
        f"{salesforce.url}/services/data/v62.0/sobjects/Contact",
        json={"AccountId": sf_account, "LastName": "Cleo", "Email": "cleo@globex.example"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 201

    again = pull()

    assert (again.done, again.created) == (1, 1)
    assert again.detail["objects"]["Contact"]["read"] == 1
    assert Contact.objects.filter(email="cleo@globex.example").exists()


def test_two_contacts_with_one_email_at_an_account_are_reported_not_merged(salesforce, globex):
    account, sf_account, ada, _ = globex
    [twin] = seed_salesforce(
        salesforce,
        "Contact",
        {"AccountId": sf_account, "LastName": "Ada again", "Email": "ADA@globex.example"},
    )

    run = pull()

    assert Contact.objects.get(email="ada@globex.example").salesforce_contact_id == ada
    assert not Contact.objects.filter(salesforce_contact_id=twin).exists()
    [error] = run.errors.all()
    assert (error.object_type, error.object_key, error.account) == ("contact", twin, account)
    assert "already has the e-mail ada@globex.example" in error.message
    assert run.state == SyncState.PARTIAL
