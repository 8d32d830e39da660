"""Beat stopped for an hour (ops/faults/beat_stopped.py): what waits for the sweeper waits in
the outbox, and the sweeper catches up when beat returns."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_sweeper_catches_up_when_beat_returns(postgres, fault):
    outcome = fault("beat-stopped", database=True)

    assert outcome.code == 0, outcome.output
    assert all(outcome.checks.values()) and len(outcome.checks) >= 5, outcome.checks
    assert outcome.figures["changes"] == 500
    assert "crm: sweep the outbox" in outcome.figures["beat_sent_at_start"]
