"""Bad requests get clear 4xx answers in JSON, never a 500."""

import json

import pytest

from tests.factories import AccountFactory
from workflow import services
from workflow.models import Nomination, SignOff

N = "/api/v1/nominations/"


@pytest.fixture
def nomination(people, the_cycle, account):
    return services.nomination_create(
        cycle=the_cycle, account=account, kind="add", tier=1, rationale="Fit", by=people.marketer
    )


def _raw(client, url, body: bytes, content_type="application/json", method="post"):
    return getattr(client, method)(url, data=body, content_type=content_type)


def test_it_answers_400_for_malformed_json(clients):
    response = _raw(clients["proposer"], N, b'{"cycle": 1,')
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert "JSON parse error" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,  # deeper than Python's parser goes
        b'{"rationale": "\\ud800"}',  # a lone surrogate: not text
        b'{"cycle": NaN}',
        b'"just a string"',
        b"[1, 2, 3]",
    ],
    ids=["deep", "surrogate", "nan", "string", "list"],
)
def test_it_answers_400_for_json_that_is_not_a_request(clients, body):
    response = _raw(clients["proposer"], N, body)
    assert response.status_code == 400
    assert response.json()["detail"]


def test_it_names_each_field_at_fault(clients, the_cycle):
    response = clients["proposer"].post(
        N,
        {"cycle": "first", "account": 99999999999999999999999, "kind": "adopt", "tier": 7},
        format="json",
    )
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert set(fields) == {"cycle", "account", "kind", "tier", "rationale"}
    assert "kind: " in response.json()["detail"]


def test_it_refuses_a_side_in_the_request(clients, nomination):
    response = clients["other_side_approver"].post(
        f"{N}{nomination.pk}/decisions/", {"decision": "approve", "side": "marketing"}
    )
    assert response.status_code == 400
    assert "never taken from a request" in response.json()["fields"]["side"][0]
    assert not SignOff.objects.filter(nomination=nomination, by_submission=False).exists()


def test_it_refuses_unknown_fields_instead_of_ignoring_them(clients, nomination):
    response = clients["proposer"].post(f"{N}{nomination.pk}/withdraw/", {"notes": "typo"})
    assert response.status_code == 400
    assert response.json()["fields"] == {"notes": ["Unknown field."]}
    assert Nomination.objects.get(pk=nomination.pk).state == "in_review"


def test_it_answers_400_for_a_nomination_of_an_unknown_account_domain(clients, the_cycle):
    response = clients["proposer"].post(
        N,
        {
            "cycle": the_cycle.pk,
            "account_domain": "nobody.example",
            "kind": "add",
            "tier": 1,
            "rationale": "Fit",
        },
    )
    assert response.status_code == 400
    assert "POST /api/v1/accounts/" in response.json()["fields"]["account_domain"][0]


