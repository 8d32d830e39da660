"""The sandbox started as its own process: `python -m crm.sandbox` and `manage.py crm_sandbox`."""

import re
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from tests.crm.sandbox.helpers import plain

ROOT = Path(__file__).resolve().parents[3]


@contextmanager
def serving(*command):
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        line = process.stdout.readline()
        found = re.search(r"listening on (http://\S+)", line)
        assert found, line
        yield found.group(1)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_it_serves_hubspot_from_python_dash_m_with_a_fault_plan():
    with serving(
        sys.executable,
        "-m",
        "crm.sandbox",
        "--kind",
        "hubspot",
        "--port",
        "0",
        "--token",
        "cli-token",
        "--rate-limit",
        "190",
        "--faults",
        '{"sequence": ["503"]}',
        "--seed-data",
        '{"companies": 3}',
    ) as url:
        headers = {"Authorization": "Bearer cli-token"}
        first = plain.get(f"{url}/crm/v3/objects/companies", headers=headers)
        second = plain.get(f"{url}/crm/v3/objects/companies", headers=headers)

    assert first.status_code == 503
    assert second.status_code == 200
    assert len(second.json()["results"]) == 3
    assert second.headers["X-HubSpot-RateLimit-Max"] == "190"


def test_it_serves_salesforce_from_the_management_command():
    with serving(
        sys.executable,
        "manage.py",
        "crm_sandbox",
        "--kind",
        "salesforce",
        "--port",
        "0",
        "--client-id",
        "cid",
        "--client-secret",
        "s3cret",
        "--external-id-field",
        "Account.Key__c",
    ) as url:
        token = plain.post(
            f"{url}/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "cid",
                "client_secret": "s3cret",
            },
        ).json()["access_token"]
        upsert = plain.patch(
            f"{url}/services/data/v62.0/sobjects/Account/Key__c/k1",
            json={"Name": "Globex"},
            headers={"Authorization": f"Bearer {token}"},
        )

    assert upsert.status_code == 201
