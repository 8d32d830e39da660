"""The fault scripts' verdicts can fail: each rule of what the CRM must hold names what is
wrong, a failure outside an outage is counted as one, and a run without checks is no PASS."""

from ops.faults.common import Checks, crm_problems
from ops.faults.postgres_restart import Answer, _outage_of

KEY = "accord_account_key"


def company(key, tier="tier_1", flagged="true"):
    return {
        "properties": {KEY: key, "hs_ideal_customer_profile": tier, "hs_is_target_account": flagged}
    }


def test_a_complete_crm_has_no_problems():
    assert (
        crm_problems(
            {"a": "tier_1", "b": "tier_2"}, [company("a"), company("b", "tier_2")], key=KEY
        )
        == []
    )


def test_each_way_the_crm_can_be_wrong_is_named():
    expected = {"a": "tier_1", "b": "tier_2", "c": "tier_3", "d": "tier_1"}
    held = [
        company("a"),
        company("a"),  # twice
        company("b", "tier_1"),  # a stale tier
        company("d", flagged="false"),  # not flagged
        company("z"),  # no account on the list
    ]  # c is missing

    problems = " | ".join(crm_problems(expected, held, key=KEY))

    assert "1 account(s) missing" in problems
    assert "1 account(s) held more than once" in problems
    assert "b: tier_1 instead of tier_2" in problems
    assert "1 account(s) not flagged" in problems
    assert "1 compan(y/ies) of no account on the list" in problems


def answer(started, ended):
    return Answer("comment", started, ended, 503)


def test_a_failure_belongs_to_the_outage_it_met_or_to_none():
    outages = [("restart", 10.0, 11.0), ("crash", 30.0, 35.0)]

    assert _outage_of(answer(9.8, 10.2), outages, grace=5) == 0  # in flight when it went down
    assert _outage_of(answer(15.0, 15.1), outages, grace=5) == 0  # within the grace
    assert _outage_of(answer(20.0, 20.1), outages, grace=5) is None  # long after its return
    assert _outage_of(answer(5.0, 5.1), outages, grace=5) is None  # before any outage
    assert _outage_of(answer(34.0, 36.0), outages, grace=5) == 1


def test_a_run_passes_only_with_checks_and_all_of_them_ok():
    checks = Checks()
    assert not checks.passed
    checks.check("one", True)
    assert checks.passed
    checks.check("two", False, "it broke")
    assert not checks.passed
