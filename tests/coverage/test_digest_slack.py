"""The digest in Slack through an incoming webhook: a Block Kit message (header, the scorecard
as section fields, what changed, the top gaps, a link to the dashboard), Slack's control
characters escaped; 429 and 5xx retried (Retry-After honoured), a refusal logged and not
retried; nothing sent without a webhook URL. Slack is played by a local HTTP server."""

import json
import logging

import pytest

from coverage import slack, tasks
from coverage.digest import digest_cycles
from coverage.services import snapshot_take
from crm.adapters.base import TransientError
from tests.coverage.slack_receiver import start_receiver
from workflow.models import FailedNotification


@pytest.fixture
def snapshot(world):
    return snapshot_take(cycle=world.cycle, as_of=world.as_of)


@pytest.fixture
def receiver(settings):
    receiver, server = start_receiver()
    settings.COVERAGE_DIGEST_SLACK_WEBHOOK_URL = receiver.url
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def waits():
    return []


def test_the_message_is_block_kit_with_the_scorecard_gaps_and_a_link(
    snapshot, receiver, waits, settings
):
    assert slack.digest_post(sleep=waits.append) is True
    (request,) = receiver.requests
    assert request.path == "/services/T000/B000/s3cr3t-token"
    assert request.headers["Content-Type"] == "application/json"
    payload = request.json
    assert payload["text"] == f"Weekly coverage digest: {snapshot.cycle.name}"
    header, scorecard, changes, gaps, *rest = payload["blocks"]
    assert header == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": f"Weekly coverage · {snapshot.cycle.name}",
            "emoji": False,
        },
    }
    assert scorecard["type"] == "section"
    labels = [f["text"].split("\n")[0] for f in scorecard["fields"]]
    assert labels[:3] == ["*Target accounts*", "*Fully covered*", "*Engaged or further*"]
    assert scorecard["fields"][0] == {"type": "mrkdwn", "text": "*Target accounts*\n6"}
    assert len(scorecard["fields"]) <= 10
    assert "No snapshot a week older yet" in changes["text"]["text"]
    assert gaps["text"]["text"].startswith("*Top gaps*\n• ")
    assert "Missing required role: " in gaps["text"]["text"]
    link = rest[-1]["text"]["text"]
    dashboard = f"{settings.SITE_URL}/cycles/{snapshot.cycle.pk}/coverage/"
    assert link == f"<{dashboard}|Open the {snapshot.cycle.name} dashboard>"
    assert waits == []


def test_slack_control_characters_in_names_are_escaped(snapshot, receiver):
    cycle = snapshot.cycle
    type(cycle).objects.filter(pk=cycle.pk).update(name="<!channel> Q1 & <http://evil|x>")
    assert slack.digest_post(sleep=lambda s: None) is True
    body = receiver.requests[0].body.decode()
    assert "<!channel>" not in body
    assert "<http://evil" not in body
    payload = json.loads(body)
    escaped = "&lt;!channel&gt; Q1 &amp; &lt;http://evil|x&gt;"
    assert payload["blocks"][0]["text"]["text"] == f"Weekly coverage · {escaped}"
    assert payload["blocks"][-1]["text"]["text"].endswith(f"|Open the {escaped} dashboard>")


def test_a_429_is_retried_after_the_time_slack_asks_for(snapshot, receiver, waits):
    receiver.queued = [(429, "rate_limited", {"Retry-After": "7"})]
    assert slack.digest_post(sleep=waits.append) is True
    assert len(receiver.requests) == 2
    assert waits == [7.0]
    assert receiver.requests[0].body == receiver.requests[1].body


def test_server_errors_are_retried_with_backoff(snapshot, receiver, waits):
    receiver.queued = [(500, "internal_error", {}), (503, "service_unavailable", {})]
    assert slack.digest_post(sleep=waits.append) is True
    assert len(receiver.requests) == 3
    assert len(waits) == 2 and all(0 < w <= 30 for w in waits)


def test_a_refusal_is_logged_and_not_retried(snapshot, receiver, waits, caplog):
    receiver.queued = [(400, "invalid_payload", {})]
    with caplog.at_level(logging.ERROR, logger="coverage.slack"):
        assert slack.digest_post(sleep=waits.append) is False
    assert len(receiver.requests) == 1
    assert waits == []
    assert "Slack refused the weekly digest (400): invalid_payload" in caplog.text
    assert "s3cr3t-token" not in caplog.text  # the webhook URL is a secret


def test_what_slack_would_refuse_is_not_sent(snapshot, receiver):
    # The receiver checks Block Kit's rules as Slack does: the real message passes them, with
    # a cycle name longer than a header may be.
    cycle = snapshot.cycle
    type(cycle).objects.filter(pk=cycle.pk).update(name="N" * 100)
    assert slack.digest_post(sleep=lambda s: None) is True
    assert len(receiver.requests[0].json["blocks"][0]["text"]["text"]) <= 150


def test_a_slack_that_keeps_failing_gives_up_after_its_tries(snapshot, receiver, waits, settings):
    settings.COVERAGE_SLACK_MAX_TRIES = 3
    receiver.queued = [(500, "internal_error", {})] * 3
    with pytest.raises(TransientError, match="Gave up after 3 tries"):
        slack.digest_post(sleep=waits.append)
    assert (len(receiver.requests), len(waits)) == (3, 2)


def test_a_failed_post_through_the_task_is_kept_for_ops(snapshot, receiver, settings):
    settings.COVERAGE_SLACK_MAX_TRIES = 1  # the task sleeps for real between tries
    receiver.queued = [(503, "service_unavailable", {})]
    with pytest.raises(TransientError):
        tasks.digest_post_to_slack()
    failed = FailedNotification.objects.get()
    assert failed.task_name == tasks.digest_post_to_slack.name
    assert failed.description == "Weekly coverage digest to Slack"
    assert "503" in failed.error


def test_no_webhook_no_slack_call(snapshot, receiver, settings):
    settings.COVERAGE_DIGEST_SLACK_WEBHOOK_URL = ""
    assert slack.digest_post() is None
    tasks.digest_send_weekly()
    assert receiver.requests == []


def test_the_weekly_task_posts_to_slack_when_a_webhook_is_set(snapshot, receiver):
    tasks.digest_send_weekly()
    assert len(receiver.requests) == 1
    assert receiver.requests[0].json["blocks"][0]["type"] == "header"


def test_a_digest_with_several_cycles_keeps_within_block_kits_limits(people, snapshot):
    from tests.factories import cycle

    other = cycle("FY27 H2")
    snapshot_take(cycle=other)
    payload = slack.digest_payload(digest_cycles(charts=False))
    kinds = [block["type"] for block in payload["blocks"]]
    assert kinds.count("header") == 2 and "divider" in kinds
    assert len(payload["blocks"]) <= 50
