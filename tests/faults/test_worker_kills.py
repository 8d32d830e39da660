"""A worker killed again and again during a big push (ops/faults/worker_kills.py): the CRM ends
with each account exactly once, with its latest tier."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_worker_killed_three_times_mid_push_leaves_each_account_once(postgres, fault):
    outcome = fault("worker-kills", database=True)

    assert outcome.code == 0, outcome.output
    assert all(outcome.checks.values()) and len(outcome.checks) >= 4, outcome.checks
    kills = outcome.figures["kills"]
    assert len(kills) == 3
    assert all(k["in_flight"] > 0 for k in kills)  # each kill hit entries in flight
    assert outcome.figures["tier_changes"] == 12
    assert outcome.figures["crm"]["records_created"] == outcome.figures["accounts"] == 500
