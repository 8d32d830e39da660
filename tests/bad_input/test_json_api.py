"""Malformed, oversized, mistyped and deeply nested JSON sent to the API's four busiest writes
(a nomination, a batch of activities, a comment, a decision): each gets a 4xx with a JSON error
body, never a 500, and nothing is stored."""

import json

import pytest

from accounts_app.models import Activity
from tests.api.conftest import client_for
from workflow.models import Comment, Nomination, NominationEvent, SignOff

pytestmark = pytest.mark.django_db

ENDPOINTS = ["nominations", "activities", "comments", "decisions"]


def activity_row(account, **extra) -> dict:
    return {
        "account": account.pk,
        "kind": "web_visit",
        "side": "marketing",
        "occurred_at": "2026-03-01T10:00:00Z",
        "external_id": "a-1",
        **extra,
    }


@pytest.fixture
def endpoint(request, people, the_cycle, account, in_review):
    """(client, url, a valid body) of the endpoint named by the test's parameter, for someone
    allowed to write there."""
    name = request.param
    if name == "nominations":
        other = type(account).objects.create(name="Initech", domain="initech.example")
        body = {
            "cycle": the_cycle.pk,
            "account": other.pk,
            "kind": "add",
            "tier": 1,
            "rationale": "Fit",
        }
        return client_for(people.marketer), "/api/v1/nominations/", body
    if name == "activities":
        return client_for(people.ops), "/api/v1/activities/", {"rows": [activity_row(account)]}
    if name == "comments":
        url = f"/api/v1/nominations/{in_review.pk}/comments/"
        return client_for(people.sales_member), url, {"body": "Looks right."}
    url = f"/api/v1/nominations/{in_review.pk}/decisions/"
    return client_for(people.sales_approver), url, {"decision": "approve", "note": ""}


def stored() -> tuple:
    return (
        Nomination.objects.count(),
        Activity.objects.count(),
        Comment.objects.count(),
        SignOff.objects.count(),
        NominationEvent.objects.count(),
    )


def post_raw(client, url, body: bytes, content_type="application/json"):
    return client.post(url, data=body, content_type=content_type)


def assert_json_error(response, *statuses) -> dict:
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["detail"] and body["code"]
    return body


@pytest.mark.parametrize("endpoint", ENDPOINTS, indirect=True)
def test_each_endpoint_takes_its_valid_body(endpoint):
    """The corpus's baseline: the bodies below differ from a body that works."""
    client, url, valid = endpoint
    response = client.post(url, valid, format="json")
    assert response.status_code in (200, 201), response.json()


MALFORMED = {
    "truncated": b'{"body": "x",',
    "empty": b"",
    "only whitespace": b"   \n ",
    "not utf-8": b'{"body": "\xff\xfe"}',
    "utf-8 byte order mark then garbage": b"\xef\xbb\xbf{oops}",
    "single quotes": b"{'body': 'x'}",
    "trailing comma": b'{"body": "x",}',
    "comments": b'{"body": "x" /* hi */}',
    "NaN": b'{"body": NaN, "note": NaN, "rows": NaN, "cycle": NaN}',
    "Infinity": b'{"cycle": Infinity, "rows": -Infinity}',
    "a lone surrogate": b'{"body": "\\ud800", "note": "\\udfff", "rationale": "\\ud83d"}',
    "an integer of 5,000 digits": b'{"cycle": ' + b"9" * 5000 + b', "rows": 1}',
    "deeply nested arrays": b"[" * 100_000 + b"]" * 100_000,
    "deeply nested objects": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "nested too deep, unterminated": b"[" * 200_000,
    "null": b"null",
    "a number": b"42",
    "a string": b'"body"',
    "a list": b'[{"body": "x"}]',
}


@pytest.mark.parametrize("endpoint", ENDPOINTS, indirect=True)
@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_json_is_a_400_in_json(endpoint, body):
    client, url, _ = endpoint
    before = stored()

    assert_json_error(post_raw(client, url, body), 400)

    assert stored() == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, indirect=True)
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_a_body_that_is_not_json_is_a_415_in_json(endpoint, content_type):
    client, url, valid = endpoint
    before = stored()

    assert_json_error(post_raw(client, url, json.dumps(valid).encode(), content_type), 415)

    assert stored() == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, indirect=True)
def test_a_body_over_the_upload_limit_is_a_413_in_json(endpoint, settings):
    client, url, valid = endpoint
    before = stored()
    # Over Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB by default), in every field.
    padding = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    body = json.dumps({**valid, "padding": padding}).encode()

    answer = assert_json_error(post_raw(client, url, body), 413)

    assert answer["code"] == "payload_too_large"
    assert stored() == before


@pytest.mark.parametrize("endpoint", ["activities"], indirect=True)
def test_more_activities_than_a_request_takes_are_refused_whole(endpoint):
    client, url, valid = endpoint
    row = valid["rows"][0]
    rows = [{**row, "external_id": f"a-{n}"} for n in range(1001)]

    answer = assert_json_error(client.post(url, {"rows": rows}, format="json"), 400)

    assert "Send at most 1,000 activities a request." in answer["detail"]
    assert not Activity.objects.exists()


# Each field of each body given a value of every wrong JSON type.
WRONG_VALUES = [
    pytest.param(None, id="null"),
    pytest.param(True, id="true"),
    pytest.param(3.5, id="float"),
    pytest.param(-1, id="negative"),
    pytest.param(2**70, id="huge int"),
    pytest.param("", id="empty string"),
    pytest.param([], id="empty list"),
    pytest.param([[["deep"]]], id="nested list"),
    pytest.param({"$gt": ""}, id="object"),
    pytest.param({"a": {"b": {"c": {"d": {"e": [1, {"f": None}]}}}}}, id="nested object"),
]


def _wrong_bodies(valid: dict, value) -> list[dict]:
    """`valid` with one field (or, for activities, one field of its row) replaced by `value`,
    for each field the endpoint refuses that value in."""
    if "rows" in valid:
        row = valid["rows"][0]
        bodies = [{"rows": [{**row, name: value}]} for name in row]
        return [*bodies, {"rows": value}, {"rows": [value]}]
    return [{**valid, name: value} for name in valid]


ACCEPTS = {
    # (endpoint, field, value) that are valid: an approval's note may be empty.
    ("decisions", "note", repr("")),
}


@pytest.mark.parametrize("endpoint", ENDPOINTS, indirect=True)
@pytest.mark.parametrize("value", WRONG_VALUES)
def test_a_value_of_the_wrong_type_is_a_400_naming_the_field(endpoint, request, value):
    client, url, valid = endpoint
    name = request.node.callspec.params["endpoint"]
    before = stored()
    for body in _wrong_bodies(valid, value):
        changed = [k for k in body if body[k] != valid.get(k)]
        if not changed or any((name, k, repr(value)) in ACCEPTS for k in changed):
            continue
        response = client.post(url, body, format="json")
        if name == "nominations" and changed == ["tier"] and value is None:
            continue  # "tier": null is how a removal is proposed; the service refuses an add
        answer = assert_json_error(response, 400, 409)
        assert stored() == before, body
        if response.status_code == 400 and answer["code"] == "invalid":
            assert answer.get("fields"), answer
