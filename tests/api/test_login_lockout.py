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


# --- Behind a proxy: the address comes from X-Forwarded-For only through trusted proxies -----


def test_it_ignores_a_forged_x_forwarded_for_without_a_trusted_proxy(people, settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 5
    settings.TRUSTED_PROXY_COUNT = 0
    for n in range(5):
        # A new made-up address each time cannot escape the count for the real one.
        forged = Client(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"192.0.2.{n + 1}")
        _sign_in(forged, "/login/", "olga", "wrong")
    locked = Client(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert _sign_in(locked, "/login/", "olga", "pw-accord-test").status_code == 429
    # Nor does claiming a colleague's address lock the colleague out.
    colleague = Client(REMOTE_ADDR="192.0.2.1")
    assert _sign_in(colleague, "/login/", "olga", "pw-accord-test").status_code == 302


def test_it_takes_the_address_the_trusted_proxy_appended(people, settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"  # every request reaches Django from the proxy

    def through_proxy(client_address: str, forged: str = "") -> Client:
        header = f"{forged}, {client_address}" if forged else client_address
        return Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=header)

    for n in range(3):
        # Entries the client wrote (left of the proxy's) change nothing.
        _sign_in(through_proxy("203.0.113.9", forged=f"192.0.2.{n + 1}"), "/login/", "olga", "x")
    attacker = through_proxy("203.0.113.9", forged="198.51.100.7")
    assert _sign_in(attacker, "/login/", "olga", "pw-accord-test").status_code == 429
    # Others behind the same proxy are not locked out, the forged address's owner included.
    for colleague in ("198.51.100.7", "192.0.2.1"):
        client = through_proxy(colleague)
        assert _sign_in(client, "/login/", "olga", "pw-accord-test").status_code == 302


def test_it_counts_proxies_from_the_right(people, settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    settings.TRUSTED_PROXY_COUNT = 2  # e.g. a load balancer, then nginx

    def via(header: str) -> Client:
        return Client(REMOTE_ADDR="10.0.0.3", HTTP_X_FORWARDED_FOR=header)

    for n in range(3):
        # client-written, the client's address (by the balancer), the balancer's (by nginx)
        _sign_in(via(f"192.0.2.{n + 1}, 203.0.113.9, 10.0.0.1"), "/login/", "olga", "x")
    assert (
        _sign_in(via("203.0.113.9, 10.0.0.1"), "/login/", "olga", "pw-accord-test").status_code
        == 429
    )
    assert (
        _sign_in(via("198.51.100.7, 10.0.0.1"), "/login/", "olga", "pw-accord-test").status_code
        == 302
    )
