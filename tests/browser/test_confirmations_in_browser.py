"""Irreversible actions ask first, in headless Chromium: rejecting a nomination (only the
Reject button of the decision form asks) and withdrawing one."""

from playwright.sync_api import expect

from workflow import services
from workflow.models import Nomination, State


def propose(people, the_cycle, account):
    return services.nomination_create(
        cycle=the_cycle,
        account=account,
        kind="add",
        tier=1,
        rationale="Big logo.",
        by=people.marketer,
    )


def test_reject_asks_first_and_a_no_changes_nothing(people, the_cycle, account, page, sign_in):
    nomination = propose(people, the_cycle, account)
    questions = []

    def answer(dialog, accept):
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    sign_in(people.sales_approver)
    page.goto(f"/nominations/{nomination.pk}/")
    page.get_by_label("Note").fill("Not this half.")
    page.once("dialog", lambda dialog: answer(dialog, accept=False))
    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_test_id("state")).to_have_text("In review")
    assert Nomination.objects.get(pk=nomination.pk).state == State.IN_REVIEW

    page.once("dialog", lambda dialog: answer(dialog, accept=True))
    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_test_id("state")).to_have_text("Rejected")
    assert questions == ["Reject this nomination? A rejection ends it: it cannot be undone."] * 2


def test_request_changes_does_not_ask(people, the_cycle, account, page, sign_in):
    nomination = propose(people, the_cycle, account)
    questions = []
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))

    sign_in(people.sales_approver)
    page.goto(f"/nominations/{nomination.pk}/")
    page.get_by_label("Note").fill("Tier 2?")
    page.get_by_role("button", name="Request changes").click()

    expect(page.get_by_test_id("state")).to_have_text("Changes requested")
    assert questions == []


def test_withdraw_still_asks_first(people, the_cycle, account, page, sign_in):
    nomination = propose(people, the_cycle, account)
    questions = []
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))

    sign_in(people.marketer)
    page.goto(f"/nominations/{nomination.pk}/")
    page.get_by_role("button", name="Withdraw").click()

    expect(page.get_by_test_id("state")).to_have_text("Withdrawn")
    assert questions == ["Withdraw this nomination? This cannot be undone."]
