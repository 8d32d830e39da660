"""The API tests' cast: the people of tests/conftest.py, each with an API token, plus an
integration token, a person with no side (an outsider) and nobody (anonymous)."""

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from api.services import api_token_issue, service_account_create
from tests.conftest import running_in_ci
from tests.factories import person

ROLES = (
    "proposer",
    "same_side_approver",
    "other_side_approver",
    "non_approver",
    "ops",
    "integration",
    "anonymous",
)


@pytest.fixture(autouse=True)
def _fresh_throttles():
    # Throttle counters live in the cache; each test starts with none.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _postgres_only(request):
    """Tests marked `postgres` skip on SQLite, except in CI where they must run."""
    if request.node.get_closest_marker("postgres") is None:
        return
    if connection.vendor != "postgresql":
        if running_in_ci():
            pytest.fail("CI=true but the database is not PostgreSQL: set DATABASE_URL.")
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


def client_for(user=None, *, token: str | None = None) -> APIClient:
    """An API client sending `Authorization: Token …` for `user` (a new token of theirs) or
    `token`; anonymous without either."""
    client = APIClient()
    if user is not None and token is None:
        token = api_token_issue(user=user)
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def integration_token(db):
    _, token = service_account_create(username="crm-sync", description="CRM job")
    return token


@pytest.fixture
def outsider(db):
    return person("otto", side=None)


@pytest.fixture
def clients(people, integration_token):
    """{role: APIClient} for the seven roles of the permission matrix. The proposer is
    people.marketer (a marketing approver), the same-side approver people.marketing_approver,
    the other-side approver people.sales_approver, the non-approver people.marketing_member."""
    return {
        "proposer": client_for(people.marketer),
        "same_side_approver": client_for(people.marketing_approver),
        "other_side_approver": client_for(people.sales_approver),
        "non_approver": client_for(people.marketing_member),
        "ops": client_for(people.ops),
        "integration": client_for(token=integration_token),
        "anonymous": client_for(),
    }
