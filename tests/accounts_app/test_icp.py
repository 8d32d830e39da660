"""An ideal customer profile takes effect only when both sides have signed it off; then it
supersedes the previous one and every account is scored against it."""

import pytest

from accounts_app import services
from accounts_app.models import Account, IcpSignOff, IcpState, IcpVersion
from core.errors import Conflict, Invalid, NotAllowed
from tests.factories import AccountFactory, person

SOFTWARE = {"industries": {"values": ["Software"], "weight": 1}}
RETAIL = {"industries": {"values": ["Retail"], "weight": 1}}


def draft(by, criteria=SOFTWARE, name="Software first"):
    return services.icp_version_create(name=name, criteria=criteria, by=by)


def proposed(by, criteria=SOFTWARE):
    return services.icp_version_submit(icp_version=draft(by, criteria), by=by)


def sign(version, by, approve=True, note=""):
    return services.icp_sign_off(icp_version=version, by=by, approve=approve, note=note)


def state_of(version):
    return IcpVersion.objects.get(pk=version.pk).state


def test_it_drafts_numbered_versions(people):
    first = draft(people.marketer)
    second = draft(people.sales_member, name="  ")

    assert (first.number, first.state) == (1, IcpState.DRAFT)
    assert (second.number, second.name) == (2, "ICP v2")


def test_it_refuses_an_invalid_profile(people):
    with pytest.raises(Invalid, match="Unknown criteria: colour") as error:
        draft(people.marketer, criteria={"colour": {"values": ["red"], "weight": 1}})

    assert error.value.field == "criteria"
    assert not IcpVersion.objects.exists()


def test_it_refuses_a_draft_from_someone_without_a_side(db):
    with pytest.raises(NotAllowed):
        draft(person("ola", side=None))


def test_one_sides_approval_is_not_enough(people):
    version = proposed(people.marketer)
    sign(version, people.marketing_approver)

    assert state_of(version) == IcpState.IN_REVIEW
    assert services.effective_icp() is None


def test_it_takes_effect_when_both_sides_approve(people):
    version = proposed(people.marketer)

    sign(version, people.sales_approver)

    version = IcpVersion.objects.get(pk=version.pk)
    assert version.state == IcpState.EFFECTIVE
    assert version.effective_at is not None
    assert services.effective_icp() == version


def test_it_counts_the_submitter_only_if_they_are_an_approver(people):
    version = proposed(people.marketing_member)
    assert not IcpSignOff.objects.filter(icp_version=version).exists()

    sign(version, people.sales_approver)
    assert state_of(version) == IcpState.IN_REVIEW, "no marketing approver has signed"

    sign(version, people.marketing_approver)
    assert state_of(version) == IcpState.EFFECTIVE


def test_it_supersedes_the_previous_profile_and_rescores_every_account(
    people, django_capture_on_commit_callbacks
):
    software = AccountFactory(industry="Software", fit_score=None)
    retail = AccountFactory(industry="Retail", fit_score=None)
    first = proposed(people.marketer, SOFTWARE)
    with django_capture_on_commit_callbacks(execute=True):  # the rescoring task, after commit
        sign(first, people.sales_approver)
    assert Account.objects.get(pk=software.pk).fit_score == 100
    assert Account.objects.get(pk=retail.pk).fit_score == 0

    second = proposed(people.marketer, RETAIL)
    with django_capture_on_commit_callbacks(execute=True):
        sign(second, people.sales_approver)

    assert state_of(first) == IcpState.SUPERSEDED
    assert state_of(second) == IcpState.EFFECTIVE
    assert Account.objects.get(pk=software.pk).fit_score == 0
    assert Account.objects.get(pk=retail.pk).fit_score == 100


def test_a_rejection_from_either_side_rejects_it(people):
    software = AccountFactory(industry="Software", fit_score=None)
    version = proposed(people.marketer)

    sign(version, people.sales_approver, approve=False, note="Too narrow")

    assert state_of(version) == IcpState.REJECTED
    assert services.effective_icp() is None
    assert Account.objects.get(pk=software.pk).fit_score is None
    with pytest.raises(Conflict):
        sign(version, people.sales_approver_2)


def test_a_rejection_needs_a_reason(people):
    version = proposed(people.marketer)

    with pytest.raises(Invalid) as error:
        sign(version, people.sales_approver, approve=False, note=" ")

    assert error.value.field == "note"
    assert state_of(version) == IcpState.IN_REVIEW


def test_a_rejected_profile_leaves_the_effective_one_in_place(people):
    first = proposed(people.marketer, SOFTWARE)
    sign(first, people.sales_approver)
    second = proposed(people.marketer, RETAIL)

    sign(second, people.marketing_approver, approve=False, note="Retail is not us")

    assert state_of(first) == IcpState.EFFECTIVE
    assert state_of(second) == IcpState.REJECTED


def test_it_takes_one_sign_off_per_person(people):
    version = proposed(people.marketer)

    with pytest.raises(NotAllowed, match="already signed off"):
        sign(version, people.marketer)


@pytest.mark.parametrize("who", ["sales_member", "ops"])
def test_it_refuses_a_sign_off_from_a_non_approver(people, who):
    version = proposed(people.marketer)

    with pytest.raises(NotAllowed):
        sign(version, getattr(people, who))

    assert state_of(version) == IcpState.IN_REVIEW


def test_it_signs_off_only_profiles_in_review(people):
    version = draft(people.marketer)

    with pytest.raises(Conflict, match="only profiles in review"):
        sign(version, people.sales_approver)


def test_only_the_author_or_ops_submit_a_draft(people):
    version = draft(people.marketer)

    with pytest.raises(NotAllowed):
        services.icp_version_submit(icp_version=version, by=people.sales_approver)

    services.icp_version_submit(icp_version=version, by=people.ops)
    assert state_of(version) == IcpState.IN_REVIEW
    assert not IcpSignOff.objects.filter(icp_version=version).exists(), "ops count for no side"
    with pytest.raises(Conflict, match="not a draft"):
        services.icp_version_submit(icp_version=version, by=people.ops)
