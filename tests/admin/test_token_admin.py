"""API tokens in the admin: ops see every token's prefix, owner, creation, last use and expiry,
and may revoke any of them; nobody can read a key (nor its digest) there, nor add or change a
token."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.formats import date_format

from api.models import ApiToken
from api.services import api_token_issue, service_account_create
from tests.api.conftest import client_for

User = get_user_model()

pytestmark = pytest.mark.django_db

LIST = "/admin/api/apitoken/"


@pytest.fixture
def superuser_key(db):
    boss = User.objects.create_superuser("root", "root@example.com", "pw-accord-test")
    return api_token_issue(user=boss)


def _day(when) -> str:
    return date_format(timezone.localtime(when), "DATE_FORMAT")


def _token_of(key: str) -> ApiToken:
    return ApiToken.objects.get(token_key=key[:15])


def test_ops_see_no_key_nor_digest_on_the_list_and_detail_pages(ops, people, superuser_key):
    _, integration_key = service_account_create(username="crm-sync")
    keys = [superuser_key, integration_key, api_token_issue(user=people.sales_approver)]
    pages = [ops.get(LIST), ops.get(f"{LIST}?q=root"), ops.get(f"{LIST}?state=live")]
    for key in keys:
        token = _token_of(key)
        pages += [
            ops.get(f"{LIST}{token.pk}/change/"),
            ops.get(f"{LIST}{token.pk}/delete/"),
            ops.get(f"{LIST}{token.pk}/history/"),
        ]
    assert [page.status_code for page in pages] == [200] * len(pages)
    html = "".join(page.content.decode() for page in pages)
    for key in keys:
        token = _token_of(key)
        assert key not in html
        assert token.digest not in html
        assert f"{token.token_key}…" in html  # the prefix is what tells tokens apart
    assert "root" in html and "crm-sync" in html and "sam" in html


def test_the_list_shows_owner_creation_last_use_and_expiry(ops, people, settings):
    settings.API_TOKEN_TTL_DAYS = 30
    key = api_token_issue(user=people.sales_approver)
    assert client_for(token=key).get("/api/v1/me/").status_code == 200
    token = _token_of(key)

    page = ops.get(LIST).content.decode()

    row = page[page.index(f"{token.token_key}…") :].split("</tr>")[0]
    assert "sam" in row
    assert _day(token.expiry) in row and _day(token.expiry) != _day(token.created)
    assert row.count(_day(token.created)) == 2  # made, and used
    assert "icon-yes" in row  # it works


def test_ops_can_neither_add_nor_change_a_token(ops, people):
    key = api_token_issue(user=people.sales_approver)
    token = _token_of(key)

    assert ops.get(f"{LIST}add/").status_code == 403
    assert ops.post(f"{LIST}add/", {"user": people.ops.pk}).status_code == 403
    refused = ops.post(
        f"{LIST}{token.pk}/change/", {"user": people.ops.pk, "expiry_0": "", "expiry_1": ""}
    )
    assert refused.status_code == 403
    token.refresh_from_db()
    assert token.user == people.sales_approver
    assert ApiToken.objects.count() == 1
    page = ops.get(LIST).content.decode()
    assert "Add API token" not in page


def test_ops_revoke_any_token_and_it_answers_401(ops, superuser_key, people):
    other = api_token_issue(user=people.sales_approver)
    assert client_for(token=superuser_key).get("/api/v1/me/").status_code == 200

    deleted = ops.post(f"{LIST}{_token_of(superuser_key).pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    answer = client_for(token=superuser_key).get("/api/v1/me/")
    assert answer.status_code == 401
    assert "revoked" in answer.json()["detail"]

    ops.post(
        LIST,
        {"action": "delete_selected", "_selected_action": [_token_of(other).pk], "post": "yes"},
    )
    assert client_for(token=other).get("/api/v1/me/").status_code == 401
    assert not ApiToken.objects.exists()


def test_people_on_a_side_cannot_see_tokens(client, people):
    api_token_issue(user=people.ops)
    people.sales_approver.is_staff = True  # even were they staff, they lack the permission
    people.sales_approver.save()
    client.force_login(people.sales_approver)
    assert client.get(LIST).status_code == 403


def test_ops_find_a_token_by_its_prefix_its_owner_or_a_leaked_key(ops, people):
    leaked = api_token_issue(user=people.sales_approver)
    api_token_issue(user=people.marketer)
    prefix = _token_of(leaked).token_key

    def found(query: str) -> int:
        return ops.get(LIST, {"q": query}).context["cl"].result_count

    assert found(prefix) == 1
    assert found("sam") == 1
    assert found(leaked) == 1


def test_ops_filter_expired_tokens_and_integration_tokens(ops, people, settings):
    settings.API_TOKEN_TTL_DAYS = 1
    expired = _token_of(api_token_issue(user=people.sales_approver))
    ApiToken.objects.filter(pk=expired.pk).update(expiry=timezone.now() - timedelta(minutes=1))
    working = _token_of(api_token_issue(user=people.marketer))
    _, integration_key = service_account_create(username="crm-sync")

    def listed(**query) -> set:
        return {t.pk for t in ops.get(LIST, query).context["cl"].result_list}

    integration = _token_of(integration_key)
    assert listed(state="expired") == {expired.pk}
    assert listed(state="live") == {working.pk, integration.pk}
    assert listed(owner="integration") == {integration.pk}
    assert listed(owner="person") == {expired.pk, working.pk}
