"""New settings for the metric definitions take effect only when an approver of each side has
signed them off, through the same mechanism as the ideal customer profile (core.agreements);
snapshots then use them, and earlier snapshots keep the version they were computed with."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import Invalid, NotAllowed
from core.models import AgreementAction
from coverage import services
from coverage.definitions import DEFAULTS
from coverage.models import DefinitionsEvent, DefinitionsState, DefinitionsVersion
from coverage.selectors import definitions_effective
from coverage.services import snapshot_take
from workflow.services import person_set_role

pytestmark = pytest.mark.django_db

LONGER = {**DEFAULTS, "engagement_window_days": 45}


def proposed(by, settings=LONGER):
    version = services.definitions_version_create(settings=settings, name="45 days", by=by)
    return services.definitions_version_submit(version=version, by=by)


def test_signed_off_by_one_side_only_it_does_not_take_effect(people, the_cycle):
    version = proposed(people.marketer)  # marketing's approval, by submission

    services.definitions_sign_off(version=version, by=people.marketing_approver, approve=True)

    assert DefinitionsVersion.objects.get(pk=version.pk).state == DefinitionsState.IN_REVIEW
    assert definitions_effective().number == 1
    assert snapshot_take(cycle=the_cycle).settings["engagement_window_days"] == 30


def test_signed_off_by_both_sides_it_takes_effect_for_the_next_snapshots_only(
    people, the_cycle, django_capture_on_commit_callbacks
):
    yesterday = snapshot_take(cycle=the_cycle, as_of=timezone.now() - timedelta(days=1))
    version = proposed(people.marketer)

    with django_capture_on_commit_callbacks(execute=True):  # today's snapshots are taken again
        services.definitions_sign_off(version=version, by=people.sales_approver, approve=True)

    assert definitions_effective() == version
    assert DefinitionsVersion.objects.get(number=1).state == DefinitionsState.SUPERSEDED
    latest = the_cycle.coverage_snapshots.filter(state="done").latest("pk")
    assert latest.definitions_version == version
    assert latest.settings["engagement_window_days"] == 45
    yesterday.refresh_from_db()  # kept, with the version it was computed with
    assert yesterday.definitions_version.number == 1
    assert yesterday.settings["engagement_window_days"] == 30


def test_each_step_is_in_the_versions_history(people):
    version = proposed(people.marketer)
    services.definitions_sign_off(
        version=version, by=people.sales_approver, approve=False, note="Keep 30 days"
    )

    assert list(
        DefinitionsEvent.objects.filter(version=version).values_list("action", "to_state")
    ) == [
        (AgreementAction.CREATED, "draft"),
        (AgreementAction.SUBMITTED, "in_review"),
        (AgreementAction.APPROVED, "in_review"),
        (AgreementAction.REJECTED, "rejected"),
    ]
    assert definitions_effective().number == 1


def test_settings_are_checked_and_only_approvers_sign(people):
    with pytest.raises(Invalid):
        services.definitions_version_create(
            settings={**DEFAULTS, "follow_up_days": 0}, by=people.marketer
        )
    version = proposed(people.marketer)

    with pytest.raises(NotAllowed):
        services.definitions_sign_off(version=version, by=people.sales_member, approve=True)
    with pytest.raises(NotAllowed):
        services.definitions_sign_off(version=version, by=people.ops, approve=True)


def test_approvers_sign_off_on_the_definitions_page(people, client):
    version = proposed(people.marketer)
    client.force_login(people.sales_approver)

    page = client.get("/coverage/definitions/").content.decode()
    assert "Approve for" in page and "45 days" in page

    response = client.post(f"/coverage/definitions/{version.pk}/sign-off/", {"decision": "approve"})

    assert response.status_code == 302
    assert definitions_effective() == version


def test_people_who_may_not_decide_see_no_form(people, client):
    proposed(people.marketer)
    client.force_login(people.sales_member)

    page = client.get("/coverage/definitions/").content.decode()

    assert "Waiting." in page and "Approve for" not in page


def test_ops_draft_and_submit_new_settings_in_the_admin(people, client):
    import json

    ops, _ = person_set_role(username="opal", role="ops")
    client.force_login(ops)

    client.post(
        "/admin/coverage/definitionsversion/add/",
        {"name": "Two weeks follow-up", "settings": json.dumps(LONGER)},
    )
    draft = DefinitionsVersion.objects.get(number=2)
    client.post(
        "/admin/coverage/definitionsversion/",
        {"action": "submit", "_selected_action": [draft.pk]},
    )

    draft = DefinitionsVersion.objects.get(pk=draft.pk)
    assert (draft.state, draft.proposed_by) == (DefinitionsState.IN_REVIEW, ops)
    assert not draft.sign_offs.exists()  # ops count for no side
