"""HubSpot batch create / update / upsert / read: limits, unique keys, multi-status answers."""

from datetime import datetime

from tests.crm.sandbox.helpers import company_inputs


def companies(hubspot):
    return hubspot.objects("companies")["results"]


def test_it_refuses_a_request_without_a_valid_token(hubspot, hs):
    response = hs.get("/crm/v3/objects/companies", headers={"Authorization": "Bearer wrong"})

    assert response.status_code == 401
    body = response.json()
    assert body["status"] == "error"
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert body["correlationId"]
    assert "Authentication credentials not found" in body["message"]


def test_it_upserts_by_a_unique_property_without_ever_duplicating(hubspot, hs, key_property):
    first = hs.post("/crm/v3/objects/companies/batch/upsert", json={"inputs": company_inputs(3)})
    again = hs.post(
        "/crm/v3/objects/companies/batch/upsert",
        json={
            "inputs": [
                {
                    "idProperty": key_property,
                    "id": "acct-1",
                    "properties": {"hs_ideal_customer_profile": "tier_1"},
                }
            ]
        },
    )

    assert first.status_code == 200
    body = first.json()
    assert body["status"] == "COMPLETE"
    assert [r["new"] for r in body["results"]] == [True, True, True]
    assert body["startedAt"] and body["completedAt"]
    assert again.status_code == 200
    (updated,) = again.json()["results"]
    assert updated["new"] is False
    assert updated["properties"]["hs_ideal_customer_profile"] == "tier_1"
    assert updated["properties"]["name"] == "Account 1"  # untouched properties stay
    stored = companies(hubspot)
    assert sorted(c["properties"][key_property] for c in stored) == ["acct-0", "acct-1", "acct-2"]


def test_it_refuses_an_upsert_by_a_property_without_unique_values(hubspot, hs, key_property):
    response = hs.post(
        "/crm/v3/objects/companies/batch/upsert",
        json={"inputs": [{"idProperty": "domain", "id": "a.example", "properties": {}}]},
    )

    assert response.status_code == 400
    body = response.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith(
        "Unable to perform update/upsert by non-unique 0-2 property domain"
    )
    assert companies(hubspot) == []


def test_it_refuses_an_upsert_without_id_property(hs, key_property):
    response = hs.post(
        "/crm/v3/objects/companies/batch/upsert",
        json={"inputs": [{"id": "acct-1", "properties": {"name": "A"}}]},
    )

    assert response.status_code == 400
    assert "idProperty" in response.json()["message"]


def test_it_refuses_more_than_100_inputs_and_writes_nothing(hubspot, hs, key_property):
    response = hs.post(
        "/crm/v3/objects/companies/batch/upsert", json={"inputs": company_inputs(101)}
    )
    accepted = hs.post(
        "/crm/v3/objects/companies/batch/upsert", json={"inputs": company_inputs(100)}
    )

    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "error"
    assert body["category"] == "VALIDATION_ERROR"
    assert "100" in body["message"]
    assert accepted.status_code == 200
    assert len(companies(hubspot)) == 100


def test_it_refuses_duplicate_ids_in_one_batch(hubspot, hs, key_property):
    inputs = company_inputs(2) + company_inputs(1, start=1)

    response = hs.post("/crm/v3/objects/companies/batch/upsert", json={"inputs": inputs})

    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Duplicate IDs found in batch input: [acct-1]. IDs must be unique"
    assert body["context"] == {"ids": ["acct-1"]}
    assert companies(hubspot) == []


def test_it_refuses_duplicate_record_ids_in_a_batch_update(hubspot, hs):
    created = hs.post("/crm/v3/objects/companies", json={"properties": {"name": "Globex"}}).json()

    response = hs.post(
        "/crm/v3/objects/companies/batch/update",
        json={
            "inputs": [
                {"id": created["id"], "properties": {"name": "A"}},
                {"id": created["id"], "properties": {"name": "B"}},
            ]
        },
    )

    assert response.status_code == 400
    assert response.json()["context"] == {"ids": [created["id"]]}
    assert companies(hubspot)[0]["properties"]["name"] == "Globex"


