"""The OpenAPI contract at /api/schema/ and Swagger UI at /api/docs/, served without a CDN."""

import re

import pytest
import yaml
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient


def _signed_in() -> APIClient:
    client = APIClient()
    client.force_authenticate(user=User(username="reader"))
    return client


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        response = _signed_in().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def _api_v1_routes() -> set[str]:
    """Every route of /api/v1/, from the URL configuration, as OpenAPI paths."""
    routes = set()

    def walk(patterns, prefix):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and hasattr(pattern.callback, "cls"):
                routes.add("/" + prefix + str(pattern.pattern))

    walk(get_resolver().url_patterns, "")
    return {
        re.sub(r"<(?:int|id):(\w+)>", lambda m: "{id}" if m[1] == "pk" else "{" + m[1] + "}", r)
        for r in routes
        if r.startswith("/api/v1/")
    }


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/"])
def test_the_schema_and_swagger_ui_need_a_signed_in_caller(db, url):
    assert APIClient().get(url).status_code in (401, 403)


def test_it_serves_a_valid_openapi_3_schema(schema):
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)


def test_it_describes_every_endpoint(schema):
    assert set(schema["paths"]) == _api_v1_routes()


def test_it_describes_the_errors_of_every_operation(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"401", "429"} <= codes, (method, path)
            if path != "/api/v1/me/":  # anyone signed in may ask who they are
                assert "403" in codes, (method, path)
            assert operation["responses"]["429"]["headers"]["Retry-After"]["required"]
            for code in codes - {"200", "201", "304"}:
                ref = operation["responses"][code]["content"]["application/json"]["schema"]
                assert ref == {"$ref": "#/components/schemas/Error"}, (method, path, code)
            if "{" in path:
                assert "404" in codes, (method, path)
            if method == "post":
                names = {p["name"] for p in operation["parameters"]}
                assert "Idempotency-Key" in names, path
                assert {"400", "409", "413", "422"} <= codes, path


def test_it_describes_the_etag_and_304_of_the_agreed_list(schema):
    operation = schema["paths"]["/api/v1/cycles/{id}/target-accounts/"]["get"]
    assert "ETag" in operation["responses"]["200"]["headers"]
    assert "ETag" in operation["responses"]["304"]["headers"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"If-None-Match", "updated_since", "page", "page_size"} <= names
    page = schema["components"]["schemas"]["PaginatedTargetAccountList"]
    assert "next_updated_since" in page["properties"]


def test_it_says_request_bodies_refuse_unknown_fields_and_takes_no_side(schema):
    decision = schema["components"]["schemas"]["DecisionRequest"]
    assert decision["additionalProperties"] is False
    assert set(decision["properties"]) == {"decision", "note"}
    assert "side" not in schema["components"]["schemas"]["NominationCreateRequest"]["properties"]


def test_it_serves_swagger_ui_from_local_static_files(db):
    client = _signed_in()
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    # Its start-up script is a file of its own (the Content-Security-Policy refuses inline
    # scripts), which reads the schema.
    assert not re.search(r"<script>|<style>", html)
    script = client.get("/api/docs/?script=")
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()
    assert not re.search(r"""(src|href)=["']https?://""", html), "no CDN"
    static = re.findall(r"""/static/([^"']+\.(?:js|css|png))""", html)
    assert any(path.endswith("swagger-ui-bundle.js") for path in static)
    for path in static:
        assert finders.find(path), path
