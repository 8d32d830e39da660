"""The proposer gets an e-mail on each decision, saying what it means for them."""

import pytest
from django.conf import settings
from django.urls import reverse

from core.errors import NotAllowed
from tests.factories import cycle
from tests.workflow.helpers import decide, nominate


@pytest.fixture
def nomination(people, account):
    return nominate(people.marketer, cycle("FY27 H2", sales_quorum=2), account, tier=1)


def only_message(mail):
    assert len(mail.outbox) == 1
    return mail.outbox[0]


def link(n):
    return settings.SITE_URL + reverse("workflow:nomination", args=[n.pk])


def test_it_tells_the_proposer_of_an_approval_that_leaves_it_waiting(people, nomination, mail):
    with mail.capture():
        decide(nomination, people.sales_approver, note="Good fit")

    message = only_message(mail)
    assert message.to == ["mara@example.com"]
    assert message.subject == "[Accord] Approve: Add to the list: Globex (Tier 1) · FY27 H2"
    assert "“Good fit”" in message.body
    assert "still in review, waiting for: Sales (1 of 2 approvals)" in message.body
    assert link(nomination) in message.body


def test_it_tells_the_proposer_when_both_sides_agreed(people, nomination, mail):
    decide(nomination, people.sales_approver)

    with mail.capture():
        decide(nomination, people.sales_approver_2)

    message = only_message(mail)
    assert message.to == ["mara@example.com"]
    assert "Both sides agreed" in message.body


def test_it_tells_the_proposer_of_a_rejection_with_the_reason(people, nomination, mail):
    with mail.capture():
        decide(nomination, people.sales_approver, "reject", note="Existing customer")

    message = only_message(mail)
    assert message.subject.startswith("[Accord] Reject:")
    assert "“Existing customer”" in message.body
    assert "It is rejected" in message.body


def test_it_tells_the_proposer_what_to_do_when_changes_are_requested(people, nomination, mail):
    with mail.capture():
        decide(nomination, people.sales_approver, "request_changes", note="Add evidence")

    message = only_message(mail)
    assert "“Add evidence”" in message.body
    assert "edit your nomination and resubmit it" in message.body
    assert link(nomination) in message.body


def test_it_sends_nothing_for_a_refused_decision(people, nomination, mail):
    with mail.capture(), pytest.raises(NotAllowed, match="not an approver"):
        decide(nomination, people.sales_member)

    assert mail.outbox == []
