"""Every URL of the site and the API refuses a visitor who has not signed in, except the few
that are public by their own rule. The URL configuration is walked, so a URL added later is
checked without anyone remembering to list it here."""

import re
import uuid

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

# Public by their own rule, each with the test that checks that rule.
PUBLIC = {
    "/login/": "the sign-in page",
    "/logout/": "signing out",
    "/admin/login/": "the admin's sign-in page",
    "/admin/logout/": "signing out of the admin",
    # Authenticated by its signature: tests/crm/test_webhook_inbound.py refuses a bad one.
    "/api/v1/crm/hubspot/webhook/": "the CRM's signed webhook",
    # Any other /api/v1/…/: a JSON 404 to everyone, it serves nothing (test below).
    "/api/v1/": "the API's answer to a URL it does not have",
    # For load balancers: each check's name and OK/failed/skipped, nothing else (test below;
    # tests/monitoring/test_health.py).
    "/healthz": "the health check",
    # Allowed networks or the token only (test below; tests/monitoring/test_metrics.py).
    "/metrics": "the Prometheus metrics",
}
# The status codes that refuse a visitor: to a sign-in page, or an API's 401/403.
REFUSED = {301, 302, 401, 403}
METHODS = ("get", "post", "put", "patch", "delete")
SAMPLE = {"int": "1", "id": "1", "str": "x", "slug": "x", "uuid": str(uuid.uuid4()), "path": "x"}


def _route(pattern) -> str:
    """The pattern with each converter or group replaced by a sample value."""
    if isinstance(pattern, RoutePattern):
        return re.sub(
            r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>",
            lambda m: SAMPLE.get(m.group("converter") or "str", "1"),
            str(pattern),
        )
    assert isinstance(pattern, RegexPattern)
    regex = str(pattern).lstrip("^").rstrip("$").replace("\\Z", "").replace("\\.", ".")
    # Named and unnamed groups: a sample that most of them accept (digits), an optional
    # group left out.
    regex = re.sub(r"\(\?P<(\w+)>[^()]*(\([^()]*\)[^()]*)*\)\??", "1", regex)
    regex = re.sub(r"\((?:\?:)?[^()]*\)\?", "", regex)
    regex = re.sub(r"\([^()]*\)", "1", regex)
    return regex.replace("\\/", "/").replace("?", "")


def _urls(patterns=None, prefix: str = "/") -> list[str]:
    found = []
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        here = prefix + _route(entry.pattern)
        if isinstance(entry, URLResolver):
            found += _urls(entry.url_patterns, here)
        elif isinstance(entry, URLPattern):
            found.append(here)
    return sorted(set(found))


URLS = _urls()


def test_the_walk_finds_the_site_the_api_and_the_admin():
    assert len(URLS) > 100
    for expected in ("/api/v1/nominations/1/", "/admin/workflow/cycle/", "/cycles/1/coverage/"):
        assert expected in URLS, expected
    assert set(PUBLIC) <= set(URLS), set(PUBLIC) - set(URLS)


@pytest.mark.django_db
@pytest.mark.parametrize("url", [u for u in URLS if u not in PUBLIC])
def test_it_refuses_a_visitor_who_has_not_signed_in(client, url):
    answers = {}
    for method in METHODS:
        response = getattr(client, method)(url)
        answers[method] = response.status_code
        if response.status_code in (301, 302):
            target = response.headers["Location"]
            assert target.startswith((resolve_url(settings.LOGIN_URL), "/admin/login/")) or (
                # A missing slash is added first; the target is then refused in its turn.
                response.status_code == 301 and target.rstrip("/") == url.rstrip("/")
            ), f"{method.upper()} {url} sends a visitor to {target}"
    # 405 (the method is not served) refuses too, but at least one method must meet the
    # sign-in rule; a 200, a 404 (a lookup before the check) or a 400 means it was not asked.
    assert set(answers.values()) <= REFUSED | {405}, f"{url}: {answers}"
    assert set(answers.values()) & REFUSED, f"{url}: {answers}"


@pytest.mark.django_db
def test_an_unknown_api_url_answers_only_a_404(client):
    for method in METHODS:
        response = getattr(client, method)("/api/v1/no-such-thing/")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_the_webhook_refuses_a_request_without_a_valid_signature(client, settings):
    settings.HUBSPOT_CLIENT_SECRET = "webhook-secret"
    response = client.post(
        "/api/v1/crm/hubspot/webhook/", data="[]", content_type="application/json"
    )
    assert response.status_code in (401, 403)


@pytest.mark.django_db
def test_the_health_check_tells_a_visitor_only_names_and_outcomes(client):
    response = client.get("/healthz")
    answer = response.json()
    assert set(answer) == {"status", "checks"}
    assert set(answer["checks"].values()) <= {"OK", "failed", "skipped"}
    for method in METHODS[1:]:
        assert getattr(client, method)("/healthz").status_code == 405


@pytest.mark.django_db
def test_the_metrics_refuse_a_visitor_from_outside_the_allowed_networks(client, settings):
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.METRICS_TOKEN = "a-token-of-thirty-two-characters-or-more"
    for method in METHODS:
        response = getattr(client, method)("/metrics", REMOTE_ADDR="198.51.100.4")
        assert response.status_code == 404, method
    wrong = client.get("/metrics", REMOTE_ADDR="198.51.100.4", HTTP_AUTHORIZATION="Bearer a-guess")
    assert wrong.status_code == 403