def test_it_answers_400_with_the_services_message_and_field(clients, nomination):
    response = clients["other_side_approver"].post(
        f"{N}{nomination.pk}/decisions/", {"decision": "reject"}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["fields"] == {"note": [body["detail"]]}
    assert "reason" in body["detail"]


def test_it_answers_403_for_a_second_decision_in_a_round(clients, nomination):
    url = f"{N}{nomination.pk}/decisions/"
    assert clients["same_side_approver"].post(url, {"decision": "approve"}).status_code == 201
    again = clients["same_side_approver"].post(url, {"decision": "approve"})
    assert again.status_code == 403
    assert again.json()["code"] == "not_allowed"
    assert "already decided" in again.json()["detail"]


def test_it_answers_409_for_deciding_on_a_withdrawn_nomination(clients, nomination):
    clients["proposer"].post(f"{N}{nomination.pk}/withdraw/", {})
    response = clients["other_side_approver"].post(
        f"{N}{nomination.pk}/decisions/", {"decision": "approve"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert "withdrawn" in response.json()["detail"]


def test_it_answers_409_for_a_second_open_nomination_of_an_account(clients, nomination):
    response = clients["same_side_approver"].post(
        N,
        {
            "cycle": nomination.cycle_id,
            "account": nomination.account_id,
            "kind": "add",
            "tier": 2,
            "rationale": "Me too",
        },
    )
    assert response.status_code == 409
    assert response.json()["fields"]["account"]
    assert f"#{nomination.pk}" in response.json()["detail"]


def test_it_answers_409_when_the_tier_is_full(people, clients):
    from tests.factories import cycle

    tiny = cycle("Tiny", capacities=(1, 1, 1))
    first, second = AccountFactory(), AccountFactory()
    for target in (first, second):
        created = clients["proposer"].post(
            N,
            {"cycle": tiny.pk, "account": target.pk, "kind": "add", "tier": 1, "rationale": "Fit"},
        )
        assert created.status_code == 201
    ids = Nomination.objects.filter(cycle=tiny).order_by("pk").values_list("pk", flat=True)
    ok = clients["other_side_approver"].post(f"{N}{ids[0]}/decisions/", {"decision": "approve"})
    assert ok.status_code == 201
    full = clients["other_side_approver"].post(f"{N}{ids[1]}/decisions/", {"decision": "approve"})
    assert full.status_code == 409
    assert "Tier 1 of Tiny is full" in full.json()["detail"]
    assert full.json()["fields"] == {"tier": [full.json()["detail"]]}
    assert Nomination.objects.get(pk=ids[1]).state == "in_review"


def test_it_answers_409_for_a_duplicate_account_domain(clients, account):
    response = clients["proposer"].post(
        "/api/v1/accounts/", {"name": "Globex again", "domain": "https://globex.example/"}
    )
    assert response.status_code == 409
    assert "globex.example" in response.json()["fields"]["domain"][0]


def test_it_answers_409_for_a_crm_id_another_account_has(clients, account):
    AccountFactory(domain="other.example", hubspot_company_id="42")
    response = clients["ops"].patch(f"/api/v1/accounts/{account.pk}/", {"hubspot_company_id": "42"})
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"


def test_it_answers_413_in_json_for_a_body_above_the_limit(clients, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"body": "x" * 2000}).encode()
    response = _raw(clients["proposer"], N, body)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert "1,000" in response.json()["detail"]


@pytest.mark.parametrize(
    "query",
    [
        "state=approvedish",
        "tier=4",
        "tier=one",
        "cycle=-1",
        "cycle=99999999999999999999999999",
        "side=both",
        "kind=",  # empty is no filter: 200
    ],
)
def test_it_answers_400_for_unknown_filter_values(clients, nomination, query):
    response = clients["proposer"].get(f"{N}?{query}")
    if query == "kind=":
        assert response.status_code == 200
        return
    assert response.status_code == 400
    name = query.split("=")[0]
    assert name in response.json()["fields"]


@pytest.mark.parametrize(
    "value",
    ["yesterday", "2027-13-01", "2027-01-01T00:00:00 00:00", "99999-01-01T00:00:00Z", "\x00"],
)
def test_it_answers_400_for_an_updated_since_that_is_not_iso_8601(clients, the_cycle, value):
    response = clients["integration"].get(
        f"/api/v1/cycles/{the_cycle.pk}/target-accounts/", {"updated_since": value}
    )
    assert response.status_code == 400
    assert "updated_since" in response.json()["fields"]


@pytest.mark.parametrize(
    "query", ["min_fit_score=101", "min_fit_score=x", "on_list=0", "domain=not a domain"]
)
def test_it_answers_400_for_bad_account_filters(clients, account, query):
    response = clients["integration"].get(f"/api/v1/accounts/?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()["fields"]


def test_it_answers_404_for_a_page_past_the_end(clients, account):
    response = clients["proposer"].get("/api/v1/accounts/?page=7")
    assert response.status_code == 404
    assert "no page 7" in response.json()["detail"]


def test_it_answers_415_for_a_body_that_is_not_json(clients, the_cycle):
    response = clients["proposer"].post(N, data="cycle=1", content_type="text/plain")
    assert response.status_code == 415


@pytest.mark.parametrize(
    "body",
    [
        {"name": "A", "domain": "a.example", "employee_count": 10**30},
        {"name": "A", "domain": "a.example", "annual_revenue": "1e400"},
        {"name": "A", "domain": "a.example", "annual_revenue": "NaN"},
        {"name": "A" * 201, "domain": "a.example"},
        {"name": "A", "domain": "a.example", "country": "Germany"},
        {"name": "A", "domain": "a.example", "parent": 10**25},
        {"name": "A", "domain": "a.example", "sales_owner": "sam"},
        {"name": "A\x00", "domain": "a.example"},
        {"name": "A", "domain": "localhost"},
    ],
)
def test_it_answers_400_for_account_values_the_database_would_refuse(clients, body):
    response = clients["ops"].post("/api/v1/accounts/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["fields"]


def test_it_checks_a_new_cycles_dates_and_tiers(clients):
    response = clients["ops"].post(
        "/api/v1/cycles/",
        {
            "name": "Backwards",
            "starts_on": "2028-06-30",
            "ends_on": "2028-01-01",
            "tiers": [{"number": 1, "capacity": 1}, {"number": 1, "capacity": 2}],
        },
    )
    assert response.status_code == 400
    assert "tiers" in response.json()["fields"]
    backwards = clients["ops"].post(
        "/api/v1/cycles/",
        {
            "name": "Backwards",
            "starts_on": "2028-06-30",
            "ends_on": "2028-01-01",
            "escalate_after_hours": 1,
            "tiers": [{"number": n, "capacity": 1} for n in (1, 2, 3)],
        },
    )
    assert backwards.status_code == 400
    assert backwards.json()["fields"] == {"ends_on": [backwards.json()["detail"]]}


def test_it_refuses_an_account_as_its_own_parent(clients, account):
    response = clients["ops"].patch(f"/api/v1/accounts/{account.pk}/", {"parent": account.pk})
    assert response.status_code == 400
    assert response.json()["fields"]["parent"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"body": 12}, "body"),
        ({"body": ["hi"]}, "body"),
        ({"body": True}, "body"),
    ],
)
def test_it_takes_each_value_only_in_its_documented_type(clients, nomination, body, field):
    response = clients["ops"].post(f"{N}{nomination.pk}/comments/", body, format="json")
    assert response.status_code == 400
    assert response.json()["fields"][field] == ["Expected a string."]


def test_it_refuses_numbers_as_strings_and_strings_as_numbers(clients, the_cycle, account):
    response = clients["proposer"].post(
        N,
        {
            "cycle": str(the_cycle.pk),
            "account": account.pk,
            "kind": "add",
            "tier": "1",
            "rationale": "Fit",
            "evidence_links": ["https://a.example", 5],
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {
        "cycle": ["Expected a whole number."],
        "tier": ["Expected a number, e.g. 1."],
        "evidence_links": ["Item 1: Expected a string."],
    }
    amount = clients["ops"].post(
        "/api/v1/accounts/",
        {"name": "A", "domain": "a.example", "annual_revenue": 1250000.5, "employee_count": True},
        format="json",
    )
    assert amount.json()["fields"] == {
        "annual_revenue": ["Expected a string."],
        "employee_count": ["Expected a whole number."],
    }
    created = clients["ops"].post(
        "/api/v1/accounts/",
        {"name": "A", "domain": "a.example", "annual_revenue": "1250000.50", "employee_count": 12},
        format="json",
    )
    assert created.status_code == 201
    assert created.json()["annual_revenue"] == "1250000.50"
