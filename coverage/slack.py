"""The weekly digest in a Slack channel, through an incoming webhook
(COVERAGE_DIGEST_SLACK_WEBHOOK_URL): a Block Kit message per cycle with the scorecard, what
changed, the top gaps and a link to the dashboard.

Sent with the CRM adapters' transport (crm.adapters.base.Transport), so the retry rules live in
one place: 429 and 5xx are retried with backoff, honouring Retry-After; other answers are not.
Slack answers 200 `ok`, or a 4xx with a short reason (`invalid_payload`, `no_service`, …).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings

from coverage.digest import CycleDigest, digest_cycles

logger = logging.getLogger(__name__)

# Block Kit's limits: a header's text, a section's text and each field, fields per section,
# blocks per message.
HEADER_MAX = 150
TEXT_MAX = 3000
FIELD_MAX = 2000
FIELDS_MAX = 10
BLOCKS_MAX = 50
TOP_GAPS = 5


def escape(text) -> str:
    """Slack's three control characters as entities: a name like `<!channel>` or `a <b>` is
    shown as written, never read as a mention or a link."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(text: str, limit: int) -> dict:
    return {"type": "plain_text", "text": _cut(escape(text), limit), "emoji": False}


def _mrkdwn(text: str, limit: int = TEXT_MAX) -> dict:
    # `text` is built here with its user-provided parts already escaped.
    return {"type": "mrkdwn", "text": _cut(text, limit)}


def _changes_line(item: CycleDigest) -> str:
    c = item.changes
    if c is None:
        return "*What changed*\nNo snapshot a week older yet: next week's digest compares."
    return (
        f"*What changed since {c.since:%d %b %Y}*\n"
        f"Accounts added: {c.added} · removed: {c.removed}\n"
        f"Gaps opened: {c.opened} · closed: {c.closed}\n"
        f"Stage moves: {c.moved} ({c.moved_forward} forward, {c.moved_back} back)"
    )


def cycle_blocks(item: CycleDigest) -> list[dict]:
    name = item.cycle.name
    blocks = [
        {"type": "header", "text": _plain(f"Weekly coverage · {name}", HEADER_MAX)},
        {
            "type": "section",
            "text": _mrkdwn(f"Snapshot of {item.snapshot.taken_on:%d %b %Y}"),
            "fields": [
                _mrkdwn(f"*{escape(score.label)}*\n{escape(score.value)}", FIELD_MAX)
                for score in item.scorecard[:FIELDS_MAX]
            ],
        },
        {"type": "section", "text": _mrkdwn(_changes_line(item))},
    ]
    if not blocks[1]["fields"]:
        del blocks[1]["fields"]
    gaps = "\n".join(
        f"• {escape(label)}: {count} account{'s' if count != 1 else ''}"
        for label, count in item.top_gaps[:TOP_GAPS]
    )
    blocks.append({"type": "section", "text": _mrkdwn(f"*Top gaps*\n{gaps or 'None.'}")})
    if item.waiting_total:
        blocks.append(
            {
                "type": "section",
                "text": _mrkdwn(
                    f"*Nominations waiting longer than {item.cycle.reminder_after_hours} h:* "
                    f"{item.waiting_total}"
                ),
            }
        )
    # The URL is ours (SITE_URL and a path); only the label is text.
    blocks.append(
        {
            "type": "section",
            "text": _mrkdwn(f"<{item.dashboard_url}|Open the {escape(name)} dashboard>"),
        }
    )
    return blocks


def digest_payload(cycles: list[CycleDigest]) -> dict:
    """The webhook's JSON: `text` is the notification's fallback, `blocks` the message."""
    blocks: list[dict] = []
    for number, item in enumerate(cycles):
        if number:
            blocks.append({"type": "divider"})
        blocks.extend(cycle_blocks(item))
    names = ", ".join(item.cycle.name for item in cycles)
    return {
        "text": _cut(escape(f"Weekly coverage digest: {names}"), TEXT_MAX),
        "blocks": blocks[:BLOCKS_MAX],
    }


def post(payload: dict, *, url: str, sleep: Callable[[float], None] = time.sleep) -> bool:
    """POST `payload` to the webhook. True when Slack answers 200; a refusal (4xx) is logged
    and returns False. Raises crm.adapters.base.TransientError when 429/5xx or the network
    outlast the retries, Deferred when Slack asks to wait too long, ConfigurationError on
    401/403."""
    from crm.adapters.base import RetryPolicy, Transport, describe

    transport = Transport(
        timeout=settings.COVERAGE_SLACK_TIMEOUT_SECONDS,
        policy=RetryPolicy(
            max_tries=settings.COVERAGE_SLACK_MAX_TRIES,
            base_seconds=1.0,
            max_seconds=30.0,
            retry_after_max_seconds=settings.COVERAGE_SLACK_RETRY_AFTER_MAX_SECONDS,
        ),
        sleep=sleep,
    )
    try:
        # Retrying a 429 or a 5xx may, rarely, post the digest twice; losing it is worse.
        response = transport.request("POST", url, idempotent=True, json=payload)
    finally:
        transport.close()
    if response.status_code == 200:
        return True
    # The URL is a secret: it is never logged, only Slack's answer.
    logger.error(
        "Slack refused the weekly digest (%s): %s", response.status_code, describe(response)
    )
    return False


def digest_post(*, sleep: Callable[[float], None] = time.sleep) -> bool | None:
    """Post this week's digest to the configured channel. None when no webhook is configured
    or no active cycle has a snapshot; otherwise whether Slack took it."""
    url = settings.COVERAGE_DIGEST_SLACK_WEBHOOK_URL
    if not url:
        return None
    cycles = digest_cycles(charts=False)
    if not cycles:
        return None
    return post(digest_payload(cycles), url=url, sleep=sleep)
