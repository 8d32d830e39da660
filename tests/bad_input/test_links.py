"""Evidence links that are not web addresses (javascript:, data:, vbscript:, in any case, behind
spaces or control characters, protocol-relative) are refused by the service every way in (the
nominate form, the edit form, the API's create and resubmit); and a link that got into the
database some other way is shown as text, never as a clickable href."""

import pytest
from django.urls import reverse

from tests.api.conftest import client_for
from tests.factories import AccountFactory
from workflow import services
from workflow.models import Nomination

pytestmark = pytest.mark.django_db

BAD_LINKS = {
    "javascript": "javascript:alert(document.cookie)",
    "mixed case": "JaVaScRiPt:alert(1)",
    "leading spaces": "   javascript:alert(1)",
    "leading tab": "\tjavascript:alert(1)",
    "leading control character": "\x01javascript:alert(1)",
    "leading zero-width space": "\u200bjavascript:alert(1)",
    "entity-encoded": "&#106;avascript:alert(1)",
    "data": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data, upper case": "DATA:text/html,<script>alert(1)</script>",
    "vbscript": "vbscript:msgbox(1)",
    "protocol-relative": "//evil.example/x",
    "file": "file:///etc/passwd",
    "no scheme": "evil.example/x",
    "http without slashes": "https:evil.example",
}


@pytest.fixture
def initech(db):
    return AccountFactory(name="Initech", domain="initech.example")


@pytest.mark.parametrize("link", BAD_LINKS.values(), ids=BAD_LINKS.keys())
def test_the_nominate_form_refuses_a_link_that_is_not_a_web_address(
    people, the_cycle, as_, initech, link
):
    response = as_(people.marketer).post(
        reverse("workflow:nominate", args=[the_cycle.pk]),
        {
            "step": "submit",
            "account": initech.pk,
            "kind": "add",
            "tier": "1",
            "rationale": "Fit",
            "evidence_links": f"https://initech.example/news\n{link}",
        },
    )

    assert response.status_code == 400
    assert "is not a web address (http:// or https://)." in response.content.decode()
    assert not Nomination.objects.exists()


@pytest.mark.parametrize("link", BAD_LINKS.values(), ids=BAD_LINKS.keys())
def test_the_api_refuses_a_link_that_is_not_a_web_address(people, the_cycle, initech, link):
    response = client_for(people.marketer).post(
        "/api/v1/nominations/",
        {
            "cycle": the_cycle.pk,
            "account": initech.pk,
            "kind": "add",
            "tier": 1,
            "rationale": "Fit",
            "evidence_links": [link],
        },
        format="json",
    )

    assert response.status_code == 400
    assert "evidence_links" in response.json()["fields"]
    assert not Nomination.objects.exists()


@pytest.mark.parametrize("link", ["javascript:alert(1)", " data:text/html,x", "VBScript:x"])
def test_editing_or_resubmitting_refuses_them_too(changes_requested, people, as_, link):
    edit = as_(people.marketer).post(
        reverse("workflow:edit", args=[changes_requested.pk]),
        {"step": "resubmit", "tier": "1", "rationale": "Better", "evidence_links": link},
    )
    resubmit = client_for(people.marketer).post(
        f"/api/v1/nominations/{changes_requested.pk}/resubmit/",
        {"evidence_links": [link]},
        format="json",
    )

    assert edit.status_code == 400
    assert "is not a web address" in edit.content.decode()
    assert resubmit.status_code == 400
    assert "evidence_links" in resubmit.json()["fields"]
    changes_requested.refresh_from_db()
    assert changes_requested.evidence_links == ["https://globex.example/news"]
    assert changes_requested.round == 1


@pytest.fixture
def changes_requested(in_review, people):
    return services.nomination_sign_off(
        nomination=in_review, by=people.sales_approver, decision="request_changes", note="Tier?"
    )


def test_a_stored_link_that_is_not_a_web_address_is_shown_as_text(in_review, people, as_):
    # As a row written before links were checked, or by hand in the database, would hold.
    Nomination.objects.filter(pk=in_review.pk).update(
        evidence_links=["javascript:alert(1)", " JAVASCRIPT:alert(2)", "https://globex.example/ok"]
    )

    html = (
        as_(people.sales_member)
        .get(reverse("workflow:nomination", args=[in_review.pk]))
        .content.decode()
    )

    assert 'href="javascript' not in html.lower()
    assert 'href=" javascript' not in html.lower()
    assert "javascript:alert(1)</span>" in html
    assert '<a href="https://globex.example/ok" rel="noopener noreferrer nofollow"' in html
