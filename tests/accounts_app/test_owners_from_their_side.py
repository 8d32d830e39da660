"""An account's sales owner is on the sales side and its marketing owner on the marketing side:
the account service refuses anyone else (ops, integration logins, the other side, someone in
both groups, a deactivated person), so the API, the web, the admin and the import alike."""

import pytest
from django.contrib.auth.models import Group

from accounts_app.services import account_create, account_update
from api.services import service_account_create
from core.errors import Invalid
from tests.api.conftest import client_for
from tests.factories import AccountFactory, person

pytestmark = pytest.mark.django_db


@pytest.fixture
def wrong_owners(people):
    both = person("bo", side="sales")
    both.groups.add(Group.objects.get_or_create(name="marketing")[0])
    gone = person("gus", side="sales", is_active=False)
    service_account, _ = service_account_create(username="crm-sync")
    return {
        "ops": people.ops,
        "other side": people.marketing_member,
        "both sides": both,
        "integration login": service_account.user,
        "deactivated": gone,
    }


@pytest.mark.parametrize(
    "who", ["ops", "other side", "both sides", "integration login", "deactivated"]
)
def test_the_service_refuses_a_sales_owner_who_is_not_on_the_sales_side(people, wrong_owners, who):
    with pytest.raises(Invalid) as refused:
        account_create(
            name="Globex", domain="globex.example", by=None, sales_owner=wrong_owners[who]
        )

    assert refused.value.field == "sales_owner"
    assert "not on the sales side" in refused.value.message


def test_the_service_refuses_a_marketing_owner_from_sales(people):
    account = AccountFactory()

    with pytest.raises(Invalid) as refused:
        account_update(account=account, by=people.ops, marketing_owner=people.sales_member)

    assert refused.value.field == "marketing_owner"


def test_owners_of_their_own_side_are_taken(people):
    account = account_create(
        name="Globex",
        domain="globex.example",
        by=people.ops,
        sales_owner=people.sales_member,
        marketing_owner=people.marketing_member,
    )

    assert (account.sales_owner, account.marketing_owner) == (
        people.sales_member,
        people.marketing_member,
    )


@pytest.mark.parametrize("who", ["ops", "other side", "integration login"])
def test_the_api_answers_400_for_an_owner_of_the_wrong_side(people, wrong_owners, who):
    account = AccountFactory()

    response = client_for(people.ops).patch(
        f"/api/v1/accounts/{account.pk}/",
        {"sales_owner": wrong_owners[who].pk},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert "sales_owner" in response.json()["fields"]
    account.refresh_from_db()
    assert account.sales_owner is None


def test_a_forged_admin_form_cannot_make_ops_an_owner(client, people):
    from workflow.services import person_set_role

    ops, _ = person_set_role(username="opal", role="ops")
    client.force_login(ops)
    account = AccountFactory(name="Globex", domain="globex.example")

    client.post(
        f"/admin/accounts_app/account/{account.pk}/change/",
        {
            "name": "Globex",
            "domain": "globex.example",
            "sales_owner": ops.pk,
            "contacts-TOTAL_FORMS": "0",
            "contacts-INITIAL_FORMS": "0",
        },
    )

    account.refresh_from_db()
    assert account.sales_owner is None


def test_the_admin_offers_as_owners_exactly_the_people_the_service_accepts(client, people):
    from django.contrib.auth import get_user_model

    from core.roles import Side, is_on_side
    from workflow.services import person_set_role

    both = person("bo", side="sales")
    both.groups.add(Group.objects.get_or_create(name="marketing")[0])
    person("gus", side="sales", is_active=False)
    ops, _ = person_set_role(username="opal", role="ops")
    client.force_login(ops)

    form = client.get("/admin/accounts_app/account/add/").context["adminform"].form

    everyone = get_user_model().objects.all()
    for field, side in (("sales_owner", Side.SALES), ("marketing_owner", Side.MARKETING)):
        offered = set(form.fields[field].queryset)
        assert offered == {p for p in everyone if is_on_side(p, side)}, field
        assert offered  # the cast has people on both sides
