"""A CRM id belongs to one account: the service refuses one another account has and says
which account has it, and the web API and the admin show that same message."""

import pytest
from django.test import Client

from accounts_app.models import Account
from accounts_app.services import account_create, account_update
from core.errors import Conflict
from tests.factories import AccountFactory
from workflow.services import person_set_role

pytestmark = pytest.mark.django_db

TAKEN = "Initech (initech.example) already has this id."


@pytest.fixture
def initech(db):
    return AccountFactory(
        name="Initech",
        domain="initech.example",
        hubspot_company_id="42",
        salesforce_account_id="001000000000042",
    )


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("field", ["hubspot_company_id", "salesforce_account_id"])
def test_the_service_refuses_an_id_another_account_has(people, initech, field):
    with pytest.raises(Conflict) as error:
        taken = {field: getattr(initech, field)}
        account_create(name="Globex", domain="globex.example", by=people.ops, **taken)

    assert (error.value.message, error.value.field) == (TAKEN, field)
    assert not Account.objects.filter(domain="globex.example").exists()


def test_an_edit_may_keep_its_own_id_but_not_take_another(people, initech, account):
    account_update(account=initech, by=people.ops, hubspot_company_id="42", name="Initech AG")

    with pytest.raises(Conflict, match="Initech AG"):
        account_update(account=account, by=people.ops, hubspot_company_id="42")
    account.refresh_from_db()
    assert account.hubspot_company_id == ""


def test_the_api_answers_409_with_the_services_message(people, initech, account):
    response = signed_in(people.ops).patch(
        f"/api/v1/accounts/{account.pk}/",
        {"salesforce_account_id": "001000000000042"},
        content_type="application/json",
    )

    assert response.status_code == 409
    assert response.json()["fields"]["salesforce_account_id"] == [TAKEN]


def test_the_admin_shows_the_services_message_on_the_field(initech, account):
    ops, _ = person_set_role(username="opal", role="ops")  # staff, as accord_user makes them
    response = signed_in(ops).post(
        f"/admin/accounts_app/account/{account.pk}/change/",
        {
            "name": account.name,
            "domain": account.domain,
            "hubspot_company_id": "42",
            "contacts-TOTAL_FORMS": "0",
            "contacts-INITIAL_FORMS": "0",
            "opportunities-TOTAL_FORMS": "0",
            "opportunities-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["hubspot_company_id"] == [TAKEN]
    account.refresh_from_db()
    assert account.hubspot_company_id == ""
