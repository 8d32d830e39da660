"""The `/__sandbox__/` hooks: injected faults, counters, seeding, dumps and reset."""

import time

import httpx
import pytest

from crm.sandbox import run_sandbox
from tests.crm.sandbox.helpers import HUBSPOT_TOKEN, client, company_inputs, plain

UPSERT = "/crm/v3/objects/companies/batch/upsert"


def statuses(hs, count):
    return [hs.get("/crm/v3/objects/companies").status_code for _ in range(count)]


def test_it_injects_the_same_faults_for_the_same_seed(hubspot, hs):
    plan = {"seed": 7, "rate_429": 0.3, "rate_503": 0.2}

    hubspot.set_faults(**plan)
    first = statuses(hs, 40)
    hubspot.set_faults(**plan)
    second = statuses(hs, 40)
    hubspot.set_faults(**plan | {"seed": 8})
    other_seed = statuses(hs, 40)

    assert first == second
    assert first != other_seed
    assert set(first) == {200, 429, 503}
    assert 6 <= first.count(429) <= 18


def test_it_answers_429_with_or_without_retry_after(hubspot, hs):
    hubspot.set_faults(sequence=["429"], retry_after=2)
    with_header = hs.get("/crm/v3/objects/companies")
    hubspot.set_faults(sequence=["429"])
    without = hs.get("/crm/v3/objects/companies")

    assert with_header.status_code == 429
    assert with_header.headers["Retry-After"] == "2"
    assert with_header.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert without.status_code == 429
    assert "Retry-After" not in without.headers


def test_it_answers_503_and_follows_a_scripted_sequence(hubspot, hs):
    hubspot.set_faults(sequence=["503", "ok", "429"])

    assert statuses(hs, 4) == [503, 200, 429, 200]


def test_it_slows_answers_down(hubspot, hs):
    hubspot.set_faults(rate_slow=1, slow_seconds=0.4)

    with pytest.raises(httpx.ReadTimeout):
        hs.get("/crm/v3/objects/companies", timeout=0.1)
    started = time.monotonic()
    answer = hs.get("/crm/v3/objects/companies", timeout=5)

    assert answer.status_code == 200
    assert time.monotonic() - started >= 0.4


def test_it_resets_connections_before_writing(hubspot, hs, key_property):
    hubspot.set_faults(sequence=["reset"])

    with pytest.raises(httpx.TransportError):
        hs.post(UPSERT, json={"inputs": company_inputs(2)})

    assert hubspot.objects("companies")["total"] == 0
    assert hs.post(UPSERT, json={"inputs": company_inputs(2)}).status_code == 200


def test_it_can_lose_the_answer_after_writing(hubspot, hs, key_property):
    hubspot.set_faults(sequence=["lost_response"])

    with pytest.raises(httpx.TransportError):
        hs.post(UPSERT, json={"inputs": company_inputs(2)})
    repeat = hs.post(UPSERT, json={"inputs": company_inputs(2)})

    assert [r["new"] for r in repeat.json()["results"]] == [False, False]
    assert hubspot.objects("companies")["total"] == 2


def test_it_limits_faults_to_matching_paths_and_methods(hubspot, hs, key_property):
    hubspot.set_faults(rate_503=1, path="/batch/upsert$", methods=["POST"])

    upsert = hs.post(UPSERT, json={"inputs": company_inputs(1)})
    search = hs.post("/crm/v3/objects/companies/search", json={})
    listing = hs.get("/crm/v3/objects/companies")

    assert upsert.status_code == 503
    assert search.status_code == 200
    assert listing.status_code == 200


def test_it_fails_chosen_records_and_applies_the_rest(hubspot, hs, key_property):
    hubspot.set_faults(record_errors={"keys": ["acct-1"], "message": "Blocked by a rule."})

    response = hs.post(UPSERT, json={"inputs": company_inputs(3)})

    assert response.status_code == 207
    body = response.json()
    assert sorted(r["properties"][key_property] for r in body["results"]) == ["acct-0", "acct-2"]
    (error,) = body["errors"]
    assert error["message"] == "Blocked by a rule."
    assert error["context"]["ids"] == ["acct-1"]
    assert hubspot.counters()["faults"] == {"record_error": 1}


