"""Sandboxes served from a thread on a free loopback port, and httpx clients pointed at them.

None of these tests touch the database.
"""

import pytest

from crm.sandbox import run_sandbox
from tests.crm.sandbox.helpers import HUBSPOT_TOKEN, client


@pytest.fixture
def hubspot():
    # Limits far above what a test sends, unless the test sets its own.
    with run_sandbox(
        "hubspot", token=HUBSPOT_TOKEN, rate_limit=100_000, search_rate_limit=100_000
    ) as sandbox:
        yield sandbox


@pytest.fixture
def hs(hubspot):
    with client(hubspot.url, headers={"Authorization": f"Bearer {HUBSPOT_TOKEN}"}) as http:
        yield http


@pytest.fixture
def key_property(hs):
    """The custom unique company property Accord upserts by (what `crm_setup` creates)."""
    response = hs.post(
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
    assert response.status_code == 201, response.text
    return "accord_account_key"


@pytest.fixture
def salesforce():
    with run_sandbox("salesforce", client_id="cid", client_secret="secret") as sandbox:
        yield sandbox


@pytest.fixture
def sf(salesforce):
    with client(salesforce.url) as http:
        token = http.post(
            "/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "cid",
                "client_secret": "secret",
            },
        ).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        yield http
