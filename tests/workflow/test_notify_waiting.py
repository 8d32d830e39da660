"""The approvers a nomination waits for get an e-mail when it starts waiting for them: not the
proposer, not people who already count, not non-approvers or ops."""

import pytest
from django.conf import settings
from django.urls import reverse

from core.errors import Invalid
from tests.factories import cycle, person
from tests.workflow.helpers import decide, nominate
from workflow import services


def link(n):
    return settings.SITE_URL + reverse("workflow:nomination", args=[n.pk])


def test_it_tells_the_other_sides_approvers(people, the_cycle, account, mail):
    with mail.capture():
        n = nominate(people.marketer, the_cycle, account, tier=2)

    assert mail.recipients() == ["sam@example.com", "sara@example.com"]
    message = mail.outbox[0]
    assert (
        message.subject
        == "[Accord] Waiting for your side: Add to the list: Globex (Tier 2) · FY27 H1"
    )
    assert link(n) in message.body
    assert "approve, reject (with a reason) or request changes" in message.body
    assert "Strong fit" in message.body


def test_it_sends_each_person_their_own_e_mail(people, the_cycle, account, mail):
    with mail.capture():
        nominate(people.marketer, the_cycle, account)

    assert [m.to for m in mail.outbox] == [["sam@example.com"], ["sara@example.com"]]


def test_it_also_tells_the_proposers_side_when_the_proposer_does_not_count(people, account, mail):
    c = cycle("FY27 H2", proposer_counts=False)

    with mail.capture():
        nominate(people.marketer, c, account)

    assert mail.recipients() == ["milo@example.com", "sam@example.com", "sara@example.com"]


def test_it_leaves_out_approvers_without_e_mail_and_people_on_both_sides(
    people, the_cycle, account, mail
):
    person("sven", side="sales", approver=True, email="")
    both = person("bo", side="sales", approver=True)
    both.groups.add(*people.marketer.groups.all())

    with mail.capture():
        nominate(people.marketer, the_cycle, account)

    assert mail.recipients() == ["sam@example.com", "sara@example.com"]


def test_it_does_not_tell_anyone_about_a_draft(people, the_cycle, account, mail):
    with mail.capture():
        nominate(people.marketer, the_cycle, account, submit=False)

    assert mail.outbox == []


def test_it_does_not_tell_people_again_after_each_approval(people, account, mail):
    c = cycle("FY27 H2", sales_quorum=2)
    n = nominate(people.marketer, c, account)

    with mail.capture():
        decide(n, people.sales_approver)

    assert mail.recipients() == ["mara@example.com"], "only the proposer hears of the decision"


def test_it_tells_the_approvers_again_on_resubmission(people, the_cycle, account, mail):
    n = nominate(people.marketer, the_cycle, account)
    decide(n, people.sales_approver, "request_changes", note="Tier 2?")

    with mail.capture():
        services.nomination_resubmit(nomination=n, by=people.marketer, tier=2)

    assert mail.recipients() == ["sam@example.com", "sara@example.com"]
    assert "round 2, resubmitted" in mail.outbox[0].body


def test_it_sends_nothing_when_the_transaction_fails(people, the_cycle, account, mail):
    with mail.capture(), pytest.raises(Invalid):
        nominate(people.marketer, the_cycle, account, rationale="")

    assert mail.outbox == []
