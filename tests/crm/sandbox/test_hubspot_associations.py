"""HubSpot v4 associations: per object and batch reads, and the ways to create them."""


def test_it_reads_a_contacts_companies_with_the_primary_label(hubspot, hs):
    ids = hubspot.seed(companies=2, contacts=4)["ids"]
    contact = ids["contacts"][1]

    body = hs.get(f"/crm/v4/objects/contacts/{contact}/associations/companies").json()

    (link,) = body["results"]
    assert link["toObjectId"] == int(ids["companies"][1])
    assert {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary"} in link[
        "associationTypes"
    ]
    assert {"category": "HUBSPOT_DEFINED", "typeId": 279, "label": None} in link["associationTypes"]


def test_it_batch_reads_associations_and_reports_objects_without_any(hubspot, hs):
    ids = hubspot.seed(companies=2, contacts=4, deals=2)["ids"]
    lonely = hs.post("/crm/v3/objects/companies", json={"properties": {"name": "Alone"}}).json()

    contacts = hs.post(
        "/crm/v4/associations/companies/contacts/batch/read",
        json={"inputs": [{"id": ids["companies"][0]}, {"id": lonely["id"]}]},
    )
    deals = hs.post(
        "/crm/v4/associations/deals/companies/batch/read",
        json={"inputs": [{"id": d} for d in ids["deals"]]},
    )

    assert contacts.status_code == 207
    body = contacts.json()
    (result,) = body["results"]
    assert result["from"] == {"id": ids["companies"][0]}
    assert sorted(t["toObjectId"] for t in result["to"]) == [
        int(ids["contacts"][0]),
        int(ids["contacts"][2]),
    ]
    assert body["errors"][0]["context"] == {"fromObjectId": [lonely["id"]]}
    assert deals.status_code == 200
    assert [r["to"][0]["toObjectId"] for r in deals.json()["results"]] == [
        int(c) for c in ids["companies"]
    ]


def test_it_associates_engagements_with_contacts_and_their_companies(hubspot, hs):
    ids = hubspot.seed(companies=1, contacts=1, calls=1, meetings=1, emails=1)["ids"]

    for kind in ("calls", "meetings", "emails"):
        engagement = ids[kind][0]
        to_contacts = hs.get(f"/crm/v4/objects/{kind}/{engagement}/associations/contacts").json()
        to_companies = hs.get(f"/crm/v4/objects/{kind}/{engagement}/associations/companies").json()
        assert [r["toObjectId"] for r in to_contacts["results"]] == [int(ids["contacts"][0])]
        assert [r["toObjectId"] for r in to_companies["results"]] == [int(ids["companies"][0])]


def test_it_creates_associations_with_a_new_object_and_with_default_puts(hs):
    company = hs.post("/crm/v3/objects/companies", json={"properties": {"name": "Globex"}}).json()
    contact = hs.post(
        "/crm/v3/objects/contacts/batch/create",
        json={
            "inputs": [
                {
                    "properties": {"email": "ada@example.com"},
                    "associations": [
                        {
                            "to": {"id": company["id"]},
                            "types": [
                                {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}
                            ],
                        }
                    ],
                }
            ]
        },
    ).json()["results"][0]
    deal = hs.post("/crm/v3/objects/deals", json={"properties": {"dealname": "D"}}).json()

    put = hs.put(
        f"/crm/v4/objects/deals/{deal['id']}/associations/default/companies/{company['id']}"
    )
    back = hs.get(f"/crm/v4/objects/companies/{company['id']}/associations/contacts").json()
    company_deals = hs.get(f"/crm/v4/objects/companies/{company['id']}/associations/deals").json()

    assert put.status_code == 200
    assert [r["toObjectId"] for r in back["results"]] == [int(contact["id"])]
    assert [r["toObjectId"] for r in company_deals["results"]] == [int(deal["id"])]


def test_it_refuses_an_association_to_a_missing_object(hs):
    deal = hs.post("/crm/v3/objects/deals", json={"properties": {"dealname": "D"}}).json()

    response = hs.put(f"/crm/v4/objects/deals/{deal['id']}/associations/default/companies/999")

    assert response.status_code == 400
