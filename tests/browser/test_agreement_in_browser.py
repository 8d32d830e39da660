"""The agreement workflow as people use it, in headless Chromium."""

import re

from playwright.sync_api import expect

from tests.factories import AccountFactory, cycle
from workflow import services
from workflow.models import State, TargetAccount


def test_it_takes_a_nomination_from_proposal_to_the_agreed_list(
    people, the_cycle, account, page, sign_in, sign_out, shot
):
    account.fit_score = 82
    account.save()

    # A marketing person nominates Globex for Tier 1.
    sign_in(people.marketer)
    page.goto(f"/cycles/{the_cycle.pk}/")
    page.get_by_role("link", name="Nominate an account").click()
    page.get_by_placeholder("Company name or domain").fill("globex")
    page.get_by_role("button", name="Search").click()
    page.get_by_test_id("search-results").get_by_role("link", name="Choose").click()
    expect(page.get_by_test_id("fit-score")).to_contain_text("82")
    page.get_by_label("Tier").select_option("1")
    page.get_by_label("Rationale").fill("Expanding in EMEA; two champions already engaged.")
    page.get_by_label("Evidence links").fill("https://globex.example/press/expansion")
    page.get_by_role("button", name="Check for conflicts").click()
    expect(page.get_by_text("No conflicts")).to_be_visible()
    shot("nominate")
    page.get_by_role("button", name="Submit for sign-off").click()
    expect(page.get_by_test_id("state")).to_have_text("In review")
    expect(page.get_by_test_id("side-marketing")).to_contain_text("1 of 1 approval · reached")
    sign_out()

    # A sales approver finds it in the queue and approves it.
    sign_in(people.sales_approver)
    expect(page.get_by_test_id("tab-waiting")).to_contain_text("1")
    shot("queue")
    page.get_by_role("link", name="Globex").click()
    shot("nomination")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Both sides agreed: Globex joins Tier 1")).to_be_visible()
    expect(page.get_by_test_id("state")).to_have_text("Approved")

    # The account is on the cycle's agreed list.
    page.goto(f"/cycles/{the_cycle.pk}/")
    row = page.get_by_test_id("agreed-list").get_by_role("row", name=re.compile("Globex"))
    expect(row).to_contain_text("Tier 1")
    expect(page.get_by_test_id("tier-1")).to_contain_text("1 of 50")
    shot("cycle")
    sign_out()


def test_it_runs_a_request_for_changes_and_a_second_round(
    people, the_cycle, account, page, sign_in, sign_out, shot
):
    nomination = services.nomination_create(
        cycle=the_cycle,
        account=account,
        kind="add",
        tier=1,
        rationale="Big logo.",
        by=people.marketer,
    )
    url = f"/nominations/{nomination.pk}/"

    sign_in(people.sales_approver)
    page.goto(url)
    page.get_by_label("Note").fill("Tier 2 fits better until they sign the pilot.")
    page.get_by_role("button", name="Request changes").click()
    expect(page.get_by_test_id("state")).to_have_text("Changes requested")
    sign_out()

    sign_in(people.marketer)
    page.goto(url)
    page.get_by_role("link", name="Edit and resubmit").click()
    page.get_by_label("Tier").select_option("2")
    page.get_by_label("What changed").fill("Moved to Tier 2 as asked.")
    page.get_by_role("button", name=re.compile("Resubmit")).click()
    expect(page.get_by_test_id("state")).to_have_text("In review")
    expect(page.get_by_text("Sign-offs · round 2")).to_be_visible()
    expect(page.locator("h1")).to_have_text("Add Globex to Tier 2")
    sign_out()

    sign_in(people.sales_approver)
    page.goto(url)
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_test_id("state")).to_have_text("Approved")
    expect(page.locator("#timeline")).to_contain_text("resubmitted")
    expect(page.locator("#timeline")).to_contain_text("Moved to Tier 2 as asked.")
    shot("nomination-round-2")
    assert TargetAccount.objects.get(cycle=the_cycle, account=account).tier == 2


def test_it_shows_the_refusal_when_the_tier_is_full(people, page, sign_in, shot):
    small = cycle("FY27 H2", capacities=(1, 5, 5))
    first = services.nomination_create(
        cycle=small,
        account=AccountFactory(name="Umbrella"),
        kind="add",
        tier=1,
        rationale="Flagship.",
        by=people.marketer,
    )
    services.nomination_sign_off(nomination=first, by=people.sales_approver, decision="approve")
    second = services.nomination_create(
        cycle=small,
        account=AccountFactory(name="Hooli"),
        kind="add",
        tier=1,
        rationale="Also great.",
        by=people.marketer,
    )

    sign_in(people.sales_approver_2)
    page.goto(f"/nominations/{second.pk}/")
    page.get_by_role("button", name="Approve").click()
    error = page.get_by_test_id("action-error")
    expect(error).to_contain_text("Tier 1 of FY27 H2 is full (1 of 1 accounts)")
    expect(page.get_by_test_id("state")).to_have_text("In review")
    shot("tier-full")
    second.refresh_from_db()
    assert second.state == State.IN_REVIEW
    assert not TargetAccount.objects.filter(account=second.account).exists()


def test_it_warns_at_once_when_a_full_tier_is_chosen(people, page, sign_in):
    full = cycle("FY28 H1", capacities=(0, 5, 5))
    account = AccountFactory(name="Initech")
    sign_in(people.marketing_member)
    page.goto(f"/cycles/{full.pk}/nominate/?account={account.pk}")
    warning = page.locator("#tier-full-live")
    expect(warning).to_be_hidden()
    page.get_by_label("Tier").select_option("1")
    expect(warning).to_have_text(re.compile(r"^Tier 1 is full \(0 of 0 accounts\)"))
    page.get_by_label("Tier").select_option("2")
    expect(warning).to_be_hidden()
    page.get_by_label("Proposal").select_option("remove")
    expect(page.locator("#tier-group")).to_be_hidden()
