"""Every form of the site is protected against cross-site request forgery: a POST without the
token is refused (403) and changes nothing; the same POST with the token goes through."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import AccountFactory
from tests.web.conftest import everything

# name → (who posts, what it works on, URL name, form data)
ENDPOINTS = {
    "approve": ("sales_approver", "in_review", "workflow:decide", {"decision": "approve"}),
    "withdraw": ("marketer", "in_review", "workflow:withdraw", {}),
    "comment": ("sales_member", "in_review", "workflow:comment", {"body": "Any news?"}),
    "submit": ("marketer", "draft", "workflow:submit", {}),
    "edit": ("marketer", "draft", "workflow:edit", {"step": "save", "rationale": "Better."}),
    "resubmit": (
        "marketer",
        "changes_requested",
        "workflow:edit",
        {"step": "resubmit", "tier": "2", "rationale": "Tier 2."},
    ),
    "nominate": (
        "marketing_member",
        "the_cycle",
        "workflow:nominate",
        {"step": "submit", "kind": "add", "tier": "1", "rationale": "Fits."},
    ),
    "create account": (
        "marketing_member",
        "the_cycle",
        "workflow:nominate",
        {"step": "create_account", "new-name": "Vandelay", "new-domain": "vandelay.example"},
    ),
    "publish": ("ops", "the_cycle", "workflow:versions", {"note": ""}),
    "sign off a profile": (
        "sales_approver",
        "icp_in_review",
        "icp:sign_off",
        {"decision": "approve"},
    ),
}


def token_of(client: Client, url: str) -> str:
    assert client.get(url).status_code == 200
    return client.cookies["csrftoken"].value


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_it_refuses_a_form_post_without_the_csrf_token(name, request, people):
    who, setup, url_name, data = ENDPOINTS[name]
    target = request.getfixturevalue(setup)
    if name == "nominate":
        data = {**data, "account": AccountFactory(name="Initech").pk}
    url = reverse(url_name, args=[target.pk])
    client = Client(enforce_csrf_checks=True)
    client.force_login(getattr(people, who))
    before = everything()

    refused = client.post(url, data)
    assert refused.status_code == 403
    assert "This form has expired" in refused.content.decode()
    assert everything() == before

    token = token_of(client, reverse("workflow:queue"))
    response = client.post(url, {**data, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert everything() != before


def test_it_refuses_to_sign_in_without_the_csrf_token(people):
    client = Client(enforce_csrf_checks=True)
    credentials = {"username": people.marketer.username, "password": "pw-accord-test"}

    assert client.post(reverse("login"), credentials).status_code == 403
    assert client.get(reverse("workflow:queue")).status_code == 302  # still signed out

    token = token_of(client, reverse("login"))
    response = client.post(reverse("login"), {**credentials, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert client.get(reverse("workflow:queue")).status_code == 200


def test_it_refuses_to_sign_out_without_the_csrf_token(people):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people.marketer)

    assert client.post(reverse("logout")).status_code == 403
    assert client.get(reverse("workflow:queue")).status_code == 200  # still signed in

    token = token_of(client, reverse("workflow:queue"))
    response = client.post(reverse("logout"), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert client.get(reverse("workflow:queue")).status_code == 302
