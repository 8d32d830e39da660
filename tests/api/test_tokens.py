"""API tokens are secrets nobody can read back: stored only as digests, shown once, expiring,
with their last use recorded."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from api.models import ApiToken
from api.services import api_token_issue
from tests.api.conftest import client_for


def _printed_token(output: str) -> str:
    return output.split("API token: ")[1].strip()


def _every_value_in_the_database() -> str:
    cells = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            cells += [str(cell) for row in cursor.fetchall() for cell in row]
    return "\n".join(cells)


def test_no_token_is_stored_in_clear_anywhere_in_the_database(people, clients):
    out = StringIO()
    call_command("accord_user", "maya", "--side", "marketing", "--token", stdout=out)
    keys = [_printed_token(out.getvalue())]
    out = StringIO()
    call_command("accord_service_account", "hubspot-job", stdout=out)
    keys.append(_printed_token(out.getvalue()))
    # Through the API, with an Idempotency-Key: its stored answer must not keep the key either.
    created = clients["ops"].post(
        "/api/v1/service-accounts/", {"username": "sf-job"}, HTTP_IDEMPOTENCY_KEY="make-sf-job"
    )
    keys.append(created.json()["token"])
    assert client_for(token=keys[-1]).get("/api/v1/me/").status_code == 200
    rotated = clients["ops"].post(
        f"/api/v1/service-accounts/{created.json()['id']}/rotate/",
        HTTP_IDEMPOTENCY_KEY="rotate-sf-job",
    )
    keys.append(rotated.json()["token"])
    for key in (keys[0], keys[1], keys[3]):  # the API's first was rotated away
        assert client_for(token=key).get("/api/v1/me/").status_code == 200

    stored = _every_value_in_the_database()

    assert ApiToken.objects.count() >= len(keys)
    for key in keys:
        assert len(key) == 64
        assert key not in stored
        assert key[:15] in stored  # the prefix, which tells tokens apart, is all that is kept


def test_a_persons_token_expires_after_api_token_ttl_days(people, settings):
    settings.API_TOKEN_TTL_DAYS = 30
    before = timezone.now()
    key = api_token_issue(user=people.sales_approver)
    token = ApiToken.objects.get(user=people.sales_approver)
    assert before + timedelta(days=30) <= token.expiry <= timezone.now() + timedelta(days=30)
    assert client_for(token=key).get("/api/v1/me/").status_code == 200

    ApiToken.objects.filter(pk=token.pk).update(expiry=timezone.now() - timedelta(seconds=1))

    answer = client_for(token=key).get("/api/v1/me/")
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"] == "Token"
    assert "expired" in answer.json()["detail"]
    # Refused, not deleted: ops still see it, expired, in the admin.
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_a_persons_token_lives_until_revoked_when_the_ttl_is_0(people, settings):
    settings.API_TOKEN_TTL_DAYS = 0
    api_token_issue(user=people.sales_approver)
    assert ApiToken.objects.get(user=people.sales_approver).expiry is None


def test_integration_tokens_expire_only_when_their_own_ttl_is_set(db, settings):
    settings.API_TOKEN_TTL_DAYS = 30
    out = StringIO()
    call_command("accord_service_account", "crm-job", stdout=out)
    assert ApiToken.objects.get(user__username="crm-job").expiry is None

    settings.API_INTEGRATION_TOKEN_TTL_DAYS = 365
    call_command("accord_service_account", "crm-job", "--rotate", stdout=StringIO())
    expiry = ApiToken.objects.get(user__username="crm-job").expiry
    assert timezone.now() + timedelta(days=364) < expiry <= timezone.now() + timedelta(days=365)


def test_it_records_the_last_use_at_most_once_a_minute(people):
    key = api_token_issue(user=people.sales_approver)
    token = ApiToken.objects.get(user=people.sales_approver)
    assert token.last_used_at is None
    client = client_for(token=key)

    client.get("/api/v1/me/")
    token.refresh_from_db()
    first_use = token.last_used_at
    assert first_use is not None and timezone.now() - first_use < timedelta(seconds=30)

    client.get("/api/v1/me/")  # within the minute: nothing written
    token.refresh_from_db()
    assert token.last_used_at == first_use

    earlier = timezone.now() - timedelta(minutes=2)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=earlier)
    client.get("/api/v1/accounts/")
    token.refresh_from_db()
    assert token.last_used_at > earlier + timedelta(minutes=1)


def test_a_refused_request_does_not_count_as_a_use(people):
    key = api_token_issue(user=people.sales_approver)
    people.sales_approver.is_active = False
    people.sales_approver.save()
    assert client_for(token=key).get("/api/v1/me/").status_code == 401
    assert ApiToken.objects.get(user=people.sales_approver).last_used_at is None


@pytest.mark.parametrize("header", ["Token", "Token a b", "Token \u00e9t\u00e9"])
def test_it_answers_401_for_a_malformed_token_header(db, header):
    client = client_for()
    client.credentials(HTTP_AUTHORIZATION=header)
    answer = client.get("/api/v1/me/")
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"] == "Token"


def test_it_answers_401_for_a_key_that_shares_a_tokens_prefix(people):
    key = api_token_issue(user=people.sales_approver)
    forged = key[:15] + "0" * (len(key) - 15)
    assert forged != key
    assert client_for(token=forged).get("/api/v1/me/").status_code == 401
