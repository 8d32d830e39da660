"""The ideal customer profile page: versions with the effective one marked, and sign-off for
approvers of each side."""

from django.urls import reverse

from accounts_app.models import IcpState


def test_it_makes_a_profile_effective_when_both_sides_sign_off(icp_in_review, people, as_):
    url = reverse("icp:sign_off", args=[icp_in_review.pk])
    marketing = as_(people.marketing_approver)
    page = marketing.get(reverse("icp:list")).content.decode()
    assert "Approve for marketing" in page
    assert "Industries" in page and "Software" in page and "200 to 5,000" in page

    marketing.post(url, {"decision": "approve"})
    icp_in_review.refresh_from_db()
    assert icp_in_review.state == IcpState.IN_REVIEW

    response = as_(people.sales_approver).post(url, {"decision": "approve"}, follow=True)
    icp_in_review.refresh_from_db()
    assert icp_in_review.state == IcpState.EFFECTIVE
    html = response.content.decode()
    assert "is now effective" in html
    assert "Effective since" in html


def test_it_asks_for_a_reason_to_reject_a_profile(icp_in_review, people, as_):
    response = as_(people.sales_approver).post(
        reverse("icp:sign_off", args=[icp_in_review.pk]), {"decision": "reject", "note": ""}
    )
    assert response.status_code == 400
    assert "Say why you reject this profile." in response.content.decode()
    icp_in_review.refresh_from_db()
    assert icp_in_review.state == IcpState.IN_REVIEW


def test_it_offers_no_sign_off_to_non_approvers(icp_in_review, people, as_):
    page = as_(people.sales_member).get(reverse("icp:list")).content.decode()
    assert "Mid-market software" in page
    assert "Approve for" not in page
