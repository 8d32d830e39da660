"""HubSpot search: filters, sorts, properties, `after` paging, `total` and the 10,000 cap."""

import pytest


@pytest.fixture
def seeded(hubspot):
    rows = [
        {"properties": {"name": "Globex", "domain": "globex.example", "numberofemployees": "50"}},
        {
            "properties": {
                "name": "Initech",
                "domain": "initech.example",
                "numberofemployees": "500",
            }
        },
        {"properties": {"name": "Hooli Labs", "domain": "hooli.example"}},
        {
            "properties": {
                "name": "Umbrella",
                "domain": "umbrella.example",
                "numberofemployees": "5000",
                "hs_is_target_account": "true",
                "hs_ideal_customer_profile": "tier_1",
            }
        },
    ]
    return hubspot.seed(companies=rows, modified_start="2025-01-01T00:00:00Z")["ids"]["companies"]


def search(hs, *filters, groups=None, **body):
    if groups is None:
        groups = [{"filters": list(filters)}] if filters else []
    response = hs.post("/crm/v3/objects/companies/search", json={"filterGroups": groups, **body})
    assert response.status_code == 200, response.text
    return response.json()


def names(body):
    return [r["properties"]["name"] for r in body["results"]]


def f(name, operator, value=None, **extra):
    flt = {"propertyName": name, "operator": operator, **extra}
    if value is not None:
        flt["value"] = value
    return flt


def test_it_filters_with_each_operator(hs, seeded):
    assert names(search(hs, f("domain", "EQ", "GLOBEX.example"), properties=["name"])) == ["Globex"]
    assert names(search(hs, f("name", "NEQ", "Globex"), properties=["name"])) == [
        "Initech",
        "Hooli Labs",
        "Umbrella",
    ]
    assert names(search(hs, f("numberofemployees", "GT", "50"), properties=["name"])) == [
        "Initech",
        "Umbrella",
    ]
    assert names(search(hs, f("numberofemployees", "GTE", "500"), properties=["name"])) == [
        "Initech",
        "Umbrella",
    ]
    assert names(search(hs, f("numberofemployees", "LT", "500"), properties=["name"])) == ["Globex"]
    assert names(search(hs, f("numberofemployees", "LTE", "500"), properties=["name"])) == [
        "Globex",
        "Initech",
    ]
    assert names(
        search(
            hs, f("domain", "IN", values=["hooli.example", "initech.example"]), properties=["name"]
        )
    ) == ["Initech", "Hooli Labs"]
    assert names(search(hs, f("numberofemployees", "HAS_PROPERTY"), properties=["name"])) == [
        "Globex",
        "Initech",
        "Umbrella",
    ]
    assert names(search(hs, f("numberofemployees", "NOT_HAS_PROPERTY"), properties=["name"])) == [
        "Hooli Labs"
    ]
    assert names(search(hs, f("name", "CONTAINS_TOKEN", "labs"), properties=["name"])) == [
        "Hooli Labs"
    ]
    assert names(search(hs, f("domain", "CONTAINS_TOKEN", "*.example"), properties=["name"])) == [
        "Globex",
        "Initech",
        "Hooli Labs",
        "Umbrella",
    ]
    assert names(
        search(
            hs,
            f("hs_is_target_account", "EQ", "true"),
            f("hs_ideal_customer_profile", "EQ", "tier_1"),
            properties=["name"],
        )
    ) == ["Umbrella"]


def test_it_ors_filter_groups_and_ands_filters(hs, seeded):
    body = search(
        hs,
        groups=[
            {"filters": [f("name", "EQ", "Globex")]},
            {"filters": [f("numberofemployees", "GT", "100"), f("name", "NEQ", "Umbrella")]},
        ],
        properties=["name"],
    )

    assert names(body) == ["Globex", "Initech"]
    assert body["total"] == 2


