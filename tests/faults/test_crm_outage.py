"""The CRM down for ten simulated minutes, and for hours (ops/faults/crm_outage.py): everything
is delivered when it returns; dead letters only at the last attempt."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_ten_minute_crm_outage_delays_but_loses_nothing(postgres, fault):
    outcome = fault("crm-outage", database=True)

    assert outcome.code == 0, outcome.output
    assert all(outcome.checks.values()) and len(outcome.checks) >= 7, outcome.checks
    short, long = outcome.figures["short_outage"], outcome.figures["long_outage"]
    assert short["outage_minutes"] == 10
    assert 1 < short["most_attempts"] < outcome.figures["max_attempts"]  # retried, not buried
    assert long["dead_letters"] == long["accounts"]
