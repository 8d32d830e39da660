"""Bad input to the API: ids beyond the database's integer range are not found (on SQLite too,
which cannot even bind them), and country codes are checked against ISO 3166."""

import pytest

from tests.api.conftest import client_for
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/cycles/{HUGE}/target-accounts/",
        f"/api/v1/cycles/{HUGE}/",
        f"/api/v1/cycles/1/versions/{HUGE}/",
        f"/api/v1/nominations/{2**63}/events/",
        f"/api/v1/accounts/{HUGE}/",
        f"/api/v1/sync-runs/{HUGE}/",
    ],
)
def test_an_id_beyond_the_integer_range_is_not_found(people, path):
    response = client_for(people.ops).get(path)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_largest_id_is_looked_up_and_not_found(people):
    assert client_for(people.ops).get(f"/api/v1/accounts/{2**63 - 1}/").status_code == 404


@pytest.mark.parametrize("code", ["XX", "ZZ", "EU", "D1"])
def test_an_unknown_country_code_is_refused(people, code):
    account = AccountFactory()

    response = client_for(people.ops).patch(
        f"/api/v1/accounts/{account.pk}/", {"country": code}, format="json"
    )

    assert response.status_code == 400
    assert "country" in response.json()["fields"]


def test_a_known_country_code_is_stored_in_capitals(people):
    account = AccountFactory()

    response = client_for(people.ops).patch(
        f"/api/v1/accounts/{account.pk}/", {"country": "at"}, format="json"
    )

    assert response.status_code == 200
    account.refresh_from_db()
    assert account.country == "AT"


def test_an_account_name_on_two_lines_is_refused(people):
    response = client_for(people.marketer).post(
        "/api/v1/accounts/",
        {"name": "Evil Corp\r\nBcc: attacker@evil.example", "domain": "evil.example"},
        format="json",
    )

    assert response.status_code == 400
    assert "one line" in response.json()["fields"]["name"][0]