def test_it_filters_dates_given_as_milliseconds_or_iso(hs, seeded):
    # Seeded one second apart from 2025-01-01T00:00:00Z.
    after_second = search(hs, f("hs_lastmodifieddate", "GT", "1735689601000"), properties=["name"])
    iso = search(hs, f("hs_lastmodifieddate", "GTE", "2025-01-01T00:00:02Z"), properties=["name"])

    assert names(after_second) == ["Hooli Labs", "Umbrella"]
    assert names(iso) == ["Hooli Labs", "Umbrella"]
    assert after_second["results"][0]["properties"]["hs_lastmodifieddate"] == (
        "2025-01-01T00:00:02.000Z"
    )


def test_it_sorts_and_returns_the_properties_asked_for(hs, seeded):
    body = search(
        hs,
        sorts=[{"propertyName": "numberofemployees", "direction": "DESCENDING"}],
        properties=["name", "numberofemployees"],
    )

    assert names(body) == ["Umbrella", "Initech", "Globex", "Hooli Labs"]  # unset ones last
    props = body["results"][0]["properties"]
    assert set(props) == {
        "name",
        "numberofemployees",
        "hs_object_id",
        "createdate",
        "hs_lastmodifieddate",
    }
    assert body["results"][-1]["properties"]["numberofemployees"] is None


def test_it_returns_default_properties_when_none_are_asked_for(hs, seeded):
    body = search(hs, f("name", "EQ", "Globex"))

    assert set(body["results"][0]["properties"]) == {
        "createdate",
        "domain",
        "hs_lastmodifieddate",
        "hs_object_id",
        "name",
    }


def test_it_pages_with_after_and_reports_the_total(hubspot, hs):
    hubspot.seed(companies=25)
    seen, after = [], None
    while True:
        body = search(hs, limit=10, **({"after": after} if after else {}))
        assert body["total"] == 25
        seen.extend(r["id"] for r in body["results"])
        after = body.get("paging", {}).get("next", {}).get("after")
        if not after:
            break

    assert len(seen) == len(set(seen)) == 25
    assert seen == sorted(seen, key=int)


def test_it_refuses_a_page_of_more_than_200(hs, seeded):
    response = hs.post("/crm/v3/objects/companies/search", json={"limit": 201})
    accepted = hs.post("/crm/v3/objects/companies/search", json={"limit": 200})

    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert accepted.status_code == 200


def test_it_refuses_to_page_past_10000_results_but_a_moving_id_filter_gets_them_all(hubspot, hs):
    hubspot.seed(companies=10_050)

    last_page = search(hs, limit=200, after="9800", properties=["name"])
    past_the_cap = hs.post(
        "/crm/v3/objects/companies/search",
        json={"limit": 200, "after": last_page["paging"]["next"]["after"]},
    )

    assert last_page["total"] == 10_050
    assert last_page["paging"]["next"]["after"] == "10000"
    assert past_the_cap.status_code == 400
    assert past_the_cap.json()["category"] == "VALIDATION_ERROR"

    # Sorting by id and filtering on the last id seen restarts the count at every page.
    seen, last_id = [], "0"
    while True:
        body = search(
            hs,
            f("hs_object_id", "GT", last_id),
            sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            limit=200,
        )
        if not body["results"]:
            break
        seen.extend(r["id"] for r in body["results"])
        last_id = body["results"][-1]["id"]
    assert len(set(seen)) == 10_050


def test_it_refuses_filters_on_unknown_properties(hs, seeded):
    response = hs.post(
        "/crm/v3/objects/companies/search",
        json={"filterGroups": [{"filters": [f("nope", "EQ", "x")]}]},
    )

    assert response.status_code == 400


def test_it_refuses_more_than_five_filter_groups(hs, seeded):
    groups = [{"filters": [f("name", "EQ", str(i))]} for i in range(6)]

    response = hs.post("/crm/v3/objects/companies/search", json={"filterGroups": groups})

    assert response.status_code == 400
