"""The upper funnel comes in: HubSpot's marketing touches on contacts (last web visit, last
marketing e-mail click, last form fill) and Salesforce's campaign responses become
marketing-side activities, each once."""

from datetime import UTC, datetime

import httpx
import pytest

from accounts_app.models import Activity, ActivityKind
from core.roles import Side
from tests.crm.pull_helpers import link_hubspot, pull, seed_hubspot, seed_salesforce
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

VISIT = datetime(2026, 3, 2, 9, 15, 30, 250000, tzinfo=UTC)
CLICK = datetime(2026, 3, 3, 14, 0, tzinfo=UTC)
FORM = datetime(2026, 3, 4, 8, 45, tzinfo=UTC)


def millis(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


@pytest.fixture
def ada(hubspot):
    """A HubSpot contact of Globex who visited the site, clicked an e-mail and filled a form."""
    account = AccountFactory(name="Globex", domain="globex.example")
    [company] = seed_hubspot(hubspot, "companies", {"name": "Globex", "domain": "globex.example"})
    [ada] = seed_hubspot(
        hubspot,
        "contacts",
        {
            "email": "ada@globex.example",
            "hs_analytics_last_visit_timestamp": millis(VISIT),  # HubSpot takes epoch ms too
            "hs_analytics_last_url": "https://vendor.example/pricing",
            "hs_email_last_click_date": CLICK.isoformat(),
            "hs_email_last_email_name": "March newsletter",
            "recent_conversion_date": FORM.isoformat(),
            "recent_conversion_event_name": "Demo request",
        },
    )
    link_hubspot(hubspot, ("contacts", ada, "companies", company))
    return account, ada


def test_hubspot_serves_the_marketing_properties_as_iso_timestamps(hubspot, ada):
    [row] = hubspot.objects("contacts")["results"]
    assert row["properties"]["hs_analytics_last_visit_timestamp"] == "2026-03-02T09:15:30.250Z"
    assert row["properties"]["recent_conversion_date"] == "2026-03-04T08:45:00.000Z"


def test_each_marketing_touch_of_a_hubspot_contact_is_a_marketing_activity(hubspot, ada):
    account, contact_id = ada

    run = pull()

    touches = {a.kind: a for a in Activity.objects.filter(account=account)}
    assert set(touches) == {
        ActivityKind.WEB_VISIT,
        ActivityKind.EMAIL_CLICK,
        ActivityKind.FORM_FILL,
    }
    assert {a.side for a in touches.values()} == {Side.MARKETING}
    visit = touches[ActivityKind.WEB_VISIT]
    assert visit.occurred_at == VISIT
    assert visit.contact.hubspot_contact_id == contact_id
    assert visit.subject == "https://vendor.example/pricing"
    assert visit.crm_id == f"hubspot:contact:{contact_id}:web_visit:{millis(VISIT)}"
    assert touches[ActivityKind.EMAIL_CLICK].subject == "March newsletter"
    assert touches[ActivityKind.FORM_FILL].subject == "Demo request"
    assert run.detail["objects"]["contacts"]["touches"] == 3


def test_a_marketing_touch_pulled_again_is_not_a_second_activity(hubspot, ada):
    pull()

    again = pull(full=True)

    assert Activity.objects.count() == 3
    assert again.detail["objects"]["contacts"]["touches"] == 0


def test_a_newer_visit_adds_an_activity_and_the_earlier_one_stays(hubspot, ada):
    account, contact_id = ada
    pull()
    later = datetime(2026, 3, 20, 17, 0, tzinfo=UTC)
    hubspot.hook(
        "POST",
        f"objects/contacts/{contact_id}",
        {"properties": {"hs_analytics_last_visit_timestamp": later.isoformat()}},
    )

    pull()

    visits = Activity.objects.filter(account=account, kind=ActivityKind.WEB_VISIT)
    assert sorted(v.occurred_at for v in visits) == [VISIT, later]
    assert Activity.objects.count() == 4


def test_marketing_touches_do_not_move_a_contacts_last_sales_engagement(hubspot, ada):
    pull()

    [contact] = ada[0].contacts.all()
    assert contact.last_engaged_at is None


# --- Salesforce campaign responses ---------------------------------------------------------------


@pytest.fixture
def campaign(salesforce):
    """Globex's Ada responded to a webinar; Ben was only sent it; a lead responded too."""
    account = AccountFactory(name="Globex", domain="globex.example")
    [sf_account] = seed_salesforce(
        salesforce, "Account", {"Name": "Globex", "Website": "globex.example"}
    )
    ada, ben = seed_salesforce(
        salesforce,
        "Contact",
        {"AccountId": sf_account, "LastName": "Ada", "Email": "ada@globex.example"},
        {"AccountId": sf_account, "LastName": "Ben", "Email": "ben@globex.example"},
    )
    [webinar] = seed_salesforce(
        salesforce, "Campaign", {"Name": "Forecasting webinar", "Type": "Webinar"}
    )
    responded, sent, _lead = seed_salesforce(
        salesforce,
        "CampaignMember",
        {
            "CampaignId": webinar,
            "ContactId": ada,
            "Status": "Responded",
            "FirstRespondedDate": "2026-02-10",
        },
        {"CampaignId": webinar, "ContactId": ben, "Status": "Sent"},
        {"CampaignId": webinar, "LeadId": "00QSb0000000001AAA", "Status": "Responded"},
    )
    return account, ada, ben, responded, sent


def test_a_campaign_response_is_a_marketing_activity_of_its_contact(salesforce, campaign):
    account, ada, _, responded, _ = campaign

    run = pull()

    [activity] = Activity.objects.all()
    assert (activity.account, activity.kind, activity.side, activity.subject) == (
        account,
        ActivityKind.CAMPAIGN_RESPONSE,
        Side.MARKETING,
        "Forecasting webinar",
    )
    assert activity.contact.salesforce_contact_id == ada
    assert activity.occurred_at == datetime(2026, 2, 10, tzinfo=UTC)
    assert activity.crm_id == f"salesforce:CampaignMember:{responded}"
    # Ben was only sent the campaign; the lead belongs to no account.
    assert run.detail["objects"]["CampaignMember"]["skipped"] == 2


def test_a_member_who_responds_later_is_added_by_the_next_pull_and_none_twice(salesforce, campaign):
    _, ada, ben, _, sent = campaign
    pull()
    token = httpx.post(
        f"{salesforce.url}/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "cid", "client_secret": "secret"},
    ).json()["access_token"]
    answer = httpx.patch(
        f"{salesforce.url}/services/data/v62.0/sobjects/CampaignMember/{sent}",
        json={"Status": "Registered"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 204

    again = pull()

    assert again.detail["objects"]["CampaignMember"]["read"] == 1  # only what changed
    responses = Activity.objects.filter(kind=ActivityKind.CAMPAIGN_RESPONSE)
    assert sorted(a.contact.salesforce_contact_id for a in responses) == sorted([ada, ben])
    pull(full=True)
    assert Activity.objects.count() == 2


def test_the_sandbox_refuses_a_relationship_campaign_members_do_not_have(salesforce):
    token = httpx.post(
        f"{salesforce.url}/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "cid", "client_secret": "secret"},
    ).json()["access_token"]
    answer = httpx.get(
        f"{salesforce.url}/services/data/v62.0/query",
        params={"q": "SELECT Id, Opportunity.Name FROM CampaignMember"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 400
    assert answer.json()[0]["errorCode"] == "INVALID_FIELD"
