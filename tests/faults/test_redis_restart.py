"""Redis restarted with pushes queued (ops/faults/redis_restart.py): every change is still in
the outbox, and the sweeper delivers it."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_redis_restart_with_pushes_queued_loses_nothing(postgres, fault):
    outcome = fault("redis-restart", database=True)

    assert outcome.code == 0, outcome.output
    assert outcome.verdict["passed"] is True
    assert all(outcome.checks.values()) and len(outcome.checks) >= 8, outcome.checks
    # The fault did happen: the pushes were queued, then gone with the restart.
    assert outcome.checks["a push task per approval was queued in Redis"]
    assert outcome.checks["the restart lost every queued task"]
    assert outcome.figures["accounts"] == 40
