"""Unicode edge cases in names, comments, rationales and notes, through the web forms and the
API: text that is merely unusual (right-to-left marks and overrides, zero-width characters, a
byte order mark, emoji, combining marks, 10,000 characters) is stored exactly as written and
shown back; NUL, which PostgreSQL cannot store in text, is a 400 with the field named, never a
500, and stores nothing."""

import pytest
from django.urls import reverse

from accounts_app.models import Account
from core.text import MAX_TEXT
from tests.api.conftest import client_for
from workflow.models import Comment, Cycle, Nomination, NominationEvent, SignOff

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

ODD = {
    "right-to-left mark": "Globex\u200f Holdings",
    "right-to-left override": "Globex \u202egnp.exe",
    "zero-width space": "Glo\u200bbex",
    "byte order mark": "\ufeffGlobex",
    "emoji": "Rocket 🚀 Labs 👩🏽‍💻",
    "combining marks": "Cafe\u0301 Z\u0351\u0355a\u0360lgo\u0489",
    "arabic": "شركة جلوبكس",
    "mathematical letters": "𝐆𝐥𝐨𝐛𝐞𝐱",
}
NUL = "Glo\x00bex"


def stored() -> tuple:
    return (
        Account.objects.count(),
        Nomination.objects.count(),
        Comment.objects.count(),
        SignOff.objects.count(),
        NominationEvent.objects.count(),
        Cycle.objects.count(),
    )


# --- Account names --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ODD.values(), ids=ODD.keys())
def test_an_odd_account_name_is_stored_exactly_through_the_api(people, name):
    answer = client_for(people.marketer).post(
        "/api/v1/accounts/", {"name": name, "domain": "odd.example"}, format="json"
    )

    assert answer.status_code == 201, answer.json()
    assert answer.json()["name"] == name
    assert Account.objects.get(domain="odd.example").name == name


@pytest.mark.parametrize("name", ODD.values(), ids=ODD.keys())
def test_an_odd_account_name_is_stored_exactly_through_the_web_form_and_found_again(
    people, the_cycle, as_, name
):
    client = as_(people.marketer)
    response = client.post(
        reverse("workflow:nominate", args=[the_cycle.pk]),
        {"step": "create_account", "new-name": name, "new-domain": "odd.example"},
    )

    assert response.status_code == 302
    account = Account.objects.get(domain="odd.example")
    assert account.name == name
    found = client.get(reverse("accounts_app:accounts"), {"q": name})
    assert found.status_code == 200
    assert [a.pk for a in found.context["page"].object_list] == [account.pk]


def test_a_nul_in_an_account_name_is_a_400_through_the_api(people):
    before = stored()

    answer = client_for(people.marketer).post(
        "/api/v1/accounts/", {"name": NUL, "domain": "nul.example"}, format="json"
    )

    assert answer.status_code == 400
    assert "name" in answer.json()["fields"]
    assert stored() == before


@pytest.mark.parametrize("field", ["name", "domain", "industry", "region"])
def test_a_nul_in_the_new_account_form_is_a_400(people, the_cycle, as_, field):
    before = stored()
    data = {"new-name": "Nul Corp", "new-domain": "nul.example", f"new-{field}": NUL}

    response = as_(people.marketer).post(
        reverse("workflow:nominate", args=[the_cycle.pk]), {"step": "create_account", **data}
    )

    assert response.status_code == 400
    assert "Null characters are not allowed." in response.content.decode()
    assert stored() == before


def test_an_account_name_of_ten_thousand_characters_is_refused(people, the_cycle, as_):
    long_name = "😀" * MAX_TEXT
    before = stored()

    api = client_for(people.marketer).post(
        "/api/v1/accounts/", {"name": long_name, "domain": "long.example"}, format="json"
    )
    web = as_(people.marketer).post(
        reverse("workflow:nominate", args=[the_cycle.pk]),
        {"step": "create_account", "new-name": long_name, "new-domain": "long.example"},
    )

    assert api.status_code == 400
    assert "200 characters" in api.json()["fields"]["name"][0]
    assert web.status_code == 400
    assert "at most 200 characters" in web.content.decode()
    assert stored() == before


