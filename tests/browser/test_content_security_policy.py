"""The Content-Security-Policy (django-csp) allows only Accord's own scripts and styles: every
main page, the admin, Swagger UI and the coverage dashboard's charts work in Chromium with no
violation reported in the console."""

import pytest
from playwright.sync_api import expect

from coverage import definitions
from coverage.models import DefinitionsState, DefinitionsVersion
from coverage.services import snapshot_take
from crm import services as crm_services
from crm.models import SyncRun
from tests.coverage.conftest import world  # noqa: F401 (the hand-built data set)
from tests.factories import AccountFactory
from tests.workflow.helpers import nominate

# Chromium reports a refused script, style or other resource as a console error naming the
# policy; the page's own `securitypolicyviolation` event is logged too, in case one is not.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI} `
    + `${event.sourceFile}:${event.lineNumber}`);
});
"""


@pytest.fixture
def definitions_v1(transactional_db):
    DefinitionsVersion.objects.get_or_create(
        state=DefinitionsState.EFFECTIVE,
        defaults={"number": 1, "settings": dict(definitions.DEFAULTS)},
    )


@pytest.fixture
def violations(page):
    found: list[str] = []
    page.add_init_script(REPORT_VIOLATIONS)

    def seen(message):
        text = message.text
        if message.type == "error" and ("Content Security Policy" in text or "CSP" in text):
            found.append(f"{page.url}: {text}")

    page.on("console", seen)
    return found


def visit(page, path: str, *, ready: str | None = None):
    response = page.goto(path)
    assert response.status < 400, f"{path}: {response.status}"
    assert "script-src 'self'" in response.headers["content-security-policy"], path
    if ready:
        expect(page.locator(ready).first).to_be_visible(timeout=30_000)
    page.wait_for_load_state("networkidle")


def test_the_pages_the_admin_swagger_ui_and_the_charts_keep_the_policy(
    definitions_v1,
    world,  # noqa: F811
    people,
    page,
    sign_in,
    sign_out,
    violations,
):
    snapshot_take(cycle=world.cycle, as_of=world.as_of)
    proposal = nominate(people.marketer, world.cycle, AccountFactory(name="Initech"))
    crm_services.sync_run_request_push(by=people.ops)
    run = SyncRun.objects.get()
    cycle = world.cycle.pk
    account = proposal.account_id

    sign_in(people.sales_approver)
    for path, ready in (
        ("/", None),
        ("/cycles/", None),
        (f"/cycles/{cycle}/", "[data-testid=tier-1]"),
        (f"/cycles/{cycle}/nominate/", None),
        (f"/nominations/{proposal.pk}/", "[data-testid=state]"),
        (f"/cycles/{cycle}/versions/", None),
        ("/accounts/", None),
        (f"/accounts/{account}/", None),
        ("/icp/", None),
        ("/coverage/", None),
        (f"/cycles/{cycle}/coverage/", "[data-chart] svg"),
        (f"/cycles/{cycle}/coverage/accounts/", "[data-testid=coverage-table]"),
        ("/coverage/definitions/", None),
        ("/api/docs/", ".swagger-ui .opblock"),
    ):
        visit(page, path, ready=ready)
    page.goto("/")
    sign_out()

    ops = people.ops
    ops.is_staff = ops.is_superuser = True
    ops.save()
    sign_in(ops)
    for path, ready in (
        ("/sync/", None),
        (f"/sync/runs/{run.pk}/", None),
        ("/admin/", "#content"),
        ("/admin/workflow/nomination/", "#result_list"),
        (f"/admin/workflow/nomination/{proposal.pk}/change/", "#content"),
        ("/admin/workflow/cycle/", "#result_list"),
        (f"/admin/workflow/cycle/{cycle}/change/", "#content"),
        ("/admin/accounts_app/account/", "#result_list"),
        (f"/admin/accounts_app/account/{account}/change/", "#content"),
        ("/admin/accounts_app/account/import/", "#content"),
        ("/admin/accounts_app/activity/import/", "#content"),
        ("/admin/crm/syncrun/", "#content"),
        ("/admin/crm/outboxentry/", "#content"),
        ("/admin/django_celery_beat/periodictask/", "#content"),
        ("/admin/auth/user/add/", "#content"),
    ):
        visit(page, path, ready=ready)
    # The admin's own scripts still run: the changelist's "select all" checks every row.
    page.goto("/admin/workflow/cycle/")
    page.locator("#action-toggle").check()
    expect(page.locator("#result_list tbody input.action-select").first).to_be_checked()
    expect(page.locator(".action-counter")).to_contain_text("1 of 1 selected")

    assert violations == [], "\n".join(violations)
