"""A signed webhook body of the wrong shape is answered 400 with the reason, never 500, and
records nothing."""

import json

import pytest

from crm.models import ProcessedWebhookEvent
from tests.crm.test_webhook_inbound import SECRET, event, sign_and_post

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _hubspot(settings):
    settings.HUBSPOT_CLIENT_SECRET = SECRET
    settings.HUBSPOT_WEBHOOK_URL = ""
    settings.CRM_BACKEND = "hubspot"
    settings.HUBSPOT_ACCESS_TOKEN = "t"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (json.dumps([event(1, 501, mergedObjectIds=5)]), "mergedObjectIds must be a list"),
        (json.dumps([event(1, 501, mergedObjectIds=["12", {"x": 1}])]), "mergedObjectIds"),
        ("[" * 50_000 + "]" * 50_000, "not JSON"),
        ('[{"eventId": 1, "objectId": 501, "propertyValue": "\\ud800"}]', "not valid Unicode"),
        ('[{"eventId": 1, "objectId": "\\udfff"}]', "objectId must be a whole number"),
        (json.dumps([event(1, {"id": 501})]), "objectId must be a whole number"),
        (json.dumps([event(1, 501, occurredAt="yesterday")]), "occurredAt must be a whole"),
        (json.dumps([event(1, 501, subscriptionType=["contact.creation"])]), "must be a string"),
        (json.dumps([1, 2]), "is not a JSON object"),
        (json.dumps([event(i, 501) for i in range(1_001)]), "At most 1000 events"),
    ],
    ids=[
        "merged-ids-a-number",
        "merged-ids-mixed",
        "nested-brackets",
        "lone-surrogate",
        "lone-surrogate-id",
        "object-id-an-object",
        "occurred-at-text",
        "subscription-a-list",
        "events-not-objects",
        "too-many-events",
    ],
)
def test_a_signed_body_of_the_wrong_shape_is_answered_400(body, reason):
    response = sign_and_post(None, body=body)

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert reason in response.json()["detail"]
    assert not ProcessedWebhookEvent.objects.exists()


def test_fields_hubspot_adds_later_are_accepted():
    response = sign_and_post([event(1, 501, sourceId="userId:1", isSensitive=False)])

    assert response.status_code == 200
    assert response.json()["events"] == 1
