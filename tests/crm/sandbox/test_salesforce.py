"""Salesforce: OAuth client credentials, collections and single upserts by external id, SOQL
paging, the daily API limit and its headers."""

import pytest

from crm.sandbox import run_sandbox
from tests.crm.sandbox.helpers import plain

COLLECTIONS = "/services/data/v62.0/composite/sobjects/Account/Accord_Account_Key__c"


def account(key, **fields):
    return {"attributes": {"type": "Account"}, "Accord_Account_Key__c": key, **fields}


def accounts(salesforce):
    return salesforce.objects("Account")["records"]


# --- OAuth ---


def test_it_issues_a_token_for_the_client_credentials_flow(salesforce):
    response = plain.post(
        f"{salesforce.url}/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "cid", "client_secret": "secret"},
    )

    body = response.json()
    assert response.status_code == 200
    assert body["token_type"] == "Bearer"
    assert body["instance_url"] == salesforce.url
    assert body["access_token"]
    assert body["issued_at"].isdigit()
    data = plain.get(
        f"{salesforce.url}/services/data/v62.0/limits",
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert data.status_code == 200


def test_it_refuses_a_wrong_secret_with_invalid_client(salesforce):
    response = plain.post(
        f"{salesforce.url}/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "cid", "client_secret": "nope"},
    )
    other_grant = plain.post(
        f"{salesforce.url}/services/oauth2/token",
        data={"grant_type": "password", "client_id": "cid", "client_secret": "secret"},
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_client",
        "error_description": "invalid client credentials",
    }
    assert other_grant.status_code == 400
    assert other_grant.json()["error"] == "unsupported_grant_type"


def test_it_refuses_the_data_api_without_a_valid_session(salesforce):
    response = plain.get(
        f"{salesforce.url}/services/data/v62.0/query",
        params={"q": "SELECT Id FROM Account"},
        headers={"Authorization": "Bearer forged"},
    )

    assert response.status_code == 401
    assert response.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


# --- sObject Collections upsert ---


def test_it_upserts_a_collection_and_says_which_records_were_created(salesforce, sf):
    first = sf.patch(
        COLLECTIONS,
        json={"allOrNone": False, "records": [account("k1", Name="A"), account("k2", Name="B")]},
    )
    second = sf.patch(
        COLLECTIONS,
        json={
            "allOrNone": False,
            "records": [account("K1", Name="A renamed"), account("k3", Name="C")],
        },
    )

    assert first.status_code == 200
    assert [(r["success"], r["created"], r["errors"]) for r in first.json()] == [
        (True, True, []),
        (True, True, []),
    ]
    assert [r["created"] for r in second.json()] == [False, True]
    assert second.json()[0]["id"] == first.json()[0]["id"]  # external ids ignore case
    stored = {a["Accord_Account_Key__c"]: a["Name"] for a in accounts(salesforce)}
    assert stored == {"k1": "A renamed", "k2": "B", "k3": "C"}


def test_it_fails_each_record_sharing_an_external_id_and_saves_the_rest(salesforce, sf):
    response = sf.patch(
        COLLECTIONS,
        json={
            "allOrNone": False,
            "records": [account("k1", Name="A"), account("k2", Name="B"), account("k2", Name="C")],
        },
    )

    results = response.json()
    assert response.status_code == 200
    assert results[0]["success"] is True
    for duplicate in results[1:]:
        assert duplicate["success"] is False
        assert duplicate["errors"] == [
            {
                "statusCode": "DUPLICATE_VALUE",
                "message": "Duplicate external id specified: k2",
                "fields": ["Accord_Account_Key__c"],
            }
        ]
    assert [a["Accord_Account_Key__c"] for a in accounts(salesforce)] == ["k1"]


def test_it_rolls_everything_back_with_all_or_none(salesforce, sf):
    response = sf.patch(
        COLLECTIONS,
        json={
            "allOrNone": True,
            "records": [account("k1", Name="A"), account("k2"), account("k3", Name="C")],
        },
    )

    results = response.json()
    assert response.status_code == 200
    assert [r["success"] for r in results] == [False, False, False]
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert results[1]["errors"][0]["fields"] == ["Name"]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert accounts(salesforce) == []


def test_it_refuses_more_than_200_records(salesforce, sf):
    records = [account(f"k{i}", Name=str(i)) for i in range(201)]

    response = sf.patch(COLLECTIONS, json={"allOrNone": False, "records": records})
    accepted = sf.patch(COLLECTIONS, json={"allOrNone": False, "records": records[:200]})

    assert response.status_code == 400
    (error,) = response.json()
    assert error["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert "200" in error["message"]
    assert accepted.status_code == 200
    assert len(accounts(salesforce)) == 200


def test_it_refuses_a_field_that_is_not_an_external_id(sf):
    response = sf.patch(
        "/services/data/v62.0/composite/sobjects/Account/Name",
        json={"records": [{"attributes": {"type": "Account"}, "Name": "A"}]},
    )

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_FIELD"


def test_it_needs_the_type_of_every_record(sf):
    response = sf.patch(
        COLLECTIONS, json={"records": [{"Accord_Account_Key__c": "k1", "Name": "A"}]}
    )

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_TYPE"


def test_it_reports_unknown_and_read_only_fields_per_record(sf):
    response = sf.patch(
        COLLECTIONS,
        json={
            "records": [
                account("k1", Name="A", Bogus="x"),
                account("k2", Name="B", LastModifiedDate="2024-01-01T00:00:00Z"),
                account("k3", Name="C", Accord_Tier__c="1"),
            ]
        },
    )

    results = response.json()
    assert results[0]["errors"][0]["statusCode"] == "INVALID_FIELD"
    assert results[1]["errors"][0]["statusCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert results[2]["success"] is True  # custom fields of the org are accepted


def test_it_fails_a_record_whose_external_id_matches_several(salesforce, sf):
    salesforce.seed(
        Account=[
            {"Name": "Twin 1", "Accord_Account_Key__c": "twin"},
            {"Name": "Twin 2", "Accord_Account_Key__c": "twin"},
        ]
    )

    response = sf.patch(COLLECTIONS, json={"records": [account("twin", Name="X")]})

    (result,) = response.json()
    assert result["success"] is False
    assert result["errors"][0]["statusCode"] == "DUPLICATE_EXTERNAL_ID"


# --- sObject rows upsert ---


def test_it_upserts_one_record_by_external_id(salesforce, sf):
    url = "/services/data/v62.0/sobjects/Account/Accord_Account_Key__c/k1"

    created = sf.patch(url, json={"Name": "A"})
    updated = sf.patch(url, json={"Name": "B"})
    old_api = sf.patch(
        "/services/data/v45.0/sobjects/Account/Accord_Account_Key__c/k1", json={"Name": "C"}
    )

    assert created.status_code == 201
    assert created.json()["created"] is True
    assert created.headers["Location"].endswith(created.json()["id"])
    assert updated.status_code == 200  # API 46.0 and later answer an update with 200 ...
    assert updated.json() == {
        "id": created.json()["id"],
        "success": True,
        "errors": [],
        "created": False,
    }
    assert old_api.status_code == 204  # ... earlier versions with 204 and no body
    assert old_api.content == b""
    assert [a["Name"] for a in accounts(salesforce)] == ["C"]


def test_it_answers_300_when_the_external_id_matches_several_records(salesforce, sf):
    ids = salesforce.seed(
        Account=[
            {"Name": "Twin 1", "Accord_Account_Key__c": "twin"},
            {"Name": "Twin 2", "Accord_Account_Key__c": "TWIN"},
        ]
    )["ids"]["Account"]

    response = sf.patch(
        "/services/data/v62.0/sobjects/Account/Accord_Account_Key__c/twin", json={"Name": "X"}
    )

    assert response.status_code == 300
    assert response.json() == [f"/services/data/v62.0/sobjects/Account/{i}" for i in ids]
    assert {a["Name"] for a in accounts(salesforce)} == {"Twin 1", "Twin 2"}


def test_it_answers_404_for_a_field_that_is_not_an_external_id(sf):
    response = sf.patch("/services/data/v62.0/sobjects/Account/Name/Globex", json={"Name": "A"})

    assert response.status_code == 404
    assert response.json() == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    ]


# --- SOQL ---


def test_it_pages_a_query_with_next_records_url_in_batches_of_2000(salesforce, sf):
    salesforce.seed(Account=2, Contact=4500)
    seen, pages = [], []
    response = sf.get(
        "/services/data/v62.0/query", params={"q": "SELECT Id, Name, AccountId FROM Contact"}
    )
    while True:
        body = response.json()
        assert body["totalSize"] == 4500
        pages.append(len(body["records"]))
        seen.extend(r["Id"] for r in body["records"])
        if body["done"]:
            assert "nextRecordsUrl" not in body
            break
        response = sf.get(body["nextRecordsUrl"])

    assert pages == [2000, 2000, 500]
    assert len(set(seen)) == 4500
    record = response.json()["records"][0]
    assert record["attributes"]["type"] == "Contact"
    assert record["attributes"]["url"] == f"/services/data/v62.0/sobjects/Contact/{record['Id']}"
    assert set(record) == {"attributes", "Id", "Name", "AccountId"}


def test_it_honours_a_smaller_batch_size(salesforce, sf):
    salesforce.seed(Account=450)

    body = sf.get(
        "/services/data/v62.0/query",
        params={"q": "SELECT Id FROM Account"},
        headers={"Sforce-Query-Options": "batchSize=200"},
    ).json()
    second = sf.get(body["nextRecordsUrl"]).json()

    assert len(body["records"]) == 200
    assert len(second["records"]) == 200
    assert second["done"] is False


def test_it_filters_on_modification_dates_orders_by_id_and_limits(salesforce, sf):
    salesforce.seed(Account=10, modified_start="2025-01-01T00:00:00Z", modified_step_ms=60_000)
    query = (
        "SELECT Id, Name, SystemModstamp FROM Account "
        "WHERE LastModifiedDate > 2025-01-01T00:04:00Z AND SystemModstamp <= "
        "2025-01-01T00:08:00.000+0000 ORDER BY Id DESC LIMIT 3"
    )

    body = sf.get("/services/data/v62.0/query", params={"q": query}).json()

    stamps = [r["SystemModstamp"] for r in body["records"]]
    assert body["totalSize"] == 3
    assert stamps == [
        "2025-01-01T00:08:00.000+0000",
        "2025-01-01T00:07:00.000+0000",
        "2025-01-01T00:06:00.000+0000",
    ]
    assert [r["Id"] for r in body["records"]] == sorted(
        (r["Id"] for r in body["records"]), reverse=True
    )


def test_it_queries_contact_roles_with_in_and_equality(salesforce, sf):
    ids = salesforce.seed(
        Account=2, Contact=4, Opportunity=2, AccountContactRole=True, OpportunityContactRole=True
    )["ids"]

    roles = sf.get(
        "/services/data/v62.0/query",
        params={
            "q": "SELECT AccountId, ContactId, Role, IsPrimary FROM AccountContactRole "
            f"WHERE AccountId IN ('{ids['Account'][0]}') AND IsPrimary = true"
        },
    ).json()
    deal_roles = sf.get(
        "/services/data/v62.0/query",
        params={"q": "SELECT OpportunityId, ContactId, Role FROM OpportunityContactRole"},
    ).json()
    won = sf.get(
        "/services/data/v62.0/query",
        params={
            "q": "SELECT Id, StageName, IsWon FROM Opportunity WHERE StageName = 'Prospecting'"
        },
    ).json()

    assert roles["totalSize"] == 1
    assert roles["records"][0]["Role"] == "Business User"
    assert deal_roles["totalSize"] == 2
    assert won["records"][0]["IsWon"] is False


def test_it_answers_salesforces_errors_for_bad_queries(sf):
    def error(q):
        response = sf.get("/services/data/v62.0/query", params={"q": q})
        assert response.status_code == 400
        return response.json()[0]["errorCode"]

    assert error("SELECT FROM Account") == "MALFORMED_QUERY"
    assert error("SELECT Id FROM Nothing") == "INVALID_TYPE"
    assert error("SELECT Nope FROM Account") == "INVALID_FIELD"
    assert error("SELECT Id FROM Account WHERE LastModifiedDate > '2025-01-01'") == "INVALID_FIELD"
    assert error("SELECT Id FROM Account WHERE Name = 1 OR Name = 2") == "MALFORMED_QUERY"


# --- limits ---


def test_it_reports_api_usage_and_refuses_past_the_daily_limit():
    with run_sandbox("salesforce", token="static", daily_limit=2) as sandbox:
        headers = {"Authorization": "Bearer static"}
        answers = [
            plain.get(f"{sandbox.url}/services/data/v62.0/limits", headers=headers)
            for _ in range(3)
        ]

    assert [a.status_code for a in answers] == [200, 200, 403]
    assert [a.headers["Sforce-Limit-Info"] for a in answers] == [
        "api-usage=1/2",
        "api-usage=2/2",
        "api-usage=2/2",
    ]
    assert answers[-1].json() == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert sandbox.counters()["rate_limited_by_policy"] == {"DAILY": 1}


@pytest.mark.parametrize("version", ["v45.0", "vX"])
def test_it_does_not_know_collections_before_api_46(sf, version):
    response = sf.patch(
        f"/services/data/{version}/composite/sobjects/Account/Accord_Account_Key__c",
        json={"records": [account("k1", Name="A")]},
    )

    assert response.status_code == 404


def test_it_derives_an_activitys_account_from_what_it_is_about_or_who(salesforce, sf):
    ids = salesforce.seed(Account=1, Contact=1, Opportunity=1, Task=2, Event=1)["ids"]
    account, contact, opportunity = ids["Account"][0], ids["Contact"][0], ids["Opportunity"][0]
    by_contact = sf.post(
        "/services/data/v62.0/sobjects/Task", json={"WhoId": contact, "Subject": "Call"}
    ).json()["id"]
    by_deal = sf.post(
        "/services/data/v62.0/sobjects/Event",
        json={"WhatId": opportunity, "Subject": "Demo", "DurationInMinutes": 30},
    ).json()["id"]

    tasks = sf.get(
        "/services/data/v62.0/query",
        params={"q": f"SELECT Id, Subject FROM Task WHERE AccountId = '{account}'"},
    ).json()
    events = sf.get(
        "/services/data/v62.0/query",
        params={"q": f"SELECT Id FROM Event WHERE AccountId = '{account}' ORDER BY Id"},
    ).json()

    assert tasks["totalSize"] == 3
    assert by_contact in {t["Id"] for t in tasks["records"]}
    assert [e["Id"] for e in events["records"]] == sorted([ids["Event"][0], by_deal])
