import json

import pytest

from accounts_app.models import IcpState, IcpVersion

pytestmark = pytest.mark.django_db

CRITERIA = {"industries": {"values": ["Software"], "weight": 1}}


def test_ops_draft_a_profile_and_submit_it_for_both_sides(ops, ops_user):
    ops.post(
        "/admin/accounts_app/icpversion/add/",
        {"name": "Software first", "criteria": json.dumps(CRITERIA)},
    )
    draft = IcpVersion.objects.get()
    assert (draft.number, draft.state, draft.proposed_by) == (1, IcpState.DRAFT, ops_user)

    ops.post(
        "/admin/accounts_app/icpversion/",
        {"action": "submit", "_selected_action": [draft.pk]},
    )

    draft.refresh_from_db()
    assert draft.state == IcpState.IN_REVIEW
    assert not draft.sign_offs.exists()  # ops do not count for a side


def test_criteria_are_checked(ops):
    response = ops.post(
        "/admin/accounts_app/icpversion/add/",
        {"name": "Bad", "criteria": json.dumps({"colour": {"weight": 1}})},
    )

    assert "Unknown criteria: colour." in response.content.decode()
    assert not IcpVersion.objects.exists()


def test_a_draft_can_be_edited(ops):
    icp = IcpVersion.objects.create(number=1, name="v1", criteria=CRITERIA)

    response = ops.post(
        f"/admin/accounts_app/icpversion/{icp.pk}/change/",
        {
            "name": "Changed",
            "criteria": json.dumps(CRITERIA),
            "sign_offs-TOTAL_FORMS": "0",
            "sign_offs-INITIAL_FORMS": "0",
            "events-TOTAL_FORMS": "0",
            "events-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302
    icp.refresh_from_db()
    assert icp.name == "Changed"


def test_a_profile_in_review_cannot_be_edited(ops):
    icp = IcpVersion.objects.create(number=1, name="v1", criteria=CRITERIA, state="in_review")

    response = ops.post(
        f"/admin/accounts_app/icpversion/{icp.pk}/change/",
        {
            "name": "Changed",
            "criteria": json.dumps({"regions": {"values": ["NA"], "weight": 1}}),
            "sign_offs-TOTAL_FORMS": "0",
            "sign_offs-INITIAL_FORMS": "0",
            "events-TOTAL_FORMS": "0",
            "events-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302
    icp.refresh_from_db()
    assert icp.name == "v1" and icp.criteria == CRITERIA
