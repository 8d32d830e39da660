"""Schemathesis against /api/schema/, as each role: generated requests, valid and not, to every
operation; no answer may be a server error, and every answer must be what the schema says
(status code, content type, headers, body). Requests go to the Django WSGI application in
process, inside the test's transaction.

Kept bounded (a few examples per operation and mode: one to two minutes for all roles);
set SCHEMATHESIS_EXAMPLES to look harder.
"""

import json
import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.models import ServiceAccount
from coverage.services import snapshot_take
from crm.models import SyncRun
from tests.api.conftest import ROLES
from tests.factories import AccountFactory
from workflow import services

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "5"))
MEMBERS = ("proposer", "same_side_approver", "other_side_approver", "non_approver", "ops")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def _keep_the_test_connection():
    # Django's WSGI handler closes "old" connections around each request; in a test that
    # would be the connection holding the test's transaction. Django's test client does the
    # same as this.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture(scope="module")
def api_schema(_keep_the_test_connection, django_db_blocker):
    # The schema is served to signed-in callers only: it is generated here as the view
    # generates it, and the requests go to the WSGI application.
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    from config.wsgi import application

    with django_db_blocker.unblock():
        raw = OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True))
    schema = schemathesis.openapi.from_dict(json.loads(raw))
    schema.app = application
    schema.location = "/api/schema/"
    return schema


@pytest.fixture
def real_ids(people, the_cycle, account, integration_token):
    """Objects the generated requests can hit, so that they reach past the 404s."""
    listed = AccountFactory()
    on_list = services.nomination_create(
        cycle=the_cycle, account=listed, kind="add", tier=2, rationale="Fit", by=people.marketer
    )
    services.nomination_sign_off(nomination=on_list, by=people.sales_approver, decision="approve")
    services.list_version_publish(cycle=the_cycle, by=people.ops)
    services.comment_create(nomination=on_list, by=people.sales_approver, body="@mara agreed")
    open_one = services.nomination_create(
        cycle=the_cycle, account=account, kind="add", tier=1, rationale="Fit", by=people.marketer
    )
    snapshot_take(cycle=the_cycle)  # so that the coverage endpoints answer 200 too
    return {
        "/api/v1/accounts/": {"id": account.pk},
        "/api/v1/cycles/": {"id": the_cycle.pk, "number": 1},
        "/api/v1/nominations/": {"id": open_one.pk},
        "/api/v1/service-accounts/": {
            "id": ServiceAccount.objects.get(user__username="crm-sync").pk
        },
        "/api/v1/sync-runs/": {
            "id": SyncRun.objects.create(kind="push", backend="none", trigger="command").pk
        },
    }


def _headers(role, people, integration_token, outsider):
    from api.services import api_token_issue

    user = {
        "proposer": people.marketer,
        "same_side_approver": people.marketing_approver,
        "other_side_approver": people.sales_approver,
        "non_approver": people.marketing_member,
        "ops": people.ops,
        "outsider": outsider,
    }.get(role)
    if role == "integration":
        return {"Authorization": f"Token {integration_token}"}
    if user is None:
        return {}
    return {"Authorization": f"Token {api_token_issue(user=user)}"}


def _plan(operation, ids):
    """(label, path parameters, generation modes) to run for an operation.

    Operations on one object run with ids that exist, valid and invalid data; with random ids
    (mostly 404s) only invalid ones. Invalid data needs an input to spoil besides the path.
    """
    inputs = (
        list(operation.query)
        or list(operation.body)
        or [h for h in operation.headers if h.name != "Authorization"]
    )
    both = (
        [GenerationMode.POSITIVE, GenerationMode.NEGATIVE] if inputs else [GenerationMode.POSITIVE]
    )
    names = {p.name for p in operation.path_parameters}
    if not names:
        yield "no", {}, both
        return
    path_ids = next((v for prefix, v in ids.items() if operation.path.startswith(prefix)), None)
    assert path_ids, f"Add ids that exist for {operation.path} to the real_ids fixture."
    yield "existing", {name: path_ids[name] for name in names}, both
    yield "random", {}, [GenerationMode.NEGATIVE]


@pytest.mark.parametrize("role", [*ROLES, "outsider"])
def test_it_answers_as_the_schema_says_to_every_role(
    role, api_schema, real_ids, people, integration_token, outsider, settings
):
    # Plenty of requests from one caller: throttling is tested elsewhere.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "100000/min", "user": "100000/min"},
    }
    headers = _headers(role, people, integration_token, outsider)
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 25

    examples = EXAMPLES if role in MEMBERS else max(1, EXAMPLES // 3)
    for operation in operations:
        for label, path_parameters, modes in _plan(operation, real_ids):
            for mode in modes:
                strategy = operation.as_strategy(
                    generation_mode=mode, path_parameters=path_parameters or None
                )

                @given(case=strategy)
                @hypothesis_settings(
                    max_examples=examples,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                def check(case):
                    case.call_and_validate(headers=headers, checks=CHECKS)

                try:
                    check()
                except Exception as error:
                    raise AssertionError(
                        f"{role}: {operation.label} ({label} ids, {mode.value} data)"
                    ) from error
