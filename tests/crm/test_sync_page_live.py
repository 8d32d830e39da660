"""The sync page's live progress in headless Chromium: the page's own script follows a running
run until it finishes, with no page reload."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm.models import SyncRun, SyncState
from tests.browser.conftest import browser, page, sign_in  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def test_the_progress_bar_follows_a_running_push_until_it_finishes(people, page, sign_in):  # noqa: F811
    now = timezone.now()
    run = SyncRun.objects.create(
        kind="push",
        backend="hubspot",
        trigger="admin",
        state=SyncState.RUNNING,
        total=2000,
        done=200,
        sent=200,
        created=200,
        created_at=now,
        updated_at=now,
    )
    sign_in(people.ops)
    page.goto("/sync/")
    row = page.locator(f"tr[data-run='{run.pk}']")
    expect(row.locator("[data-field=done]")).to_have_text("200")
    expect(row.locator("[data-field=bar]")).to_have_class(re.compile(r"\bpct-10\b"))
    # The class draws the bar a tenth of the way (accord.css; no style attribute).
    share = "el => el.getBoundingClientRect().width / el.parentElement.clientWidth"
    assert row.locator("[data-field=bar]").evaluate(share) == pytest.approx(0.10, abs=0.01)

    SyncRun.objects.filter(pk=run.pk).update(done=1500, sent=1500, created=1490, updated=10)
    expect(row.locator("[data-field=done]")).to_have_text("1,500")
    bar = row.locator("[data-field=bar]")
    expect(bar).to_have_class(re.compile(r"\bpct-75\b"))
    expect(bar).not_to_have_class(re.compile(r"\bpct-10\b"))
    expect(row.locator("[data-field=updated]")).to_have_text("10")

    SyncRun.objects.filter(pk=run.pk).update(
        done=2000, sent=2000, created=1990, state=SyncState.SUCCEEDED, finished_at=timezone.now()
    )
    expect(row.locator("[data-field=state]")).to_have_text("Succeeded")
    expect(row).to_have_attribute("data-active", "0")
    expect(row.locator("[data-field=bar]")).to_have_class(re.compile(r"\bbg-success\b"))
