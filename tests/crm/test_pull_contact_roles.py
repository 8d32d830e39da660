"""A contact holds every buying role the CRM gives it, and a later pull replaces them."""

import httpx
import pytest

from accounts_app.models import BuyingRole, Contact
from tests.crm.helpers import TOKEN
from tests.crm.pull_helpers import link_hubspot, pull, seed_hubspot, seed_salesforce
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def roles_of(**contact) -> set[str]:
    return set(Contact.objects.get(**contact).roles.values_list("role", flat=True))


def test_a_hubspot_contact_holds_each_of_its_roles_until_hubspot_changes_them(hubspot):
    account = AccountFactory(domain="globex.example")
    [company] = seed_hubspot(hubspot, "companies", {"name": "Globex", "domain": "globex.example"})
    [ada] = seed_hubspot(
        hubspot,
        "contacts",
        {"email": "ada@globex.example", "hs_buying_role": "BUDGET_HOLDER;DECISION_MAKER"},
    )
    link_hubspot(hubspot, ("contacts", ada, "companies", company))

    pull()

    assert Contact.objects.get(hubspot_contact_id=ada).account == account
    assert roles_of(hubspot_contact_id=ada) == {
        BuyingRole.BUDGET_HOLDER,
        BuyingRole.DECISION_MAKER,
    }

    changed = httpx.patch(
        f"{hubspot.url}/crm/v3/objects/contacts/{ada}",
        json={"properties": {"hs_buying_role": "CHAMPION;EXECUTIVE_SPONSOR"}},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert changed.status_code == 200

    again = pull()

    assert again.detail["objects"]["contacts"]["updated"] == 1
    assert roles_of(hubspot_contact_id=ada) == {
        BuyingRole.CHAMPION,
        BuyingRole.EXECUTIVE_SPONSOR,
    }


def test_a_salesforce_contact_loses_a_role_record_that_moved_to_another_role(salesforce):
    AccountFactory(domain="globex.example")
    [sf_account] = seed_salesforce(
        salesforce, "Account", {"Name": "Globex", "Website": "globex.example"}
    )
    [ada] = seed_salesforce(
        salesforce,
        "Contact",
        {"AccountId": sf_account, "LastName": "Ada", "Email": "a@globex.example"},
    )
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
    [account_role] = seed_salesforce(
        salesforce,
        "AccountContactRole",
        {"AccountId": sf_account, "ContactId": ada, "Role": "Decision Maker"},
    )
    seed_salesforce(
        salesforce,
        "OpportunityContactRole",
        {"OpportunityId": deal, "ContactId": ada, "Role": "Economic Buyer"},
        {"OpportunityId": deal, "ContactId": ada, "Role": "Technical Buyer"},
    )

    pull()

    assert roles_of(salesforce_contact_id=ada) == {
        BuyingRole.DECISION_MAKER,
        BuyingRole.BUDGET_HOLDER,
        BuyingRole.INFLUENCER,  # "Technical Buyer"
    }

    token = httpx.post(
        f"{salesforce.url}/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "cid", "client_secret": "secret"},
    ).json()["access_token"]
    changed = httpx.patch(
        f"{salesforce.url}/services/data/v62.0/sobjects/AccountContactRole/{account_role}",
        json={"Role": "Executive Sponsor"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert changed.status_code == 204, changed.text

    pull()

    assert roles_of(salesforce_contact_id=ada) == {
        BuyingRole.EXECUTIVE_SPONSOR,
        BuyingRole.BUDGET_HOLDER,
        BuyingRole.INFLUENCER,
    }
