"""HubSpot's webhook into Accord: the v3 signature is the only authentication; old timestamps
and repeated event ids are refused or ignored; the objects named are pulled."""

import json
import time

import pytest
from django.test import Client
from hubspot.utils.signature import Signature

from accounts_app.models import Contact
from crm.models import ProcessedWebhookEvent, SyncRun, SyncTrigger
from tests.crm.pull_helpers import link_hubspot, pull, seed_hubspot
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/crm/hubspot/webhook/"
SECRET = "hubspot-app-client-secret"


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.HUBSPOT_CLIENT_SECRET = SECRET
    settings.HUBSPOT_WEBHOOK_URL = ""


def pulls_run() -> list[tuple[str, str, list[str]]]:
    """The pulls the deliveries queued, as they ran (tasks run in-process after commit): their
    sync runs, in order."""
    return [
        (run.backend, run.detail["object_type"], run.detail["ids"])
        for run in SyncRun.objects.filter(trigger=SyncTrigger.WEBHOOK).order_by("pk")
    ]


def sign_and_post(events, *, secret=SECRET, age=0.0, uri=None, body=None, client=None):
    """POST like HubSpot: signed with the official client's v3 signature code."""
    raw = body if body is not None else json.dumps(events)
    timestamp = str(int((time.time() - age) * 1000))
    signature = Signature.get_signature(
        secret,
        raw,
        "v3",
        http_uri=uri or f"http://testserver{URL}",
        http_method="POST",
        timestamp=timestamp,
    )
    client = client or Client(enforce_csrf_checks=True)
    return client.post(
        URL,
        data=raw.encode(),
        content_type="application/json",
        HTTP_X_HUBSPOT_SIGNATURE_V3=signature,
        HTTP_X_HUBSPOT_REQUEST_TIMESTAMP=timestamp,
    )


