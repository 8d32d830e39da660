"""The signed webhook: JSON batches a receiver can verify, retried when the receiver fails,
per-record refusals honoured."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from crm import services
from crm.adapters.webhook import signature, verify
from crm.models import OutboxEntry, OutboxState, SyncState
from tests.crm.helpers import bulk_list, queue_cycle
from tests.factories import AccountFactory
from tests.workflow.helpers import put_on_list

pytestmark = pytest.mark.django_db

SECRET = "whsec-test-0123456789"


class Receiver:
    """A webhook receiver on loopback that records what it gets and answers as scripted."""

    def __init__(self):
        self.deliveries: list[dict] = []
        self.answers: list[tuple[int, dict]] = []  # scripted (status, body), then 200 {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.deliveries.append({"headers": dict(self.headers), "body": body})
                status, answer = receiver.answers.pop(0) if receiver.answers else (200, {})
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/accord"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def accounts(self) -> list[dict]:
        return [a for d in self.deliveries for a in json.loads(d["body"])["accounts"]]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings, fast_retries):
    receiver = Receiver()
    settings.CRM_BACKEND = "webhook"
    settings.CRM_WEBHOOK_URL = receiver.url
    settings.CRM_WEBHOOK_SECRET = SECRET
    settings.CRM_WEBHOOK_RATE_LIMIT = 100_000
    settings.CRM_WEBHOOK_BATCH_SIZE = 50
    yield receiver
    receiver.stop()


def push():
    return services.outbox_push(trigger="command")


def test_it_posts_signed_batches_a_receiver_can_verify(receiver, people, the_cycle):
    accounts = bulk_list(people, the_cycle, 120, tier=2)
    queue_cycle(the_cycle)

    run = push()

    assert run.state == SyncState.SUCCEEDED
    assert len(receiver.deliveries) == 3  # 50 + 50 + 20
    for delivery in receiver.deliveries:
        headers = {k.title(): v for k, v in delivery["headers"].items()}
        assert verify(SECRET, headers, delivery["body"])
        assert headers["X-Accord-Delivery"] == json.loads(delivery["body"])["delivery_id"]
    sent = {a["key"]: a for a in receiver.accounts()}
    assert set(sent) == {str(a.key) for a in accounts}
    first = sent[str(accounts[0].key)]
    assert first == {
        "key": str(accounts[0].key),
        "name": "bulk 0",
        "domain": "bulk0.example",
        "is_target": True,
        "tier": 2,
        "cycle": "FY27 H1",
        "sales_owner_email": None,
        "marketing_owner_email": None,
    }


def test_a_tampered_late_or_foreign_delivery_does_not_verify(receiver, people, the_cycle):
    put_on_list(people, the_cycle, AccountFactory())
    push()
    delivery = receiver.deliveries[0]
    headers = {k.title(): v for k, v in delivery["headers"].items()}
    body = delivery["body"]

    assert verify(SECRET, headers, body)
    assert not verify(SECRET, headers, body.replace(b'"tier":1', b'"tier":3'))
    assert not verify("another-secret", headers, body)
    assert not verify(SECRET, headers, body, now=time.time() + 301)
    stamp = headers["X-Accord-Timestamp"]
    assert headers["X-Accord-Signature"] == signature(SECRET, stamp, body)


def test_a_failing_receiver_gets_the_same_batch_again(receiver, people, the_cycle):
    put_on_list(people, the_cycle, AccountFactory())
    receiver.answers = [(503, {"error": "busy"}), (500, {})]

    run = push()

    assert run.state == SyncState.SUCCEEDED
    assert len(receiver.deliveries) == 3
    ids = {json.loads(d["body"])["delivery_id"] for d in receiver.deliveries}
    assert len(ids) == 1  # the same delivery, retried
    for delivery in receiver.deliveries:  # each attempt signed afresh
        assert verify(
            SECRET, {k.title(): v for k, v in delivery["headers"].items()}, delivery["body"]
        )


def test_records_the_receiver_refuses_fail_alone(receiver, people, the_cycle):
    accounts = bulk_list(people, the_cycle, 3)
    refused = str(accounts[1].key)
    receiver.answers = [(200, {"errors": [{"key": refused, "message": "unknown territory"}]})]
    queue_cycle(the_cycle)

    run = push()

    assert (run.sent, run.failed, run.state) == (3, 1, SyncState.PARTIAL)
    entry = OutboxEntry.objects.get(account=accounts[1])
    assert (entry.state, entry.last_error) == (OutboxState.FAILED, "unknown territory")


def test_a_receiver_refusing_the_signature_fails_the_run(receiver, people, the_cycle):
    put_on_list(people, the_cycle, AccountFactory())
    receiver.answers = [(401, {"message": "bad signature"})]

    run = push()

    assert run.state == SyncState.FAILED
    assert "bad signature" in run.message
    assert OutboxEntry.objects.get().state == OutboxState.PENDING
