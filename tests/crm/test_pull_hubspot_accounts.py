"""Pulling HubSpot companies: accounts are linked by company id, then by domain; Accord's own
fields stay as Accord has them; unknown companies become accounts (or not)."""

import pytest

from accounts_app.models import Account, Source
from accounts_app.services import icp_sign_off, icp_version_create, icp_version_submit
from crm.models import SyncState
from tests.crm.pull_helpers import pull, seed_hubspot
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def test_it_links_an_account_by_domain_and_keeps_accords_fields(hubspot, people):
    account = AccountFactory(
        name="Globex (as we call it)",
        domain="globex.example",
        industry="",
        employee_count=None,
        country="DE",
        sales_owner=people.sales_member,
        marketing_owner=people.marketing_member,
        fit_score=42,
    )
    [company] = seed_hubspot(
        hubspot,
        "companies",
        {
            "name": "GLOBEX CORPORATION",
            "domain": "www.Globex.example",
            "industry": "Software",
            "numberofemployees": "1200",
            "country": "US",
        },
    )

    run = pull(object_types=["companies"])

    account.refresh_from_db()
    assert run.state == SyncState.SUCCEEDED
    assert (run.done, run.updated, run.created) == (1, 1, 0)
    assert account.hubspot_company_id == company
    assert account.name == "Globex (as we call it)"
    assert account.domain == "globex.example"
    assert (account.sales_owner, account.marketing_owner) == (
        people.sales_member,
        people.marketing_member,
    )
    assert account.fit_score == 42  # no effective profile: Accord's score stays
    # Facts Accord lacked are filled in; those it has stay.
    assert (account.industry, account.employee_count, account.country) == ("Software", 1200, "DE")


def test_it_finds_an_account_by_its_company_id_before_its_domain(hubspot):
    [company] = seed_hubspot(hubspot, "companies", {"name": "Initech", "domain": "initech.example"})
    linked = AccountFactory(name="Initech", domain="initech.com", hubspot_company_id=company)
    same_domain = AccountFactory(name="Other Initech", domain="initech.example")

    pull(object_types=["companies"])

    linked.refresh_from_db()
    same_domain.refresh_from_db()
    assert linked.hubspot_company_id == company
    assert linked.domain == "initech.com"  # Accord's domain is Accord's
    assert same_domain.hubspot_company_id == ""


def test_a_duplicate_company_with_a_linked_domain_is_reported_not_linked(hubspot):
    first, second = seed_hubspot(
        hubspot,
        "companies",
        {"name": "Umbrella", "domain": "umbrella.example"},
        {"name": "Umbrella (dup)", "domain": "umbrella.example"},
    )
    account = AccountFactory(name="Umbrella", domain="umbrella.example")

    run = pull(object_types=["companies"])

    account.refresh_from_db()
    assert account.hubspot_company_id == first
    assert run.state == SyncState.PARTIAL
    [error] = run.errors.all()
    assert error.object_key == second
    assert "already linked to HubSpot company" in error.message
    assert error.account == account


def test_it_creates_accounts_for_companies_accord_does_not_know(hubspot):
    [company, _no_domain] = seed_hubspot(
        hubspot,
        "companies",
        {"name": "Hooli", "domain": "https://hooli.example/about", "numberofemployees": "90"},
        {"name": "No web site"},
    )

    run = pull(object_types=["companies"])

    hooli = Account.objects.get(hubspot_company_id=company)
    assert (hooli.name, hooli.domain, hooli.source) == ("Hooli", "hooli.example", Source.CRM)
    assert hooli.employee_count == 90
    assert (run.created, run.detail["skipped"]) == (1, 1)
    assert Account.objects.count() == 1


def test_with_account_creation_off_unknown_companies_are_skipped(hubspot, settings):
    settings.CRM_PULL_CREATE_ACCOUNTS = False
    seed_hubspot(hubspot, "companies", {"name": "Hooli", "domain": "hooli.example"})

    run = pull(object_types=["companies"])

    assert not Account.objects.exists()
    assert (run.done, run.created, run.detail["skipped"]) == (1, 0, 1)


def test_filled_in_facts_rescore_the_account_against_the_agreed_profile(
    hubspot, people, django_capture_on_commit_callbacks
):
    account = AccountFactory(domain="globex.example", industry="")
    version = icp_version_create(
        name="Software",
        criteria={"industries": {"values": ["Software"], "weight": 100}},
        by=people.marketer,
    )
    icp_version_submit(icp_version=version, by=people.marketer)
    with django_capture_on_commit_callbacks(execute=True):  # the rescoring, after commit
        icp_sign_off(icp_version=version, by=people.sales_approver, approve=True)
    account.refresh_from_db()
    assert account.fit_score == 0
    seed_hubspot(
        hubspot, "companies", {"name": "Globex", "domain": "globex.example", "industry": "Software"}
    )

    pull(object_types=["companies"])

    account.refresh_from_db()
    assert (account.industry, account.fit_score) == ("Software", 100)


def test_it_keeps_the_countries_accord_accepts_and_leaves_out_the_others(hubspot):
    # The same list as the web form, the admin, the API and the CSV import (accounts_app.countries).
    seed_hubspot(
        hubspot,
        "companies",
        {"name": "Lower", "domain": "lower.example", "country": " de "},
        {"name": "Spelled", "domain": "spelled.example", "country": "Germany"},
        {"name": "Not one", "domain": "not-one.example", "country": "XX"},
    )

    pull(object_types=["companies"])

    countries = dict(Account.objects.values_list("name", "country"))
    assert countries == {"Lower": "DE", "Spelled": "", "Not one": ""}