def test_it_fails_chosen_salesforce_records(salesforce, sf):
    salesforce.set_faults(record_errors={"keys": ["k2"]})

    response = sf.patch(
        "/services/data/v62.0/composite/sobjects/Account/Accord_Account_Key__c",
        json={
            "records": [
                {"attributes": {"type": "Account"}, "Accord_Account_Key__c": k, "Name": k}
                for k in ("k1", "k2")
            ]
        },
    )

    first, second = response.json()
    assert first["success"] is True
    assert second["success"] is False
    assert second["errors"][0]["statusCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"


def test_it_counts_requests_writes_records_and_refusals():
    with run_sandbox("hubspot", rate_limit=2, rate_window_seconds=60) as sandbox:
        with client(sandbox.url, headers={"Authorization": "Bearer sandbox-token"}) as hs:
            hs.post(
                "/crm/v3/properties/companies",
                json={
                    "name": "accord_account_key",
                    "label": "Key",
                    "type": "string",
                    "fieldType": "text",
                    "groupName": "companyinformation",
                    "hasUniqueValue": True,
                },
            )
            hs.post(UPSERT, json={"inputs": company_inputs(3)})
            hs.post(UPSERT, json={"inputs": company_inputs(4)})  # refused: the window is full
            sandbox.hook("POST", "limits", {"rate_limit": 100})
            hs.post(UPSERT, json={"inputs": company_inputs(4)})
            hs.get("/crm/v3/objects/companies/1001")
            hs.get("/crm/v3/objects/companies/1002")

        counters = sandbox.counters()

    assert counters["requests"] == 6
    assert counters["by_route"] == {
        "POST /crm/v3/properties/companies": 1,
        "POST /crm/v3/objects/companies/batch/upsert": 3,
        "GET /crm/v3/objects/companies/{id}": 2,
    }
    assert counters["write_requests"] == 4
    assert counters["records_created"] == 4
    assert counters["records_updated"] == 3
    assert counters["rate_limited"] == 1
    assert counters["by_status"] == {"201": 1, "200": 4, "429": 1}


def test_it_seeds_contacts_with_companies_associations_and_dates_fast(hubspot, hs):
    started = time.monotonic()
    seeded = hubspot.seed(
        companies=100,
        contacts=5000,
        deals=50,
        meetings=20,
        modified_start="2025-01-01T00:00:00Z",
        modified_step_ms=1000,
    )
    took = time.monotonic() - started

    assert seeded["counts"] == {"companies": 100, "contacts": 5000, "deals": 50, "meetings": 20}
    assert "contacts" not in seeded["ids"] or len(seeded["ids"]["contacts"]) == 5000
    assert took < 10
    # Contacts were modified one second apart after the 100 companies.
    recent = hs.post(
        "/crm/v3/objects/contacts/search",
        json={
            "filterGroups": [
                {
                    "filters": [
                        {
                            "propertyName": "lastmodifieddate",
                            "operator": "GTE",
                            "value": "2025-01-01T01:00:00Z",
                        }
                    ]
                }
            ],
            "limit": 1,
        },
    ).json()
    assert recent["total"] == 5000 + 100 - 3600
    contact = seeded["first_ids"]["contacts"]
    companies = hs.get(f"/crm/v4/objects/contacts/{contact}/associations/companies").json()
    assert [r["toObjectId"] for r in companies["results"]] == [
        int(seeded["first_ids"]["companies"])
    ]


def test_it_dumps_every_object_with_its_associations(hubspot, hs, key_property):
    hs.post(UPSERT, json={"inputs": company_inputs(3)})

    dump = hubspot.objects("companies")

    assert dump["total"] == 3
    assert [c["properties"][key_property] for c in dump["results"]] == [
        "acct-0",
        "acct-1",
        "acct-2",
    ]
    assert all(c["associations"] == {} for c in dump["results"])


def test_it_resets_the_store_counters_and_faults(hubspot, hs, key_property):
    hs.post(UPSERT, json={"inputs": company_inputs(1)})
    hubspot.set_faults(rate_503=1)

    hubspot.reset()

    assert hubspot.objects("companies")["total"] == 0
    assert hubspot.counters()["requests"] == 0
    assert hs.get("/crm/v3/properties/companies/accord_account_key").status_code == 404


def test_it_refuses_an_unknown_fault_setting(hubspot):
    with pytest.raises(httpx.HTTPStatusError) as raised:
        response = plain.post(f"{hubspot.url}/__sandbox__/faults", json={"rate_999": 1})
        response.raise_for_status()

    assert raised.value.response.status_code == 400
    assert "rate_999" in raised.value.response.json()["error"]


def test_its_hooks_are_neither_rate_limited_nor_counted():
    with run_sandbox("hubspot", rate_limit=1, rate_window_seconds=60) as sandbox:
        for _ in range(5):
            sandbox.counters()
            sandbox.objects("companies")

        assert sandbox.counters()["requests"] == 0


def test_it_keeps_unique_keys_unique_under_concurrent_upserts(hubspot, key_property):
    from concurrent.futures import ThreadPoolExecutor

    def push(worker):
        with client(hubspot.url, headers={"Authorization": f"Bearer {HUBSPOT_TOKEN}"}) as hs:
            return [
                hs.post(
                    UPSERT, json={"inputs": company_inputs(20, start=(worker + i) % 5)}
                ).status_code
                for i in range(5)
            ]

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = [code for codes in pool.map(push, range(6)) for code in codes]

    keys = [c["properties"][key_property] for c in hubspot.objects("companies")["results"]]
    assert set(answers) == {200}
    assert len(keys) == len(set(keys)) == 24
