"""Pulling HubSpot contacts (buying roles, last engagement), deals (stage, amount, open / won /
lost) and sales activities (calls, meetings, e-mails) into Accord's models."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts_app.models import (
    Activity,
    ActivityKind,
    BuyingRole,
    Contact,
    ContactRole,
    Opportunity,
    OpportunityStatus,
)
from core.roles import Side
from tests.crm.pull_helpers import link_hubspot, pull, seed_hubspot
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def globex(hubspot):
    """A company HubSpot and Accord both know, linked by the first pull."""
    account = AccountFactory(name="Globex", domain="globex.example")
    [company] = seed_hubspot(hubspot, "companies", {"name": "Globex", "domain": "globex.example"})
    pull(object_types=["companies"])
    account.refresh_from_db()
    assert account.hubspot_company_id == company
    return account


def roles(contact) -> set[str]:
    return set(contact.roles.values_list("role", flat=True))


def test_it_maps_contacts_with_every_buying_role_they_hold(hubspot, globex):
    ids = seed_hubspot(
        hubspot,
        "contacts",
        {
            "email": "Ada@Globex.example",
            "firstname": "Ada",
            "lastname": "L",
            "jobtitle": "CFO",
            "hs_buying_role": "BUDGET_HOLDER",
        },
        {
            "email": "grace@globex.example",
            "firstname": "Grace",
            "hs_buying_role": "INFLUENCER;DECISION_MAKER",
        },
        {"email": "alan@globex.example", "firstname": "Alan"},
    )
    link_hubspot(hubspot, *[("contacts", i, "companies", globex.hubspot_company_id) for i in ids])

    run = pull(object_types=["contacts"])

    contacts = {c.hubspot_contact_id: c for c in Contact.objects.filter(account=globex)}
    assert run.created == 3
    ada, grace, alan = (contacts[i] for i in ids)
    assert (ada.email, ada.first_name, ada.title) == ("ada@globex.example", "Ada", "CFO")
    assert roles(ada) == {BuyingRole.BUDGET_HOLDER}
    assert roles(grace) == {BuyingRole.INFLUENCER, BuyingRole.DECISION_MAKER}
    assert roles(alan) == set()


def test_a_contact_without_a_company_joins_the_account_of_its_email_domain(hubspot, globex):
    seed_hubspot(hubspot, "contacts", {"email": "nora@globex.example"})
    seed_hubspot(hubspot, "contacts", {"email": "someone@gmail.example"})

    run = pull(object_types=["contacts"])

    assert list(Contact.objects.values_list("email", "account")) == [
        ("nora@globex.example", globex.pk)
    ]
    assert run.detail["skipped"] == 1


def test_last_engagement_is_the_latest_date_and_never_goes_back(hubspot, globex):
    contact = ContactFactory(account=globex, email="ada@globex.example")
    later = timezone.now() - timedelta(days=1)
    Contact.objects.filter(pk=contact.pk).update(last_engaged_at=later)
    ContactRole.objects.create(contact=contact, role=BuyingRole.CHAMPION)
    [ada] = seed_hubspot(
        hubspot,
        "contacts",
        {
            "email": "ada@globex.example",
            "notes_last_contacted": "2026-03-01T10:00:00Z",
            "hs_last_sales_activity_timestamp": "2026-03-05T10:00:00Z",
        },
    )
    [ben] = seed_hubspot(
        hubspot,
        "contacts",
        {"email": "ben@globex.example", "notes_last_updated": "2026-02-01T09:30:00Z"},
    )
    link_hubspot(
        hubspot,
        ("contacts", ada, "companies", globex.hubspot_company_id),
        ("contacts", ben, "companies", globex.hubspot_company_id),
    )

    pull(object_types=["contacts"])

    contact.refresh_from_db()
    # The contact made in Accord is adopted (no second Ada), keeps its later engagement and
    # the role Accord gave it, since HubSpot has none.
    assert contact.hubspot_contact_id == ada
    assert Contact.objects.filter(account=globex).count() == 2
    assert contact.last_engaged_at == later
    assert roles(contact) == {BuyingRole.CHAMPION}
    assert Contact.objects.get(hubspot_contact_id=ben).last_engaged_at == datetime(
        2026, 2, 1, 9, 30, tzinfo=UTC
    )


def test_it_maps_deals_with_stage_amount_and_status(hubspot, globex):
    ids = seed_hubspot(
        hubspot,
        "deals",
        {
            "dealname": "Pilot",
            "dealstage": "qualifiedtobuy",
            "amount": "12500.50",
            "closedate": "2026-09-30T00:00:00Z",
            "deal_currency_code": "EUR",
        },
        {"dealname": "Renewal", "dealstage": "closedwon", "amount": "40000"},
        {"dealname": "Expansion", "dealstage": "closedlost"},
        {"dealname": "Elsewhere", "dealstage": "qualifiedtobuy"},
    )
    link_hubspot(hubspot, *[("deals", i, "companies", globex.hubspot_company_id) for i in ids[:3]])

    run = pull(object_types=["deals"])

    deals = {o.hubspot_deal_id: o for o in Opportunity.objects.all()}
    assert (run.created, run.detail["skipped"]) == (3, 1)  # "Elsewhere" has no company
    pilot, renewal, expansion = (deals[i] for i in ids[:3])
    assert (pilot.account, pilot.name, pilot.stage) == (globex, "Pilot", "Qualified to buy")
    assert (pilot.amount, pilot.currency, pilot.status) == (
        Decimal("12500.50"),
        "EUR",
        OpportunityStatus.OPEN,
    )
    assert pilot.close_date.isoformat() == "2026-09-30"
    assert (renewal.status, renewal.amount, renewal.currency) == (
        OpportunityStatus.WON,
        Decimal("40000.00"),
        "USD",
    )
    assert (expansion.status, expansion.amount) == (OpportunityStatus.LOST, None)


def test_a_deal_without_a_company_joins_its_contacts_account(hubspot, globex):
    [ada] = seed_hubspot(hubspot, "contacts", {"email": "ada@globex.example"})
    [deal] = seed_hubspot(hubspot, "deals", {"dealname": "Via Ada", "dealstage": "contractsent"})
    link_hubspot(hubspot, ("deals", deal, "contacts", ada))

    pull(object_types=["contacts", "deals"])

    assert Opportunity.objects.get(hubspot_deal_id=deal).account == globex


def test_it_maps_calls_meetings_and_emails_as_sales_touches(hubspot, globex):
    [ada] = seed_hubspot(hubspot, "contacts", {"email": "ada@globex.example"})
    link_hubspot(hubspot, ("contacts", ada, "companies", globex.hubspot_company_id))
    [call] = seed_hubspot(
        hubspot, "calls", {"hs_call_title": "Discovery", "hs_timestamp": "2026-01-10T15:00:00Z"}
    )
    [meeting] = seed_hubspot(
        hubspot, "meetings", {"hs_meeting_title": "Demo", "hs_timestamp": "2026-01-20T09:00:00Z"}
    )
    [email] = seed_hubspot(
        hubspot, "emails", {"hs_email_subject": "Proposal", "hs_timestamp": "2026-01-25T08:00:00Z"}
    )
    future = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    [planned] = seed_hubspot(
        hubspot, "meetings", {"hs_meeting_title": "Next", "hs_timestamp": future.isoformat()}
    )
    link_hubspot(
        hubspot,
        ("calls", call, "contacts", ada),
        ("calls", call, "companies", globex.hubspot_company_id),
        ("meetings", meeting, "companies", globex.hubspot_company_id),
        ("emails", email, "contacts", ada),  # no company: its contact's account
        ("meetings", planned, "contacts", ada),
    )

    pull()

    touches = {a.crm_id: a for a in Activity.objects.filter(account=globex)}
    assert set(touches) == {
        f"hubspot:calls:{call}",
        f"hubspot:meetings:{meeting}",
        f"hubspot:emails:{email}",
        f"hubspot:meetings:{planned}",
    }
    discovery = touches[f"hubspot:calls:{call}"]
    assert (discovery.kind, discovery.side, discovery.subject) == (
        ActivityKind.CALL,
        Side.SALES,
        "Discovery",
    )
    assert discovery.contact.hubspot_contact_id == ada
    assert discovery.occurred_at == datetime(2026, 1, 10, 15, tzinfo=UTC)
    assert touches[f"hubspot:meetings:{meeting}"].kind == ActivityKind.MEETING
    assert touches[f"hubspot:emails:{email}"].kind == ActivityKind.EMAIL
    # The latest past touch is the contact's last engagement; the planned meeting is not.
    assert Contact.objects.get(hubspot_contact_id=ada).last_engaged_at == datetime(
        2026, 1, 25, 8, tzinfo=UTC
    )


def test_pulling_twice_creates_nothing_twice(hubspot, globex):
    [ada] = seed_hubspot(hubspot, "contacts", {"email": "ada@globex.example"})
    [deal] = seed_hubspot(hubspot, "deals", {"dealname": "Pilot", "dealstage": "contractsent"})
    [call] = seed_hubspot(hubspot, "calls", {"hs_timestamp": "2026-01-10T15:00:00Z"})
    link_hubspot(
        hubspot,
        ("contacts", ada, "companies", globex.hubspot_company_id),
        ("deals", deal, "companies", globex.hubspot_company_id),
        ("calls", call, "contacts", ada),
    )

    first = pull(full=True)
    again = pull(full=True)

    assert (Contact.objects.count(), Opportunity.objects.count(), Activity.objects.count()) == (
        1,
        1,
        1,
    )
    assert (first.created, again.created, again.updated) == (3, 0, 0)
    assert again.unchanged == again.done == 4  # the company too
