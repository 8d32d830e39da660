"""POST /api/v1/activities/: a marketing automation tool or a script writes up to 1,000
activities a request, all or nothing; a repeat of an external id is an update."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts_app.models import Activity, ActivityKind
from api.models import ServiceAccount
from tests.api.conftest import client_for
from tests.factories import AccountFactory, ContactFactory, person

pytestmark = pytest.mark.django_db

URL = "/api/v1/activities/"


def grant(user) -> None:
    user.user_permissions.add(
        Permission.objects.get(codename="add_activity", content_type__app_label="accounts_app")
    )


@pytest.fixture
def globex(db):
    return AccountFactory(name="Globex", domain="globex.example")


@pytest.fixture
def tool(integration_token):
    """The marketing automation tool: an integration token ops granted the right to write
    activities."""
    grant(ServiceAccount.objects.get(user__username="crm-sync").user)
    return client_for(token=integration_token)


def row(account, n: int = 0, **extra) -> dict:
    return {
        "account": account.pk,
        "kind": "web_visit",
        "side": "marketing",
        "occurred_at": "2026-03-01T10:00:00Z",
        "subject": f"/pricing {n}",
        "external_id": f"visit-{n}",
        **extra,
    }


def test_it_writes_a_batch_of_1000_activities_in_one_request(tool, globex):
    rows = [row(globex, n) for n in range(1000)]

    with CaptureQueriesContext(connection) as queries:
        answer = tool.post(URL, {"rows": rows}, format="json")

    assert answer.status_code == 201, answer.json()
    assert answer.json()["created"] == 1000
    assert Activity.objects.filter(account=globex, side="marketing").count() == 1000
    assert len(queries) < 25  # a few queries for the batch, not some per row


def test_a_repeat_of_an_external_id_updates_the_activity_and_adds_none(tool, globex):
    first = tool.post(URL, {"rows": [row(globex, 1), row(globex, 2)]}, format="json")
    assert first.status_code == 201

    again = tool.post(
        URL, {"rows": [row(globex, 1, subject="/pricing, again"), row(globex, 2)]}, format="json"
    )

    assert again.status_code == 200
    body = again.json()
    assert (body["created"], body["updated"], body["unchanged"]) == (0, 1, 1)
    assert Activity.objects.count() == 2
    assert Activity.objects.get(pk=body["activities"][0]["id"]).subject == "/pricing, again"


def test_each_caller_has_its_own_external_ids(tool, people, globex):
    grant(people.marketing_member)
    tool.post(URL, {"rows": [row(globex, 1)]}, format="json")

    answer = client_for(people.marketing_member).post(
        URL, {"rows": [row(globex, 1)]}, format="json"
    )

    assert answer.status_code == 201
    assert Activity.objects.count() == 2


def test_it_finds_the_account_by_key_or_domain_and_the_contact_by_email(tool, globex):
    ada = ContactFactory(account=globex, email="Ada@Globex.example")
    rows = [
        {**row(globex, 1), "account": None, "account_key": str(globex.key)},
        {
            **row(globex, 2, kind="email_click", contact_email="ada@globex.example"),
            "account": None,
            "domain": "https://WWW.Globex.example/blog",
        },
    ]
    rows[0].pop("account")
    rows[1].pop("account")

    answer = tool.post(URL, {"rows": rows}, format="json")

    assert answer.status_code == 201, answer.json()
    activities = Activity.objects.order_by("crm_id")
    assert [a.account for a in activities] == [globex, globex]
    assert activities[1].contact == ada
    assert activities[1].kind == ActivityKind.EMAIL_CLICK


def test_bad_rows_are_reported_by_index_and_field_and_nothing_is_written(tool, globex):
    other = AccountFactory(domain="initech.example")
    ContactFactory(account=other, email="bob@initech.example")
    rows = [
        row(globex, 0),
        {**row(globex, 1), "account": 999999},
        row(globex, 2, contact_email="bob@initech.example"),  # another account's contact
        {**row(globex, 3), "domain": "globex.example"},  # two ways to name the account
        row(globex, 0),  # row 0's external id again
        {**row(globex, 5), "domain": "not a domain"},
    ]
    rows[5].pop("account")

    answer = tool.post(URL, {"rows": rows}, format="json")

    assert answer.status_code == 400
    fields = answer.json()["fields"]
    assert set(fields) == {
        "rows.1.account",
        "rows.2.contact_email",
        "rows.3.account",
        "rows.4.external_id",
        "rows.5.domain",
    }
    assert "Row 0 has this external_id too." in fields["rows.4.external_id"]
    assert not Activity.objects.exists()


def test_malformed_rows_are_reported_by_index_and_field_too(tool, globex):
    rows = [row(globex, 0), {**row(globex, 1), "kind": "telepathy", "colour": "red"}]
    rows.append({**row(globex, 2), "occurred_at": "yesterday"})

    answer = tool.post(URL, {"rows": rows}, format="json")

    assert answer.status_code == 400
    assert set(answer.json()["fields"]) == {
        "rows.1.kind",
        "rows.1.colour",
        "rows.2.occurred_at",
    }
    assert not Activity.objects.exists()


def test_more_than_1000_rows_are_refused(tool, globex):
    answer = tool.post(URL, {"rows": [row(globex, n) for n in range(1001)]}, format="json")

    assert answer.status_code == 400
    assert "Send at most 1,000 activities a request." in answer.json()["detail"]
    assert not Activity.objects.exists()


def test_a_read_only_integration_token_may_not_write_activities(integration_token, globex):
    answer = client_for(token=integration_token).post(URL, {"rows": [row(globex)]}, format="json")

    assert answer.status_code == 403
    assert "right to add activities" in answer.json()["detail"]
    assert not Activity.objects.exists()


def test_ops_may_and_a_person_on_a_side_only_once_granted_the_right(people, globex):
    assert (
        client_for(people.ops).post(URL, {"rows": [row(globex, 1)]}, format="json").status_code
        == 201
    )
    member = client_for(people.sales_member)
    assert member.post(URL, {"rows": [row(globex, 2)]}, format="json").status_code == 403
    grant(people.sales_member)
    assert member.post(URL, {"rows": [row(globex, 2)]}, format="json").status_code == 201
    assert client_for().post(URL, {"rows": [row(globex, 3)]}, format="json").status_code == 401


def test_an_idempotency_key_replays_the_first_answer(tool, globex):
    body = {"rows": [row(globex, 1)]}
    first = tool.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    # Meanwhile the activity changed: a replay must not write the batch again.
    Activity.objects.update(subject="changed since")

    again = tool.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Activity.objects.get().subject == "changed since"


def test_an_outsider_without_a_side_is_refused(globex):
    outsider = person("otto", side=None)

    answer = client_for(outsider).post(URL, {"rows": [row(globex)]}, format="json")

    assert answer.status_code == 403
