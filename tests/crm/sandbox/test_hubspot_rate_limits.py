"""HubSpot's limits: the rolling ten-second window, the search limit and the daily allowance.
The windows read the sandbox's clock, which these tests step forward instead of waiting."""

from crm.sandbox import run_sandbox
from tests.crm.sandbox.helpers import client as make_client


class Clock:
    """Seconds that pass only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def client(sandbox):
    return make_client(sandbox.url, headers={"Authorization": "Bearer sandbox-token"})


def test_it_answers_429_ten_secondly_rolling_past_the_window_and_recovers():
    clock = Clock()
    with (
        run_sandbox("hubspot", rate_limit=4, rate_window_seconds=1, clock=clock) as sandbox,
        client(sandbox) as hs,
    ):
        answers = [hs.get("/crm/v3/objects/companies") for _ in range(5)]
        clock.advance(0.99)
        still_inside = hs.get("/crm/v3/objects/companies")
        clock.advance(0.02)
        after_the_window = hs.get("/crm/v3/objects/companies")

    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    assert [a.headers["X-HubSpot-RateLimit-Remaining"] for a in answers] == [
        "3",
        "2",
        "1",
        "0",
        "0",
    ]
    for answer in answers:
        assert answer.headers["X-HubSpot-RateLimit-Max"] == "4"
        assert answer.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "1000"
        assert "X-HubSpot-RateLimit-Daily" in answer.headers
        assert "X-HubSpot-RateLimit-Daily-Remaining" in answer.headers
    body = answers[-1].json()
    assert body["status"] == "error"
    assert body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert body["correlationId"]
    assert "Retry-After" not in answers[-1].headers
    assert still_inside.status_code == 429
    assert after_the_window.status_code == 200
    assert sandbox.counters()["rate_limited_by_policy"] == {"TEN_SECONDLY_ROLLING": 2}


def test_it_answers_429_daily_once_the_days_allowance_is_spent():
    with run_sandbox("hubspot", daily_limit=3) as sandbox, client(sandbox) as hs:
        answers = [hs.get("/crm/v3/objects/companies") for _ in range(4)]
        sandbox.hook("POST", "limits", {"daily_limit": 3, "daily_used": 0})
        next_day = hs.get("/crm/v3/objects/companies")

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-HubSpot-RateLimit-Daily-Remaining"] for a in answers] == [
        "2",
        "1",
        "0",
        "0",
    ]
    body = answers[-1].json()
    assert body["policyName"] == "DAILY"
    assert body["message"] == "You have reached your daily limit."
    assert body["errorType"] == "RATE_LIMIT"
    assert next_day.status_code == 200


def test_it_limits_searches_per_second_apart_from_other_requests():
    clock = Clock()
    with (
        run_sandbox("hubspot", search_rate_limit=2, clock=clock) as sandbox,
        client(sandbox) as hs,
    ):
        searches = [hs.post("/crm/v3/objects/companies/search", json={}) for _ in range(3)]
        other = hs.get("/crm/v3/objects/companies")
        clock.advance(1.0)
        later = hs.post("/crm/v3/objects/companies/search", json={})

    assert [s.status_code for s in searches] == [200, 200, 429]
    assert searches[-1].json()["message"] == "You have reached your secondly limit."
    assert searches[-1].json()["errorType"] == "RATE_LIMIT"
    assert other.status_code == 200
    assert later.status_code == 200


def test_it_does_not_count_refused_requests_against_the_window():
    clock = Clock()
    with (
        run_sandbox("hubspot", rate_limit=2, rate_window_seconds=10, clock=clock) as sandbox,
        client(sandbox) as hs,
    ):
        for _ in range(2):
            hs.get("/crm/v3/objects/companies")
        clock.advance(5)
        refused = [hs.get("/crm/v3/objects/companies") for _ in range(5)]
        clock.advance(5)  # ten seconds after the accepted two; refused ones were not logged
        recovered = [hs.get("/crm/v3/objects/companies") for _ in range(2)]

    assert {r.status_code for r in refused} == {429}
    assert [r.status_code for r in recovered] == [200, 200]


def test_it_changes_its_limits_through_the_hook():
    with run_sandbox("hubspot") as sandbox, client(sandbox) as hs:
        limits = sandbox.hook("POST", "limits", {"rate_limit": 190, "rate_window_seconds": 10})
        answer = hs.get("/crm/v3/objects/companies")

    assert limits["rate_limit"] == 190
    assert answer.headers["X-HubSpot-RateLimit-Max"] == "190"
    assert answer.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
