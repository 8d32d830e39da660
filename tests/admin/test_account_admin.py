import pytest
from django.contrib.auth.models import Permission

from accounts_app.models import Account, IcpState, IcpVersion, Source
from tests.factories import AccountFactory, UserFactory, person

pytestmark = pytest.mark.django_db

FORM = {
    "name": "Globex",
    "domain": "https://www.Globex.example/about",
    "industry": "Software",
    "employee_count": "900",
    "annual_revenue": "",
    "country": "de",
    "region": "EMEA",
    "contacts-TOTAL_FORMS": "0",
    "contacts-INITIAL_FORMS": "0",
    "opportunities-TOTAL_FORMS": "0",
    "opportunities-INITIAL_FORMS": "0",
}


@pytest.fixture(autouse=True)
def icp(db):
    return IcpVersion.objects.create(
        number=1,
        name="Software",
        state=IcpState.EFFECTIVE,
        criteria={"industries": {"values": ["Software"], "weight": 1}},
    )


def test_ops_add_an_account_with_a_normalised_domain_and_a_fit_score(ops):
    response = ops.post("/admin/accounts_app/account/add/", FORM)

    assert response.status_code == 302
    account = Account.objects.get()
    assert account.domain == "globex.example"
    assert account.country == "DE"
    assert account.fit_score == 100
    assert account.source == Source.MANUAL


def test_editing_an_account_rescores_it(ops):
    account = AccountFactory(name="Globex", domain="globex.example", industry="Retail")
    owner = person("sam", side="sales")

    response = ops.post(
        f"/admin/accounts_app/account/{account.pk}/change/",
        {**FORM, "domain": "globex.example", "sales_owner": owner.pk},
    )

    assert response.status_code == 302
    account.refresh_from_db()
    assert account.fit_score == 100
    assert account.sales_owner == owner


def test_a_taken_domain_and_a_bad_country_are_shown_on_the_form(ops):
    AccountFactory(domain="globex.example")

    response = ops.post("/admin/accounts_app/account/add/", {**FORM, "country": "XX"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "Account with this Domain already exists." in html
    assert "is not a two-letter country code (ISO 3166-1)" in html


def test_only_people_of_the_right_side_can_own_an_account(ops):
    mia = person("mia", side="marketing")

    response = ops.post("/admin/accounts_app/account/add/", {**FORM, "sales_owner": mia.pk})

    assert response.status_code == 200
    assert not Account.objects.exists()


def test_a_service_refusal_is_shown_on_the_page(client):
    """Staff given the model permissions by hand, but not in ops: the service says no."""
    stan = UserFactory(username="stan", is_staff=True)
    stan.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_account", "change_account", "view_account"])
    )
    client.force_login(stan)

    response = client.post("/admin/accounts_app/account/add/", FORM, follow=True)

    assert "Only people on a side or in revenue operations can add accounts." in (
        response.content.decode()
    )
    assert not Account.objects.exists()