def event(event_id, object_id, subscription="contact.propertyChange", **extra):
    return {
        "eventId": event_id,
        "subscriptionId": 77,
        "portalId": 123,
        "appId": 9,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": subscription,
        "attemptNumber": 0,
        "objectId": object_id,
        "changeSource": "CRM",
        **extra,
    }


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """Deliver events and run what the delivery queued after its commit."""

    def post(*args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return sign_and_post(*args, **kwargs)

    return post


def test_a_signed_delivery_pulls_the_objects_named(deliver, hubspot):
    response = deliver(
        [
            event(1, 501),
            event(2, 502, "contact.creation"),
            event(3, 901, "deal.propertyChange"),
            event(4, 77, "object.creation", objectTypeId="0-48"),
            event(5, 501, "contact.propertyChange"),
            event(6, 1, "ticket.creation"),
        ]
    )

    assert response.status_code == 200
    assert response.json() == {"events": 6, "repeated": 0, "not_read": 1, "objects_queued": 4}
    assert sorted(pulls_run()) == [
        ("hubspot", "calls", ["77"]),
        ("hubspot", "contacts", ["501", "502"]),
        ("hubspot", "deals", ["901"]),
    ]
    assert ProcessedWebhookEvent.objects.count() == 6


def test_the_pull_it_queues_brings_the_contact_into_accord(deliver, hubspot):
    AccountFactory(domain="globex.example")
    [company] = seed_hubspot(hubspot, "companies", {"name": "Globex", "domain": "globex.example"})
    pull(object_types=["companies"])
    [ada] = seed_hubspot(hubspot, "contacts", {"email": "ada@globex.example", "firstname": "Ada"})
    link_hubspot(hubspot, ("contacts", ada, "companies", company))

    response = deliver([event(10, int(ada), "contact.creation")])

    assert response.status_code == 200
    assert Contact.objects.get(hubspot_contact_id=ada).first_name == "Ada"
    run = SyncRun.objects.get(trigger=SyncTrigger.WEBHOOK)
    assert (run.kind, run.state, run.done, run.created) == ("pull", "succeeded", 1, 1)


def test_a_deleted_contact_is_forgotten(deliver, hubspot):
    contact = ContactFactory(hubspot_contact_id="424242")

    response = deliver([event(11, 424242, "contact.deletion")])

    assert response.status_code == 200
    assert not Contact.objects.filter(pk=contact.pk).exists()


def test_a_bad_signature_is_refused_with_401(deliver, hubspot):
    wrong_secret = deliver([event(1, 501)], secret="not-the-secret")
    tampered = Client().post(
        URL,
        data=json.dumps([event(2, 666)]).encode(),
        content_type="application/json",
        HTTP_X_HUBSPOT_SIGNATURE_V3="c2lnbmF0dXJl",
        HTTP_X_HUBSPOT_REQUEST_TIMESTAMP=str(int(time.time() * 1000)),
    )
    unsigned = Client().post(URL, data="[]", content_type="application/json")

    for response in (wrong_secret, tampered, unsigned):
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_signature"
        assert response["WWW-Authenticate"].startswith("HubSpot-Signature-v3")
    assert "does not match" in wrong_secret.json()["detail"]
    assert pulls_run() == []
    assert not ProcessedWebhookEvent.objects.exists()


def test_a_body_changed_after_signing_is_refused(django_capture_on_commit_callbacks, hubspot):
    signed_for = json.dumps([event(1, 501)])
    timestamp = str(int(time.time() * 1000))
    signature = Signature.get_signature(
        SECRET, signed_for, "v3", http_uri=f"http://testserver{URL}", timestamp=timestamp
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(
            URL,
            data=json.dumps([event(1, 666)]).encode(),
            content_type="application/json",
            HTTP_X_HUBSPOT_SIGNATURE_V3=signature,
            HTTP_X_HUBSPOT_REQUEST_TIMESTAMP=timestamp,
        )

    assert response.status_code == 401
    assert pulls_run() == []


def test_a_timestamp_older_than_five_minutes_is_refused(deliver, hubspot):
    old = deliver([event(1, 501)], age=301)
    recent = deliver([event(2, 502)], age=290)

    assert old.status_code == 401
    assert "5 minutes" in old.json()["detail"]
    assert recent.status_code == 200
    assert pulls_run() == [("hubspot", "contacts", ["502"])]


def test_a_repeated_event_id_is_ignored(deliver, hubspot):
    first = deliver([event(1, 501), event(2, 502)])
    # HubSpot retries a delivery with a new timestamp and signature, and the same event ids.
    retry = deliver([event(1, 501), event(2, 502), event(3, 503)])

    assert first.json()["objects_queued"] == 2
    assert retry.status_code == 200
    assert retry.json() == {"events": 3, "repeated": 2, "not_read": 0, "objects_queued": 1}
    assert pulls_run() == [
        ("hubspot", "contacts", ["501", "502"]),
        ("hubspot", "contacts", ["503"]),
    ]


def test_the_signed_url_is_the_one_set_in_hubspot_behind_a_proxy(deliver, hubspot, settings):
    settings.HUBSPOT_WEBHOOK_URL = "https://accord.example.com/api/v1/crm/hubspot/webhook/"

    as_hubspot = deliver([event(1, 501)], uri=settings.HUBSPOT_WEBHOOK_URL)
    as_django_sees_it = deliver([event(2, 502)])

    assert as_hubspot.status_code == 200
    assert as_django_sees_it.status_code == 401


def test_without_a_client_secret_nothing_is_accepted(deliver, settings):
    settings.HUBSPOT_CLIENT_SECRET = ""

    response = deliver([event(1, 501)], secret="")

    assert response.status_code == 503
    assert pulls_run() == []


def test_it_answers_only_signed_posts_of_json_lists(deliver, hubspot):
    not_a_list = deliver(None, body=json.dumps({"eventId": 1}))
    not_json = deliver(None, body="eventId=1")

    assert Client().get(URL).status_code == 405
    assert not_a_list.status_code == 400
    assert not_json.status_code == 400


def test_with_another_crm_nothing_is_pulled(deliver, settings):
    settings.CRM_BACKEND = "salesforce"

    response = deliver([event(1, 501)])

    assert response.status_code == 200
    assert response.json()["objects_queued"] == 0
    assert pulls_run() == []
