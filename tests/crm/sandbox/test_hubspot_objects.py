"""HubSpot single objects, lists, the properties API and owners."""


def test_it_gets_an_object_by_id_or_unique_property(hs, key_property):
    created = hs.post(
        "/crm/v3/objects/companies",
        json={"properties": {"name": "Globex", key_property: "acct-7"}},
    ).json()

    by_id = hs.get(f"/crm/v3/objects/companies/{created['id']}", params={"properties": "name"})
    by_key = hs.get("/crm/v3/objects/companies/acct-7", params={"idProperty": key_property})
    missing = hs.get("/crm/v3/objects/companies/424242")

    assert by_id.status_code == 200
    assert by_id.json()["properties"]["name"] == "Globex"
    assert by_key.json()["id"] == created["id"]
    assert missing.status_code == 404
    assert missing.json()["category"] == "OBJECT_NOT_FOUND"


def test_it_lists_objects_page_by_page(hubspot, hs):
    hubspot.seed(deals=7)
    seen, after = [], None
    while True:
        body = hs.get(
            "/crm/v3/objects/deals",
            params={
                "limit": 3,
                "properties": "dealname,dealstage",
                **({"after": after} if after else {}),
            },
        ).json()
        seen.extend(body["results"])
        after = body.get("paging", {}).get("next", {}).get("after")
        if not after:
            break

    assert len(seen) == 7
    assert len({d["id"] for d in seen}) == 7
    assert all(d["properties"]["dealstage"] for d in seen)


def test_it_computes_deal_state_from_the_stage(hs):
    won = hs.post(
        "/crm/v3/objects/deals",
        json={"properties": {"dealname": "Big one", "dealstage": "closedwon", "amount": 1200}},
    ).json()

    assert won["properties"]["hs_is_closed"] == "true"
    assert won["properties"]["hs_is_closed_won"] == "true"
    assert won["properties"]["amount"] == "1200"
    assert won["properties"]["pipeline"] == "default"


def test_it_updates_one_object_with_patch(hs):
    created = hs.post("/crm/v3/objects/companies", json={"properties": {"name": "Old"}}).json()

    response = hs.patch(
        f"/crm/v3/objects/companies/{created['id']}", json={"properties": {"name": "New"}}
    )

    assert response.status_code == 200
    assert response.json()["properties"]["name"] == "New"


def test_it_lists_reads_and_creates_properties(hs):
    listed = hs.get("/crm/v3/properties/companies").json()["results"]
    target = hs.get("/crm/v3/properties/companies/hs_is_target_account")
    icp = hs.get("/crm/v3/properties/companies/hs_ideal_customer_profile").json()

    created = hs.post(
        "/crm/v3/properties/companies",
        json={
            "name": "accord_account_key",
            "label": "Accord account key",
            "type": "string",
            "fieldType": "text",
            "groupName": "companyinformation",
            "hasUniqueValue": True,
        },
    )
    again = hs.post(
        "/crm/v3/properties/companies",
        json={
            "name": "accord_account_key",
            "label": "Accord account key",
            "type": "string",
            "fieldType": "text",
            "groupName": "companyinformation",
        },
    )
    missing = hs.get("/crm/v3/properties/companies/no_such_thing")

    assert {"name", "domain", "hs_is_target_account"} <= {p["name"] for p in listed}
    assert target.json()["type"] == "bool"
    assert [o["value"] for o in icp["options"]] == ["tier_1", "tier_2", "tier_3"]
    assert created.status_code == 201
    assert created.json()["hasUniqueValue"] is True
    assert hs.get("/crm/v3/properties/companies/accord_account_key").json()["hasUniqueValue"]
    assert again.status_code == 409
    assert missing.status_code == 404


def test_it_refuses_an_invalid_property_definition(hs):
    no_group = hs.post(
        "/crm/v3/properties/companies",
        json={
            "name": "x",
            "label": "X",
            "type": "string",
            "fieldType": "text",
            "groupName": "nope",
        },
    )
    unique_bool = hs.post(
        "/crm/v3/properties/companies",
        json={
            "name": "flag",
            "label": "Flag",
            "type": "bool",
            "fieldType": "booleancheckbox",
            "groupName": "companyinformation",
            "hasUniqueValue": True,
        },
    )

    assert no_group.status_code == 400
    assert unique_bool.status_code == 400


def test_it_creates_a_property_group(hs):
    created = hs.post(
        "/crm/v3/properties/companies/groups", json={"name": "accord", "label": "Accord"}
    )
    prop = hs.post(
        "/crm/v3/properties/companies",
        json={
            "name": "accord_tier",
            "label": "Tier",
            "type": "enumeration",
            "fieldType": "select",
            "groupName": "accord",
            "options": [{"label": "Tier 1", "value": "1"}],
        },
    )

    assert created.status_code == 201
    assert prop.status_code == 201


def test_it_lists_owners_and_finds_one_by_email(hubspot, hs):
    hubspot.hook(
        "POST",
        "owners",
        {"owners": [{"id": "77", "email": "mara@example.com", "firstName": "Mara"}]},
    )

    listed = hs.get("/crm/v3/owners").json()["results"]
    found = hs.get("/crm/v3/owners/", params={"email": "MARA@example.com"}).json()["results"]
    one = hs.get("/crm/v3/owners/77")

    assert [o["id"] for o in listed] == ["77"]
    assert found[0]["firstName"] == "Mara"
    assert one.json()["email"] == "mara@example.com"
    assert hs.get("/crm/v3/owners/78").status_code == 404