def test_it_applies_a_batch_update_partly_and_answers_207_for_unknown_ids(hubspot, hs):
    created = hs.post(
        "/crm/v3/objects/companies/batch/create",
        json={"inputs": [{"properties": {"name": "Initech"}}, {"properties": {"name": "Hooli"}}]},
    )
    first, second = (r["id"] for r in created.json()["results"])

    response = hs.post(
        "/crm/v3/objects/companies/batch/update",
        json={
            "inputs": [
                {"id": first, "properties": {"hs_is_target_account": True}},
                {"id": "999999", "properties": {"hs_is_target_account": True}},
                {"id": second, "properties": {"hs_is_target_account": "true"}},
            ]
        },
    )

    assert created.status_code == 201
    assert response.status_code == 207
    body = response.json()
    assert sorted(r["id"] for r in body["results"]) == sorted([first, second])
    assert body["numErrors"] == 1
    (error,) = body["errors"]
    assert error["status"] == "error"
    assert error["category"] == "OBJECT_NOT_FOUND"
    assert error["context"] == {"ids": ["999999"]}
    assert {c["properties"]["hs_is_target_account"] for c in companies(hubspot)} == {"true"}


def test_it_refuses_the_whole_batch_when_a_property_is_unknown_or_invalid(hubspot, hs):
    response = hs.post(
        "/crm/v3/objects/companies/batch/create",
        json={
            "inputs": [
                {"properties": {"name": "Fine"}},
                {"properties": {"name": "Bad", "no_such_property": "x"}},
                {"properties": {"name": "Worse", "hs_ideal_customer_profile": "tier_9"}},
            ]
        },
    )

    assert response.status_code == 400
    body = response.json()
    assert body["message"].startswith("Property values were not valid")
    assert {e["code"] for e in body["errors"]} == {"PROPERTY_DOESNT_EXIST", "INVALID_OPTION"}
    assert companies(hubspot) == []


def test_it_refuses_an_owner_id_that_is_not_an_owner(hubspot, hs):
    response = hs.post(
        "/crm/v3/objects/companies",
        json={"properties": {"name": "Globex", "hubspot_owner_id": "424242"}},
    )
    owners = hs.get("/crm/v3/owners").json()["results"]
    accepted = hs.post(
        "/crm/v3/objects/companies",
        json={"properties": {"name": "Globex", "hubspot_owner_id": owners[0]["id"]}},
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "INVALID_OWNER_ID"
    assert accepted.status_code == 201


def test_it_moves_the_last_modified_date_on_every_write(hubspot, hs, key_property):
    created = hs.post(
        "/crm/v3/objects/companies/batch/upsert", json={"inputs": company_inputs(1)}
    ).json()["results"][0]
    updated = hs.post(
        "/crm/v3/objects/companies/batch/upsert",
        json={
            "inputs": [
                {"idProperty": key_property, "id": "acct-0", "properties": {"name": "Renamed"}}
            ]
        },
    ).json()["results"][0]

    def moment(value):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))

    assert created["properties"]["hs_object_id"] == created["id"]
    assert created["properties"]["createdate"] == created["createdAt"]
    assert moment(updated["updatedAt"]) >= moment(created["updatedAt"])
    assert updated["properties"]["hs_lastmodifieddate"] == updated["updatedAt"]
    assert updated["createdAt"] == created["createdAt"]


def test_it_keeps_contacts_last_modified_in_lastmodifieddate(hs):
    response = hs.post(
        "/crm/v3/objects/contacts",
        json={"properties": {"email": "Ada@Example.com", "lastname": "Lovelace"}},
    )

    body = response.json()
    assert response.status_code == 201
    assert body["properties"]["lastmodifieddate"] == body["updatedAt"]
    assert "hs_lastmodifieddate" not in body["properties"]
    assert body["properties"]["email"] == "ada@example.com"


def test_it_refuses_a_second_contact_with_the_same_email(hs):
    hs.post("/crm/v3/objects/contacts", json={"properties": {"email": "ada@example.com"}})

    response = hs.post(
        "/crm/v3/objects/contacts/batch/create",
        json={
            "inputs": [
                {"properties": {"email": "ADA@example.com"}},
                {"properties": {"email": "grace@example.com"}},
            ]
        },
    )

    assert response.status_code == 207
    body = response.json()
    assert [r["properties"]["email"] for r in body["results"]] == ["grace@example.com"]
    assert body["errors"][0]["category"] == "CONFLICT"
    assert body["errors"][0]["message"].startswith("Contact already exists. Existing ID:")


def test_it_reads_a_batch_by_id_or_unique_property(hs, key_property):
    hs.post("/crm/v3/objects/companies/batch/upsert", json={"inputs": company_inputs(2)})

    response = hs.post(
        "/crm/v3/objects/companies/batch/read",
        json={
            "idProperty": key_property,
            "properties": ["name", key_property],
            "inputs": [{"id": "acct-1"}, {"id": "acct-404"}],
        },
    )

    assert response.status_code == 207
    body = response.json()
    assert [r["properties"]["name"] for r in body["results"]] == ["Account 1"]
    assert body["errors"][0]["context"] == {"ids": ["acct-404"]}
