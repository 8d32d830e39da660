"""HTML and script written into every text field a person (or a CRM) fills: the account's
name, industry and region, a person's name, the cycle's name, a rationale, an evidence link, a
comment, a decision's note, a list version's note, an activity's subject. Every page that shows
them (nomination, queue, cycle in both views, cycles, account, account search, dashboard and
its table, versions, the admin's lists and forms), the digest e-mail's HTML part and the CSV
exports show them as text: never as markup."""

import csv
import io
import re

import pytest
from django.apps import apps
from django.core import mail
from django.urls import reverse

from coverage import digest
from coverage.services import snapshot_take
from tests.api.conftest import client_for
from tests.factories import AccountFactory, cycle, person
from tests.workflow.helpers import decide, nominate
from workflow import services
from workflow.services import person_set_role

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def evil(field: str) -> str:
    return f'<script>alert("{field}")</script><img src=x>'


def escaped(field: str) -> str:
    return f"&lt;script&gt;alert(&quot;{field}&quot;)&lt;/script&gt;"


FIELDS = [
    "account",
    "industry",
    "region",
    "person",
    "cycle",
    "rationale",
    "link",
    "comment",
    "note",
    "version",
    "subject",
]
LINK = 'https://evil.example/"><script>alert("link")</script>'


@pytest.fixture
def evil_world(people, django_capture_on_commit_callbacks):
    """A cycle, two accounts (one agreed, one in discussion) and everything around them, each
    text carrying its own payload; the e-mails they cause are sent."""
    with django_capture_on_commit_callbacks(execute=True):
        return _evil_world(people)


def _evil_world(people):
    eve = person("eve", side="sales", approver=True, first_name=evil("person"), last_name="Doe")
    the_cycle = cycle(evil("cycle"))
    the_cycle.tiers.update(required_roles=["decision_maker"])
    agreed = AccountFactory(
        name=evil("account"),
        domain="agreed.example",
        industry=evil("industry"),
        region=evil("region"),
        sales_owner=eve,
        marketing_owner=people.marketing_member,
    )
    agreed_nomination = nominate(people.marketer, the_cycle, agreed)
    decide(agreed_nomination, eve)
    open_one = services.nomination_create(
        cycle=the_cycle,
        account=AccountFactory(name=evil("account") + " 2", domain="open.example"),
        kind="add",
        tier=2,
        rationale=evil("rationale"),
        evidence_links=[LINK],
        by=people.marketer,
    )
    services.comment_create(nomination=open_one, by=eve, body=evil("comment") + " @mara")
    services.nomination_sign_off(
        nomination=open_one, by=eve, decision="request_changes", note=evil("note")
    )
    services.list_version_publish(cycle=the_cycle, by=people.ops, note=evil("version"))
    activity = {
        "account": agreed.pk,
        "kind": "meeting",
        "side": "sales",
        "occurred_at": "2026-11-30T10:00:00Z",
        "subject": evil("subject"),
        "external_id": "m-1",
    }
    assert (
        client_for(people.ops)
        .post("/api/v1/activities/", {"rows": [activity]}, format="json")
        .status_code
        == 201
    )
    snapshot_take(cycle=the_cycle)

    class World:
        pass

    world = World()
    world.cycle, world.agreed, world.open, world.eve = the_cycle, agreed, open_one, eve
    world.agreed_nomination = agreed_nomination
    return world


def assert_shown_as_text(html: str, where: str, *fields: str) -> None:
    """No payload is markup in `html`; each of `fields` is there, escaped."""
    assert "<script>alert(" not in html, where
    assert "<img src=x" not in html, where
    assert 'href="https://evil.example/"' not in html, where
    for field in fields:
        assert escaped(field) in html, (where, field)


