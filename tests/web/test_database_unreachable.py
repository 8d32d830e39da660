"""When PostgreSQL cannot be reached (restarting, crashed), pages and the API answer 503 with a
plain message and Retry-After, never the 500 page; any other error is still a 500.
ops/faults/postgres_restart.py shows the same with a real restart under load."""

import pytest
from django.db import connection
from django.test import Client, RequestFactory

from api.services import api_token_issue
from core.web import DATABASE_UNAVAILABLE, server_error
from ops.processes import free_port
from tests.conftest import running_in_ci

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def unreachable():
    """Django's connection pointed at a port where nothing listens, as when PostgreSQL is down
    (the database is outside Accord); put back afterwards."""
    if connection.vendor != "postgresql":
        if running_in_ci():
            pytest.fail("needs PostgreSQL (DATABASE_URL) in CI")
        pytest.skip("needs PostgreSQL")
    saved = dict(connection.settings_dict)

    def go_down():
        connection.close()
        connection.settings_dict["PORT"] = str(free_port())

    yield go_down
    connection.close()
    connection.settings_dict.update(saved)


def test_a_page_answers_503_with_a_plain_message(people, unreachable):
    browser = Client(raise_request_exception=False)
    browser.force_login(people.sales_approver)
    unreachable()

    answer = browser.get("/")

    assert answer.status_code == 503
    assert answer["Content-Type"].startswith("text/plain")
    assert answer.content.decode() == DATABASE_UNAVAILABLE
    assert int(answer["Retry-After"]) > 0


def test_the_api_answers_503_in_its_error_format(people, unreachable):
    token = api_token_issue(user=people.sales_approver)
    api = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {token}")
    unreachable()

    answer = api.post(
        "/api/v1/nominations/1/comments/", {"body": "Anyone?"}, content_type="application/json"
    )

    assert answer.status_code == 503
    assert answer.json() == {"detail": DATABASE_UNAVAILABLE, "code": "database_unavailable"}
    assert int(answer["Retry-After"]) > 0


def test_any_other_error_is_still_a_500(db):
    request = RequestFactory().get("/")

    answer = server_error(request)  # as Django calls it, for an error that is not the database's

    assert answer.status_code == 500
    assert b"Server Error (500)" in answer.content