def test_a_nul_in_a_cycle_name_is_a_400_through_the_api(people):
    before = stored()

    answer = client_for(people.ops).post(
        "/api/v1/cycles/",
        {
            "name": "FY28\x00 H1",
            "starts_on": "2028-01-01",
            "ends_on": "2028-06-30",
            "tiers": [{"number": n, "capacity": 10} for n in (1, 2, 3)],
        },
        format="json",
    )

    assert answer.status_code == 400
    assert "name" in answer.json()["fields"]
    assert stored() == before


# --- Comments, rationales, notes ------------------------------------------------------------------

TEXTS = {
    **ODD,
    "ten thousand emoji": "🚀" * MAX_TEXT,
    "ten thousand combining marks": ("e\u0301" * (MAX_TEXT // 2)),
    "lines in both directions": "first line\nשורה שנייה\r\n\u202bembedded\u202c",
}


@pytest.mark.parametrize("body", TEXTS.values(), ids=TEXTS.keys())
def test_an_odd_comment_is_stored_exactly_and_shown_on_the_page(in_review, people, as_, body):
    client = as_(people.sales_member)

    web = client.post(reverse("workflow:comment", args=[in_review.pk]), {"body": body})
    api = client_for(people.sales_member).post(
        f"/api/v1/nominations/{in_review.pk}/comments/", {"body": body}, format="json"
    )

    assert web.status_code == 302
    assert api.status_code == 201, api.json()
    assert api.json()["body"] == body
    stored_bodies = list(Comment.objects.values_list("body", flat=True))
    # The web form trims the ends, as Django's forms do; the API keeps every character.
    assert stored_bodies == [body.strip(), body]
    page = client.get(reverse("workflow:nomination", args=[in_review.pk]))
    assert page.status_code == 200
    assert body.strip().splitlines()[0] in page.content.decode()


def test_a_comment_one_character_over_ten_thousand_is_refused_both_ways(in_review, people, as_):
    body = "🚀" * (MAX_TEXT + 1)

    web = as_(people.sales_member).post(
        reverse("workflow:comment", args=[in_review.pk]), {"body": body}
    )
    api = client_for(people.sales_member).post(
        f"/api/v1/nominations/{in_review.pk}/comments/", {"body": body}, format="json"
    )

    assert web.status_code == 400
    assert api.status_code == 400
    assert "body" in api.json()["fields"]
    assert not Comment.objects.exists()


@pytest.mark.parametrize(
    "where",
    [
        "web comment",
        "api comment",
        "web note",
        "api note",
        "web rationale",
        "api rationale",
        "web link",
        "api link",
    ],
)
def test_a_nul_anywhere_a_person_writes_is_a_400_and_stores_nothing(
    where, in_review, people, the_cycle, as_
):
    other = Account.objects.create(name="Initech", domain="initech.example")
    before = stored()
    web, api = as_(people.sales_approver), client_for(people.sales_approver)
    nominate = {"account": other.pk, "kind": "add", "tier": "1", "rationale": "Fit"}
    api_nominate = {"cycle": the_cycle.pk, "account": other.pk, "kind": "add", "tier": 1}
    comments = f"/api/v1/nominations/{in_review.pk}/comments/"
    decisions = f"/api/v1/nominations/{in_review.pk}/decisions/"
    nominate_url = reverse("workflow:nominate", args=[the_cycle.pk])
    link = "https://initech.example/\x00news"

    response = {
        "web comment": lambda: web.post(
            reverse("workflow:comment", args=[in_review.pk]), {"body": NUL}
        ),
        "api comment": lambda: api.post(comments, {"body": NUL}, format="json"),
        "web note": lambda: web.post(
            reverse("workflow:decide", args=[in_review.pk]), {"decision": "reject", "note": NUL}
        ),
        "api note": lambda: api.post(decisions, {"decision": "reject", "note": NUL}, format="json"),
        "web rationale": lambda: web.post(
            nominate_url, {"step": "submit", **nominate, "rationale": NUL}
        ),
        "api rationale": lambda: api.post(
            "/api/v1/nominations/", {**api_nominate, "rationale": NUL}, format="json"
        ),
        "web link": lambda: web.post(
            nominate_url, {"step": "submit", **nominate, "evidence_links": link}
        ),
        "api link": lambda: api.post(
            "/api/v1/nominations/",
            {**api_nominate, "rationale": "Fit", "evidence_links": [link]},
            format="json",
        ),
    }[where]()

    assert response.status_code == 400
    if where.startswith("api"):
        assert response.json()["fields"]
    else:
        assert "Null characters are not allowed." in response.content.decode()
    assert stored() == before
