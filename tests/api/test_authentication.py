"""Token and session authentication; 401 for everything else."""

from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from api.models import ApiToken
from tests.api.conftest import client_for
from tests.factories import AccountFactory


@pytest.mark.parametrize(
    "url", ["/api/v1/me/", "/api/v1/accounts/", "/api/v1/nominations/", "/api/v1/cycles/1/"]
)
def test_it_answers_401_without_credentials(db, url):
    response = APIClient().get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["code"] == "not_authenticated"


def test_it_answers_401_for_a_token_that_does_not_exist(db):
    response = client_for(token="0" * 40).get("/api/v1/me/")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_it_accepts_a_token_made_by_accord_user(db):
    out = StringIO()
    call_command("accord_user", "maya", "--side", "marketing", "--approver", "--token", stdout=out)
    token = out.getvalue().split("API token: ")[1].strip()
    me = client_for(token=token).get("/api/v1/me/").json()
    assert me["username"] == "maya"
    assert me["side"] == "marketing" and me["is_approver"] is True


def test_it_refuses_a_token_once_ops_revoke_it_in_the_admin(people):
    from django.test import Client

    client = client_for(people.sales_member)
    assert client.get("/api/v1/me/").status_code == 200
    token = ApiToken.objects.get(user=people.sales_member)
    people.ops.is_staff = True  # ops are staff; the ops group may delete tokens
    people.ops.save()
    admin = Client()
    admin.force_login(people.ops)
    # API tokens → delete, in the admin.
    deleted = admin.post(f"/admin/api/apitoken/{token.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert client.get("/api/v1/me/").status_code == 401


def test_it_refuses_the_token_of_a_deactivated_person(people):
    client = client_for(people.sales_member)
    people.sales_member.is_active = False
    people.sales_member.save()
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert "deactivated" in response.json()["detail"]


def test_it_accepts_a_signed_in_browser_session_and_enforces_csrf_on_writes(people):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(people.ops)
    assert browser.get("/api/v1/me/").json()["username"] == people.ops.username
    refused = browser.post("/api/v1/accounts/", {"name": "Hooli", "domain": "hooli.example"})
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]

    # Swagger UI's start-up script carries the CSRF token and sets its cookie.
    browser.get("/api/docs/?script=")
    token = browser.cookies["csrftoken"].value
    accepted = browser.post(
        "/api/v1/accounts/",
        {"name": "Hooli", "domain": "hooli.example"},
        format="json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert accepted.status_code == 201


def test_it_tells_a_script_who_it_is(people, clients):
    me = clients["other_side_approver"].get("/api/v1/me/").json()
    assert me == {
        "id": people.sales_approver.pk,
        "username": "sam",
        "name": people.sales_approver.get_full_name(),
        "email": people.sales_approver.email,
        "side": "sales",
        "is_approver": True,
        "is_ops": False,
        "is_service_account": False,
    }
    integration = clients["integration"].get("/api/v1/me/").json()
    assert integration["is_service_account"] is True and integration["side"] is None


def test_it_answers_429_with_retry_after_when_throttled(people, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "2/min", "user": "3/min"},
    }
    AccountFactory()
    client = client_for(people.sales_member)
    answers = [client.get("/api/v1/accounts/").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    throttled = client.get("/api/v1/accounts/")
    assert throttled.status_code == 429
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert throttled.json()["code"] == "throttled"
    # Another person has their own allowance.
    assert client_for(people.ops).get("/api/v1/accounts/").status_code == 200
