"""The nomination page: facts, fit, each side's sign-off status, only the viewer's own
actions, the discussion with @mentions, the timeline, and errors in plain words."""

import pytest
from django.urls import reverse

from tests.factories import AccountFactory, cycle
from tests.web.conftest import ROLES
from workflow import services
from workflow.models import Comment, SignOff, State


def page_of(client, nomination) -> str:
    response = client.get(reverse("workflow:nomination", args=[nomination.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_it_shows_the_account_and_its_fit_then_and_now(in_review, people, as_):
    account = in_review.account
    account.fit_score = 91
    account.industry = "Logistics"
    account.save()
    page = page_of(as_(people.sales_member), in_review)
    assert "Add Globex to Tier 1" in page
    assert "Logistics" in page
    assert "Fit at proposal" in page
    assert '<div class="fs-4 fw-semibold">91</div>' in page
    assert "Strong fit: expanding in EMEA." in page
    assert 'href="https://globex.example/news"' in page


def test_it_shows_each_sides_sign_off_status_with_who_and_when(in_review, people, as_):
    services.nomination_sign_off(
        nomination=in_review, by=people.marketing_approver, decision="approve"
    )
    page = page_of(as_(people.sales_member), in_review)
    marketing = page[page.index('data-testid="side-marketing"') :]
    marketing = marketing[: marketing.index('data-testid="side-sales"')]
    assert "2 of 1 approval · reached" in marketing
    assert people.marketer.get_full_name() in marketing
    assert "(by proposing)" in marketing
    assert people.marketing_approver.get_full_name() in marketing
    sales = page[page.index('data-testid="side-sales"') :]
    assert "0 of 1 approval" in sales
    assert "Waiting for sales." in sales


DECIDE = 'value="approve">Approve</button>'
WITHDRAW = ">Withdraw</button>"


@pytest.mark.parametrize("role", [r for r in ROLES if r not in ("anonymous", "no_side")])
def test_it_offers_only_the_actions_the_viewer_may_take(role, in_review, role_user, as_):
    page = page_of(as_(role_user(role)), in_review)
    # The same side's quorum (1) is met by the proposer's submission: only the other side's
    # approver is offered "Approve"; both may still reject or request changes.
    assert (DECIDE in page) == (role == "other_side_approver")
    assert ('value="reject"' in page) == (role in ("same_side_approver", "other_side_approver"))
    assert (WITHDRAW in page) == (role == "proposer")
    assert "Edit" not in page[page.index('id="actions"') : page.index('id="account"')]
    assert "Post comment" in page


def test_it_stops_offering_a_decision_once_the_viewer_decided(in_review, people, as_):
    client = as_(people.marketing_approver)
    client.post(reverse("workflow:decide", args=[in_review.pk]), {"decision": "approve"})
    page = page_of(client, in_review)
    assert DECIDE not in page
    assert "You approved round 1." in page

    again = client.post(reverse("workflow:decide", args=[in_review.pk]), {"decision": "approve"})
    assert again.status_code == 403
    assert "You already decided on round 1 (approve)." in again.content.decode()
    assert SignOff.objects.filter(person=people.marketing_approver).count() == 1


def test_it_offers_the_proposer_to_edit_and_submit_a_draft(draft, people, as_):
    page = page_of(as_(people.marketer), draft)
    assert "Edit draft" in page
    assert ">Submit for sign-off</button>" in page
    other = page_of(as_(people.marketing_approver), draft)
    assert "Edit draft" not in other
    assert "Submit for sign-off" not in other


def test_it_edits_a_draft_then_submits_it(draft, people, as_):
    client = as_(people.marketer)
    url = reverse("workflow:edit", args=[draft.pk])
    assert "Still drafting." in client.get(url).content.decode()
    response = client.post(
        url,
        {
            "step": "submit",
            "tier": "3",
            "rationale": "Ready now.",
            "evidence_links": "https://initech.example",
        },
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.state, draft.tier, draft.rationale) == (State.IN_REVIEW, 3, "Ready now.")
    assert draft.evidence_links == ["https://initech.example"]


def test_it_shows_the_round_after_a_resubmission(changes_requested, people, as_):
    client = as_(people.marketer)
    page = page_of(client, changes_requested)
    assert "Edit and resubmit" in page
    assert "Tier 2 fits better." in page
    client.post(
        reverse("workflow:edit", args=[changes_requested.pk]),
        {"step": "resubmit", "tier": "2", "rationale": "Tier 2 then.", "note": "Done."},
    )
    page = page_of(as_(people.sales_approver), changes_requested)
    assert "Sign-offs · round 2" in page
    assert "Earlier rounds" in page
    assert DECIDE in page


def test_it_keeps_the_edit_page_to_the_proposer(draft, people, as_):
    response = as_(people.marketing_approver).get(reverse("workflow:edit", args=[draft.pk]))
    assert response.status_code == 403
    assert "Only the proposer can edit this nomination." in response.content.decode()


def test_it_highlights_mentions_and_escapes_the_rest(in_review, people, as_):
    client = as_(people.sales_member)
    client.post(
        reverse("workflow:comment", args=[in_review.pk]),
        {"body": "@sam can you check? <script>alert(1)</script> @ghost"},
    )
    comment = Comment.objects.get()
    assert list(comment.mentions.all()) == [people.sales_approver]
    page = page_of(client, in_review)
    assert f'<span class="mention" title="{people.sales_approver.get_full_name()}">@sam</span>' in (
        page
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt; @ghost" in page
    assert "<script>alert(1)" not in page


def test_it_lists_the_full_timeline(changes_requested, people, as_):
    page = page_of(as_(people.ops), changes_requested)
    timeline = page[page.index('id="timeline"') :]
    assert "created as draft" in timeline
    assert "Draft → In review" in timeline
    assert "requested changes" in timeline
    assert "In review → Changes requested" in timeline
    assert "“Tier 2 fits better.”" in timeline
    assert "round 1" in timeline
    assert people.sales_approver.get_full_name() in timeline


@pytest.mark.parametrize(
    ("decision", "message"),
    [
        ("reject", "Give a reason for rejecting: the proposer needs it."),
        ("request_changes", "Say what should change."),
    ],
)
def test_it_asks_for_a_note_next_to_the_form(decision, message, in_review, people, as_):
    response = as_(people.sales_approver).post(
        reverse("workflow:decide", args=[in_review.pk]), {"decision": decision, "note": " "}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    in_review.refresh_from_db()
    assert in_review.state == State.IN_REVIEW


def test_it_refuses_an_approval_that_would_overfill_the_tier(people, as_):
    small = cycle("FY27 H2", capacities=(1, 5, 5))
    first = services.nomination_create(
        cycle=small, account=AccountFactory(), kind="add", tier=1, rationale="A", by=people.marketer
    )
    services.nomination_sign_off(nomination=first, by=people.sales_approver, decision="approve")
    second = services.nomination_create(
        cycle=small, account=AccountFactory(), kind="add", tier=1, rationale="B", by=people.marketer
    )
    response = as_(people.sales_approver).post(
        reverse("workflow:decide", args=[second.pk]), {"decision": "approve"}
    )
    assert response.status_code == 409
    assert "Tier 1 of FY27 H2 is full (1 of 1 accounts)" in response.content.decode()
    second.refresh_from_db()
    assert second.state == State.IN_REVIEW
    assert not second.sign_offs.filter(person=people.sales_approver).exists()


def test_it_refuses_decisions_on_a_closed_nomination(in_review, people, as_):
    services.nomination_withdraw(nomination=in_review, by=people.marketer)
    response = as_(people.sales_approver).post(
        reverse("workflow:decide", args=[in_review.pk]), {"decision": "approve"}
    )
    assert response.status_code == 409
    assert "This nomination is withdrawn" in response.content.decode()


def test_it_refuses_an_empty_comment(in_review, people, as_):
    response = as_(people.sales_member).post(
        reverse("workflow:comment", args=[in_review.pk]), {"body": ""}, follow=True
    )
    assert response.redirect_chain == [(reverse("workflow:nomination", args=[in_review.pk]), 302)]
    assert "Your comment is not posted: write something first." in response.content.decode()
    assert not Comment.objects.exists()


def test_an_approver_whose_side_reached_quorum_is_not_offered_approve(in_review, people, as_):
    # Marketing's quorum of 1 is met by the proposer's submission.
    page = as_(people.marketing_approver).get(reverse("workflow:nomination", args=[in_review.pk]))
    html = page.content.decode()

    assert 'value="approve"' not in html
    assert "Marketing has reached its quorum (1 of 1)" in html
    assert 'value="reject"' in html and 'value="request_changes"' in html


def test_an_approver_of_the_side_still_waiting_is_offered_approve(in_review, people, as_):
    html = (
        as_(people.sales_approver)
        .get(reverse("workflow:nomination", args=[in_review.pk]))
        .content.decode()
    )

    assert 'value="approve"' in html
    assert "has reached its quorum" not in html


def test_its_queries_do_not_grow_with_the_discussion_the_rounds_or_the_mentions(
    changes_requested, people, as_, django_assert_max_num_queries
):
    """Comments with mentions, sign-offs of earlier rounds, the timeline and every person they
    name are read in a constant number of queries (the page reads only the columns it shows of
    each person: one it forgot would cost a query per row)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    n = changes_requested
    client = as_(people.sales_approver)

    def queries() -> int:
        client.get(reverse("workflow:nomination", args=[n.pk]))  # warm
        with CaptureQueriesContext(connection) as captured:
            page = page_of(client, n)
        return len(captured.captured_queries), page

    services.comment_create(nomination=n, by=people.marketer, body="First @sales_approver")
    services.nomination_resubmit(nomination=n, by=people.marketer, note="Tier 2 then.", tier=2)
    few, _ = queries()  # in review, round 2
    services.nomination_sign_off(
        nomination=n, by=people.sales_approver, decision="request_changes", note="Not yet."
    )
    services.nomination_resubmit(nomination=n, by=people.marketer, note="Again.")
    for i in range(15):
        author = (people.sales_member, people.marketer, people.ops)[i % 3]
        services.comment_create(
            nomination=n, by=author, body=f"Point {i} for @marketer and @sales_approver"
        )
    many, page = queries()
    assert many == few
    assert page.count("Point ") == 15 and "Round 2:" in page  # in review, round 3
    assert people.ops.get_full_name() in page
    with django_assert_max_num_queries(12):
        page_of(client, n)
