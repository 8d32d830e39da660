"""Events are append-only: the application refuses to change or delete them, and on
PostgreSQL a trigger refuses it even to raw SQL."""

import pytest
from django.db import DatabaseError, connection, transaction

from tests.workflow.helpers import events, nominate
from workflow.models import NominationEvent


@pytest.fixture
def event(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account)
    return events(n)[0]


def note_of(event):
    return NominationEvent.objects.values_list("note", flat=True).get(pk=event.pk)


def test_it_refuses_to_save_an_existing_event(event):
    event.note = "rewritten"

    with pytest.raises(TypeError, match="append-only"):
        event.save()

    assert note_of(event) == ""


def test_it_refuses_to_delete_an_event(event):
    with pytest.raises(TypeError, match="append-only"):
        event.delete()

    assert NominationEvent.objects.filter(pk=event.pk).exists()


def test_it_refuses_a_queryset_update(event):
    with pytest.raises(TypeError, match="append-only"):
        NominationEvent.objects.filter(pk=event.pk).update(note="rewritten")

    assert note_of(event) == ""


def test_it_refuses_a_queryset_delete(event):
    with pytest.raises(TypeError, match="append-only"):
        NominationEvent.objects.all().delete()

    assert NominationEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.postgres
def test_the_database_refuses_a_raw_update(event):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE workflow_nominationevent SET note = %s WHERE id = %s",
            ["rewritten", event.pk],
        )

    assert note_of(event) == ""


@pytest.mark.postgres
def test_the_database_refuses_a_raw_delete(event):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM workflow_nominationevent WHERE id = %s", [event.pk])

    assert NominationEvent.objects.filter(pk=event.pk).exists()
