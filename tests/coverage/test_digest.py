"""The weekly digest e-mail: the same scorecard for everyone, each reader's own accounts with
gaps, what changed since last week, nominations waiting too long; a text and an HTML part, and
the charts inline (cid)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from coverage import digest, tasks
from coverage.services import snapshot_take
from tests.coverage.digest import hand_snapshot, parts, text_and_html
from tests.factories import AccountFactory
from tests.workflow.helpers import nominate
from workflow.models import Nomination


@pytest.fixture
def snapshot(world):
    return snapshot_take(cycle=world.cycle, as_of=world.as_of)


def _sent_to(person):
    mail.outbox.clear()
    assert tasks.digest_send(person.pk) == 1
    (message,) = mail.outbox
    assert message.to == [person.email]
    return message


def test_a_reader_gets_a_text_and_an_html_part_with_the_scorecard(people, snapshot, settings):
    message = _sent_to(people.sales_member)
    text, html = text_and_html(message)
    dashboard = f"{settings.SITE_URL}/cycles/{snapshot.cycle.pk}/coverage/"
    assert f"Dashboard: {dashboard}" in text
    assert f'href="{dashboard}"' in html
    assert message.subject == f"[Accord] Weekly coverage: {snapshot.cycle.name}"
    for body in (text, html):
        assert "Target accounts" in body
        assert "Fully covered" in body
        assert "50,000.00" in body  # Acme's open deal, the cycle's open pipeline
    assert "<table" in html and "<table" not in text


def test_everyone_reads_the_same_scorecard(people, snapshot):
    def scorecard(person):
        _, html = text_and_html(_sent_to(person))
        start = html.index('data-part="scorecard"')
        return html[start : html.index("</table>", start)]

    assert scorecard(people.sales_member) == scorecard(people.marketing_member)
    assert scorecard(people.ops) == scorecard(people.sales_member)


def _own_part(html: str) -> str:
    start = html.index('data-part="own"')
    return html[start : html.index('data-part="waiting"')]


def test_each_reader_sees_their_own_accounts_with_gaps(people, snapshot):
    # Bravo has a sales owner (sid) but no marketing owner; Delta has no owner at all.
    _, seller = text_and_html(_sent_to(people.sales_member))
    _, marketer = text_and_html(_sent_to(people.marketing_member))
    assert "Bravo" in _own_part(seller)
    assert "Bravo" not in _own_part(marketer)
    assert "No marketing owner" in _own_part(seller)
    assert "Delta" not in _own_part(seller) + _own_part(marketer)
    assert "sales owner" in _own_part(seller)
    assert "marketing owner" in _own_part(marketer)
    text, _ = text_and_html(_sent_to(people.ops))
    assert "None of your accounts has a gap." in text


def test_names_are_escaped_in_the_html_part(people, world, snapshot):
    world.accounts["Bravo"].name = "<script>alert(1)</script> & Co"
    world.accounts["Bravo"].save()
    text, html = text_and_html(_sent_to(people.sales_member))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    assert "<script>alert(1)</script> & Co" in text


def test_what_changed_since_last_week_is_in_both_parts(people, world):
    hand_snapshot(
        world.cycle, 7, {"Acme": {"stage": "aware", "gaps": ["missing_role"]}, "Delta": {}}
    )
    hand_snapshot(world.cycle, 0, {"Acme": {"stage": "engaged"}, "Echo": {}})
    text, html = text_and_html(_sent_to(people.sales_member))
    assert "Accounts added: 1 (Echo)" in text
    assert "Accounts removed: 1 (Delta)" in text
    assert "Gaps opened: 0, closed: 1" in text
    assert "Missing required role: +0 / -1" in text
    assert "Stage moves: 1 (1 forward, 0 back)" in text
    assert "Acme: aware -> engaged" in text
    assert "Accounts added: <strong>1</strong> (Echo)" in html
    assert "Acme: aware → engaged" in html


def test_the_first_week_says_there_is_nothing_to_compare_yet(people, snapshot):
    text, _ = text_and_html(_sent_to(people.sales_member))
    assert "No snapshot a week older yet" in text


def test_nominations_waiting_longer_than_the_cycle_allows_are_listed(people, world, snapshot):
    slow = nominate(people.marketer, world.cycle, AccountFactory(name="Slowpoke"))
    fresh = nominate(people.marketer, world.cycle, AccountFactory(name="Newcomer"))
    hours = world.cycle.reminder_after_hours
    Nomination.objects.filter(pk=slow.pk).update(
        waiting_since=timezone.now() - timedelta(hours=hours + 5)
    )
    Nomination.objects.filter(pk=fresh.pk).update(
        waiting_since=timezone.now() - timedelta(hours=hours - 5)
    )
    text, html = text_and_html(_sent_to(people.marketing_member))
    assert f"Nominations waiting longer than {hours} hours (1)" in text
    assert "Slowpoke: Add to the list (Tier 1), waiting 3.2 days for Sales" in text
    assert f"/nominations/{slow.pk}/" in html
    assert "Newcomer" not in text


def test_the_charts_are_inline_pngs_the_html_refers_to_by_content_id(people, snapshot):
    message = _sent_to(people.sales_member)
    images = parts(message)["image/png"]
    assert len(images) == len(digest.DIGEST_CHARTS)
    _, html = text_and_html(message)
    for image in images:
        assert image.get_payload(decode=True).startswith(b"\x89PNG\r\n\x1a\n")
        assert image.get_content_disposition() == "inline"
        cid = image["Content-ID"].strip("<>")
        assert f'src="cid:{cid}"' in html
    assert html.count('src="cid:') == len(images)
    assert message.message().get_content_type() == "multipart/related"
    (alternative,) = [
        p for p in message.message().walk() if p.get_content_type() == "multipart/alternative"
    ]
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "text/html"]


def test_a_chart_given_to_the_message_is_attached_under_its_content_id(people, snapshot):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    cycles = digest.digest_cycles(charts=False)
    cycles[0].charts = [digest.Chart(cid="coverage-by-tier@accord", title="By tier", png=png)]
    message = digest.digest_message(person=people.sales_member, cycles=cycles)
    (image,) = parts(message)["image/png"]
    assert image["Content-ID"] == "<coverage-by-tier@accord>"
    assert image.get_payload(decode=True) == png
    assert image.get_content_disposition() == "inline"
    _, html = text_and_html(message)
    assert 'src="cid:coverage-by-tier@accord"' in html
    assert message.message().get_content_type() == "multipart/related"


def test_no_digest_before_the_first_snapshot(people, world):
    mail.outbox.clear()
    assert tasks.digest_send(people.sales_member.pk) == 0
    assert mail.outbox == []


def test_a_subject_is_one_line_whatever_the_cycle_is_called(people, snapshot):
    type(snapshot.cycle).objects.filter(pk=snapshot.cycle.pk).update(name="FY27\r\nBcc: x@y.z")
    message = _sent_to(people.sales_member)
    assert message.subject == "[Accord] Weekly coverage: FY27 Bcc: x@y.z"


def test_a_chart_that_cannot_be_drawn_is_left_out_and_the_digest_still_goes(people, world):
    # A snapshot without aggregates gives vl-convert nothing to draw.
    hand_snapshot(world.cycle, 0, {"Acme": {}})
    message = _sent_to(people.sales_member)
    _, html = text_and_html(message)
    assert html.count('src="cid:') == len(parts(message).get("image/png", []))
