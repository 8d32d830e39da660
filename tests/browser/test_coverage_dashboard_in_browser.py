"""The coverage dashboard in headless Chromium: the charts are drawn, the numbers lead to
their accounts, and nothing on the page errs."""

import pytest
from playwright.sync_api import expect

from coverage import definitions
from coverage.models import DefinitionsState, DefinitionsVersion
from coverage.services import snapshot_take
from tests.coverage.conftest import world  # noqa: F401 (the hand-built data set)


@pytest.fixture
def definitions_v1(transactional_db):
    """The live server needs a transactional database, whose flush after an earlier such test
    removed the definitions version that a migration seeds: put it back as the migration did."""
    DefinitionsVersion.objects.get_or_create(
        state=DefinitionsState.EFFECTIVE,
        defaults={"number": 1, "settings": dict(definitions.DEFAULTS)},
    )


def test_the_dashboard_draws_its_charts_after_a_snapshot(
    definitions_v1,
    world,  # noqa: F811
    people,
    page,
    sign_in,
    shot,
):
    console_errors = []
    page.on(
        "console",
        lambda m: console_errors.append(f"{m.text} {m.location}") if m.type == "error" else None,
    )
    snapshot_take(cycle=world.cycle, as_of=world.as_of)

    sign_in(people.sales_member)
    page.get_by_role("link", name="Coverage", exact=True).first.click()
    page.get_by_role("link", name=world.cycle.name).click()
    expect(page.get_by_role("heading", name="Coverage dashboard")).to_be_visible()

    charts = page.locator("[data-chart]")
    expect(charts).to_have_count(7)
    for name in ("coverage_by_tier", "stage_funnel", "gaps", "pipeline_by_tier"):
        marks = page.locator(f'[data-chart="{name}"] svg g.mark-rect path')
        assert marks.count() > 0, f"{name} has no bars"
        box = page.locator(f'[data-chart="{name}"] svg').bounding_box()
        assert box and box["width"] > 200 and box["height"] > 100, name
    lines = page.locator('[data-chart="engagement_over_time"] svg g.mark-line path')
    assert lines.count() == 2  # one line per side
    # A bar's native tooltip says what it is.
    gap_titles = page.locator('[data-chart="gaps"] svg g.mark-rect path title')
    assert any("Missing required role" in t for t in gap_titles.all_text_contents())

    expect(page.get_by_test_id("my-actions")).to_contain_text("Bravo")
    shot("coverage-dashboard")

    page.get_by_test_id("score-gap_missing_role").click()
    expect(page.get_by_test_id("coverage-table")).to_be_visible()
    rows = page.get_by_test_id("coverage-table").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Bravo")
    expect(rows.nth(1)).to_contain_text("Delta")
    shot("coverage-table")
    assert console_errors == []
