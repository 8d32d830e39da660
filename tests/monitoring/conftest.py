from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import OutboxEntry, OutboxState
from tests.crm.conftest import fast_retries, hubspot  # noqa: F401 (fixtures used here)
from tests.factories import AccountFactory


@pytest.fixture
def outbox_entry(db):
    """An outbox entry in a given state whose latest change was made `age` ago."""

    def make(state=OutboxState.PENDING, *, age=timedelta(0)) -> OutboxEntry:
        at = timezone.now() - age
        return OutboxEntry.objects.create(
            account=AccountFactory(),
            change="added",
            state=state,
            enqueued_at=at,
            created_at=at,
            claim_token="00000000-0000-0000-0000-000000000001"
            if state == OutboxState.IN_FLIGHT
            else None,
            claimed_until=timezone.now() + timedelta(minutes=5)
            if state == OutboxState.IN_FLIGHT
            else None,
        )

    return make
