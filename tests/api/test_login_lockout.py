"""Login lockout with django-axes on the sign-in page and the admin.

Axes is configured in settings but off (AXES_ENABLED=false) until it is switched on for the
whole project; these tests switch it on for themselves.
"""

import pytest
from django.test import Client


@pytest.fixture
def lockout(settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3


def _sign_in(client, url, username, password):
    return client.post(url, {"username": username, "password": password})


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_it_locks_a_username_out_after_repeated_failures(people, lockout, url):
    client = Client()
    for _ in range(2):
        assert _sign_in(client, url, "olga", "wrong").status_code == 200  # the form again
    locked = _sign_in(client, url, "olga", "wrong")
    assert locked.status_code == 429
    # Now even the right password is refused, until the cool-off passes.
    assert _sign_in(client, url, "olga", "pw-accord-test").status_code == 429
    assert "_auth_user_id" not in client.session


def test_it_keeps_the_lockout_to_the_username_and_address_that_failed(people, lockout):
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(3):
        _sign_in(attacker, "/login/", "olga", "wrong")
    assert _sign_in(attacker, "/login/", "olga", "pw-accord-test").status_code == 429
    colleague = Client(REMOTE_ADDR="198.51.100.7")
    signed_in = _sign_in(colleague, "/login/", "olga", "pw-accord-test")
    assert signed_in.status_code == 302
    assert colleague.session["_auth_user_id"] == str(people.ops.pk)


def test_it_forgets_failures_after_a_successful_sign_in(people, lockout):
    client = Client()
    for _ in range(2):
        _sign_in(client, "/login/", "olga", "wrong")
    assert _sign_in(client, "/login/", "olga", "pw-accord-test").status_code == 302
    client.logout()
    for _ in range(2):
        assert _sign_in(client, "/login/", "olga", "wrong").status_code == 200
    assert _sign_in(client, "/login/", "olga", "pw-accord-test").status_code == 302
