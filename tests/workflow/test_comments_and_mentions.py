"""The discussion: members of either side (and ops) comment; @mentions notify the person."""

import pytest
from django.conf import settings
from django.urls import reverse

from core.errors import Invalid, NotAllowed
from tests.factories import person
from tests.workflow.helpers import nominate
from workflow import services


@pytest.fixture
def nomination(people, the_cycle, account):
    return nominate(people.marketer, the_cycle, account)


def comment(n, by, body):
    return services.comment_create(nomination=n, by=by, body=body)


def test_it_e_mails_the_people_mentioned(
    people, nomination, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        c = comment(nomination, people.sales_member, "@sam @olga have a look, and @nobody.")

    assert set(c.mentions.all()) == {people.sales_approver, people.ops}
    assert sorted(m.to[0] for m in mailoutbox) == ["olga@example.com", "sam@example.com"]
    message = mailoutbox[0]
    assert message.subject.startswith("[Accord] ")
    assert "mentioned you" in message.subject
    assert "have a look" in message.body
    link = settings.SITE_URL + reverse("workflow:nomination", args=[nomination.pk])
    assert f"Read and reply here: {link}" in message.body


def test_it_does_not_notify_the_author_of_their_own_mention(
    people, nomination, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        c = comment(nomination, people.sales_member, "Note to self, @sid")

    assert list(c.mentions.all()) == []
    assert mailoutbox == []


def test_it_ignores_e_mail_addresses(people, nomination):
    c = comment(nomination, people.sales_member, "Write to sam@example.com")

    assert list(c.mentions.all()) == []


def test_it_records_the_authors_side(people, nomination):
    assert comment(nomination, people.sales_member, "Hi").author_side == "sales"
    assert comment(nomination, people.ops, "Hi").author_side == ""


def test_it_refuses_a_comment_from_someone_without_a_side(nomination):
    outsider = person("ola", side=None)

    with pytest.raises(NotAllowed):
        comment(nomination, outsider, "Hello")


@pytest.mark.parametrize("body", ["", "   "])
def test_it_refuses_an_empty_comment(people, nomination, body):
    with pytest.raises(Invalid) as error:
        comment(nomination, people.sales_member, body)

    assert error.value.field == "body"
