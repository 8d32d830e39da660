"""HubSpot's own Python client (`hubspot-api-client`), pointed at the sandbox, reads and writes it.

The client deserialises every answer into its generated models and checks required fields, so a
shape the sandbox got wrong fails here.
"""

import pytest
from hubspot import HubSpot
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest
from hubspot.crm.companies import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
)
from hubspot.crm.properties import PropertyCreate

from tests.crm.sandbox.helpers import HUBSPOT_TOKEN


@pytest.fixture
def api(hubspot):
    return HubSpot(access_token=HUBSPOT_TOKEN, host=hubspot.url)


@pytest.fixture
def key(api):
    created = api.crm.properties.core_api.create(
        object_type="companies",
        property_create=PropertyCreate(
            name="accord_account_key",
            label="Accord account key",
            type="string",
            field_type="text",
            group_name="companyinformation",
            has_unique_value=True,
        ),
    )
    assert created.has_unique_value is True
    return created.name


def upsert_input(key, account_key, **properties):
    return {"idProperty": key, "id": account_key, "properties": properties}


def test_it_upserts_creates_searches_and_reads_companies(api, key, hubspot):
    upserted = api.crm.companies.batch_api.upsert(
        batch_input_simple_public_object_batch_input_upsert=(
            BatchInputSimplePublicObjectBatchInputUpsert(
                inputs=[
                    upsert_input(
                        key,
                        "acct-1",
                        name="Globex",
                        domain="globex.example",
                        hs_is_target_account="true",
                        hs_ideal_customer_profile="tier_1",
                    ),
                    upsert_input(key, "acct-2", name="Initech", domain="initech.example"),
                ]
            )
        )
    )
    created = api.crm.companies.batch_api.create(
        batch_input_simple_public_object_batch_input_for_create=(
            BatchInputSimplePublicObjectBatchInputForCreate(
                inputs=[{"properties": {"name": "Hooli", "domain": "hooli.example"}}]
            )
        )
    )
    found = api.crm.companies.search_api.do_search(
        public_object_search_request=PublicObjectSearchRequest(
            filter_groups=[
                {
                    "filters": [
                        {"propertyName": "domain", "operator": "EQ", "value": "globex.example"}
                    ]
                }
            ],
            properties=["name", "hs_ideal_customer_profile"],
            limit=10,
        )
    )
    company_id = found.results[0].id
    one = api.crm.companies.basic_api.get_by_id(company_id, properties=["name", key])
    again = api.crm.companies.batch_api.upsert(
        batch_input_simple_public_object_batch_input_upsert=(
            BatchInputSimplePublicObjectBatchInputUpsert(
                inputs=[upsert_input(key, "acct-1", hs_ideal_customer_profile="tier_2")]
            )
        )
    )

    assert upserted.status == "COMPLETE"
    assert [r.new for r in upserted.results] == [True, True]
    assert created.results[0].properties["name"] == "Hooli"
    assert found.total == 1
    assert found.results[0].properties["hs_ideal_customer_profile"] == "tier_1"
    assert one.properties[key] == "acct-1"
    assert one.created_at is not None
    assert again.results[0].new is False
    assert again.results[0].id == company_id
    assert hubspot.objects("companies")["total"] == 3


def test_it_pages_search_results_and_lists_all_companies(api, hubspot):
    hubspot.seed(companies=12)

    first = api.crm.companies.search_api.do_search(
        public_object_search_request=PublicObjectSearchRequest(
            sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}], limit=5
        )
    )
    second = api.crm.companies.search_api.do_search(
        public_object_search_request=PublicObjectSearchRequest(
            sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            limit=5,
            after=first.paging.next.after,
        )
    )
    everything = api.crm.companies.get_all(properties=["name"])

    assert first.total == 12
    assert first.paging.next.after == "5"
    assert [int(r.id) for r in second.results] == [int(r.id) for r in everything[5:10]]
    assert len(everything) == 12


def test_it_reads_partial_failures_of_a_batch_update(api, hubspot):
    ids = hubspot.seed(companies=1)["ids"]["companies"]

    answer = api.crm.companies.batch_api.update(
        batch_input_simple_public_object_batch_input=BatchInputSimplePublicObjectBatchInput(
            inputs=[
                {"id": ids[0], "properties": {"hs_is_target_account": "false"}},
                {"id": "999999", "properties": {"hs_is_target_account": "false"}},
            ]
        )
    )
    read = api.crm.companies.batch_api.read(
        batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
            inputs=[{"id": ids[0]}], properties=["hs_is_target_account"], properties_with_history=[]
        )
    )

    assert answer.num_errors == 1
    assert answer.errors[0].category == "OBJECT_NOT_FOUND"
    assert answer.errors[0].context == {"ids": ["999999"]}
    assert read.results[0].properties["hs_is_target_account"] == "false"


def test_it_raises_the_clients_error_with_hubspots_body_on_a_400(api, key):
    with pytest.raises(ApiException) as raised:
        api.crm.companies.batch_api.upsert(
            batch_input_simple_public_object_batch_input_upsert=(
                BatchInputSimplePublicObjectBatchInputUpsert(
                    inputs=[upsert_input("domain", "globex.example", name="Globex")]
                )
            )
        )

    assert raised.value.status == 400
    assert "non-unique 0-2 property domain" in raised.value.body


def test_it_reads_owners_and_associations(api, hubspot):
    ids = hubspot.seed(companies=1, contacts=2)["ids"]

    owners = api.crm.owners.owners_api.get_page()
    page = api.crm.associations.v4.basic_api.get_page(
        object_type="companies", object_id=ids["companies"][0], to_object_type="contacts"
    )
    batch = api.crm.associations.v4.batch_api.get_page(
        from_object_type="contacts",
        to_object_type="companies",
        batch_input_public_fetch_associations_batch_request=(
            BatchInputPublicFetchAssociationsBatchRequest(
                inputs=[{"id": c} for c in ids["contacts"]]
            )
        ),
    )

    assert [o.id for o in owners.results] == ["101", "102", "103", "104"]
    assert sorted(str(r.to_object_id) for r in page.results) == sorted(ids["contacts"])
    assert {str(r.to[0].to_object_id) for r in batch.results} == {ids["companies"][0]}
    assert batch.results[0].to[0].association_types[0].label == "Primary"
