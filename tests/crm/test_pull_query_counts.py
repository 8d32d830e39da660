"""A page of the pull costs the same number of queries for a few records and for many: roles
and marketing touches are written in bulk, not row by row."""

import httpx
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.crm.pull_helpers import pull, seed_hubspot, seed_salesforce
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

ROLES = ["BUDGET_HOLDER;DECISION_MAKER", "CHAMPION", "INFLUENCER;END_USER;BLOCKER"]


def queries_of(**kwargs) -> int:
    with CaptureQueriesContext(connection) as captured:
        pull(full=True, **kwargs)
    return len(captured)


def test_a_page_of_hubspot_contacts_costs_the_same_queries_for_5_and_for_50(hubspot):
    AccountFactory(domain="globex.example")
    [company] = seed_hubspot(hubspot, "companies", {"name": "Globex", "domain": "globex.example"})
    pull()  # the cursors exist from now on

    def add(start: int, n: int) -> list[str]:
        return seed_hubspot(
            hubspot,
            "contacts",
            *(
                {
                    "email": f"c{i}@globex.example",
                    "associatedcompanyid": company,
                    "hs_buying_role": ROLES[i % 3],
                    "hs_analytics_last_visit_timestamp": f"2026-03-0{1 + i % 9}T10:00:00Z",
                    "recent_conversion_date": f"2026-02-0{1 + i % 9}T10:00:00Z",
                }
                for i in range(start, start + n)
            ),
        )

    def change(ids: list[str]) -> None:
        for contact_id in ids:
            hubspot.hook(
                "POST",
                f"objects/contacts/{contact_id}",
                {
                    "properties": {
                        "hs_buying_role": "OTHER;CHAMPION",
                        "hs_email_last_click_date": "2026-03-10T12:00:00Z",
                    }
                },
            )

    add(100, 5)
    pull(full=True)  # some contacts Accord has already: each measured page holds old and new ones
    first = add(0, 5)
    created_5 = queries_of(object_types=["contacts"])
    rest = add(5, 50)
    created_50 = queries_of(object_types=["contacts"])
    change(first)
    replaced_5 = queries_of(object_types=["contacts"])
    change(rest)
    replaced_50 = queries_of(object_types=["contacts"])

    assert created_50 == created_5
    assert replaced_50 == replaced_5


def test_a_page_of_salesforce_roles_and_responses_costs_the_same_for_5_and_for_50(salesforce):
    AccountFactory(domain="globex.example")
    [sf_account] = seed_salesforce(
        salesforce, "Account", {"Name": "Globex", "Website": "globex.example"}
    )
    [webinar] = seed_salesforce(salesforce, "Campaign", {"Name": "Webinar"})
    types = ["Contact", "AccountContactRole", "CampaignMember"]
    pull()
    token = httpx.post(
        f"{salesforce.url}/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "cid", "client_secret": "secret"},
    ).json()["access_token"]

    def add(start: int, n: int) -> list[str]:
        contacts = seed_salesforce(
            salesforce,
            "Contact",
            *(
                {"AccountId": sf_account, "LastName": f"C{i}", "Email": f"c{i}@globex.example"}
                for i in range(start, start + n)
            ),
        )
        seed_salesforce(
            salesforce,
            "CampaignMember",
            *({"CampaignId": webinar, "ContactId": c, "Status": "Responded"} for c in contacts),
        )
        return seed_salesforce(
            salesforce,
            "AccountContactRole",
            *(
                {"AccountId": sf_account, "ContactId": c, "Role": role}
                for c in contacts
                for role in ("Decision Maker", "Evaluator")
            ),
        )

    def change(role_ids: list[str]) -> None:
        for role_id in role_ids[::2]:
            answer = httpx.patch(
                f"{salesforce.url}/services/data/v62.0/sobjects/AccountContactRole/{role_id}",
                json={"Role": "Executive Sponsor"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.status_code == 204

    add(100, 5)
    pull(full=True)  # some contacts Accord has already: each measured page holds old and new ones
    first = add(0, 5)
    created_5 = queries_of(object_types=types)
    rest = add(5, 50)
    created_50 = queries_of(object_types=types)
    change(first)
    replaced_5 = queries_of(object_types=types)
    change(rest)
    replaced_50 = queries_of(object_types=types)

    assert created_50 == created_5
    assert replaced_50 == replaced_5