def page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def test_every_page_shows_every_field_as_text(evil_world, people, as_):
    w = evil_world
    sales, ops = as_(w.eve), as_(people.ops)
    pages = {
        "nomination (open)": (
            reverse("workflow:nomination", args=[w.open.pk]),
            ["account", "cycle", "rationale", "link", "comment", "note", "person"],
        ),
        "nomination (agreed)": (
            reverse("workflow:nomination", args=[w.agreed_nomination.pk]),
            ["account", "cycle"],
        ),
        "queue": (reverse("workflow:queue"), []),
        "queue, proposals": (reverse("workflow:queue") + "?tab=proposals", []),
        "queue, mentions": (reverse("workflow:queue") + "?tab=mentions", []),
        "cycles": (reverse("workflow:cycles"), ["cycle"]),
        "cycle, list": (reverse("workflow:cycle", args=[w.cycle.pk]), ["cycle", "account"]),
        "cycle, nominations": (
            reverse("workflow:cycle", args=[w.cycle.pk]) + "?view=nominations",
            ["cycle", "account"],
        ),
        "nominate (not for ops)": (
            reverse("workflow:nominate", args=[w.cycle.pk]) + "?q=agreed",
            ["account"],
        ),
        "account": (
            reverse("accounts_app:account", args=[w.agreed.pk]),
            ["account", "industry", "region", "subject", "cycle", "person"],
        ),
        "account search": (reverse("accounts_app:accounts") + "?q=example", ["account"]),
        "dashboard": (reverse("coverage:dashboard", args=[w.cycle.pk]), ["cycle"]),
        "coverage table": (reverse("coverage:accounts", args=[w.cycle.pk]), ["account"]),
        "versions": (reverse("workflow:versions", args=[w.cycle.pk]), ["cycle", "version"]),
        "version": (reverse("workflow:version", args=[w.cycle.pk, 1]), ["account", "version"]),
    }
    for where, (url, fields) in pages.items():
        assert_shown_as_text(page(sales, url), where, *fields)
        if "not for ops" not in where:
            assert_shown_as_text(page(ops, url), f"{where} (ops)", *fields)


ADMIN_PAGES = [
    # (app, model, fields its list shows, fields the form of its latest row shows)
    ("accounts_app", "account", ["account", "industry"], ["account"]),
    ("accounts_app", "activity", ["subject"], ["subject"]),
    ("workflow", "cycle", ["cycle"], ["cycle"]),
    ("workflow", "nomination", ["account"], ["account", "cycle"]),
    ("workflow", "comment", ["comment"], ["comment"]),
    ("workflow", "signoff", [], ["note"]),
    ("workflow", "nominationevent", [], []),
    ("workflow", "targetaccount", ["account"], ["account"]),
    ("workflow", "listversion", ["cycle"], ["version"]),
]


@pytest.mark.parametrize(
    "app, model, list_fields, form_fields", ADMIN_PAGES, ids=[m[1] for m in ADMIN_PAGES]
)
def test_the_admin_lists_and_forms_show_every_field_as_text(
    evil_world, as_, app, model, list_fields, form_fields
):
    admin_user, _ = person_set_role(username="opal", role="ops")
    ops = as_(admin_user)
    changelist = page(ops, reverse(f"admin:{app}_{model}_changelist"))
    assert_shown_as_text(changelist, f"admin {model} list", *list_fields)
    latest = apps.get_model(app, model).objects.order_by("pk").last()
    change = page(ops, reverse(f"admin:{app}_{model}_change", args=[latest.pk]))
    assert_shown_as_text(change, f"admin {model} form", *form_fields)


def test_the_digest_emails_html_part_shows_every_field_as_text(evil_world, people):
    mail.outbox.clear()

    assert digest.digest_send(person=evil_world.eve) == 1

    (message,) = mail.outbox
    (html, mime), *_ = message.alternatives
    assert mime == "text/html"
    assert_shown_as_text(html, "digest", "cycle", "account")
    assert "\n" not in message.subject


def test_the_decision_emails_are_plain_text_with_the_text_as_written(evil_world, people):
    assert mail.outbox, "the sign-offs above sent e-mails"
    for message in mail.outbox:
        assert not getattr(message, "alternatives", None)
        assert "\n" not in message.subject and "\r" not in message.subject
    assert any(evil("account") in m.subject + m.body for m in mail.outbox)


def test_the_csv_exports_hold_the_text_as_written_and_are_downloads(evil_world, people, as_):
    client = as_(evil_world.eve)
    for name in ("agreed_list", "coverage_accounts"):
        response = client.get(reverse(f"coverage_exports:{name}", args=[evil_world.cycle.pk]))
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert response["Content-Disposition"].startswith("attachment")
        assert response["X-Content-Type-Options"] == "nosniff"
        text = b"".join(response.streaming_content).decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        names = {value for row in rows for value in row.values()}
        # A text cell starting with "<" is not a formula: stored and exported as written.
        assert evil("account") in names, name


def test_an_evidence_link_with_markup_is_one_escaped_href(evil_world, as_):
    html = page(as_(evil_world.eve), reverse("workflow:nomination", args=[evil_world.open.pk]))

    hrefs = re.findall(r'<a href="(https://evil\.example/[^"]*)"', html)
    assert hrefs == [
        "https://evil.example/&quot;&gt;&lt;script&gt;alert(&quot;link&quot;)&lt;/script&gt;"
    ]
