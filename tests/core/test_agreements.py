"""The one sign-off mechanism of agreed definitions (core.agreements), shown on the ideal
customer profile: a declared state machine, an append-only event for each step, a row lock
against concurrent sign-offs, and what follows an agreement queued after commit."""

import threading

import pytest
from django.db import connection
from django_fsm import TransitionNotAllowed

from accounts_app import services
from accounts_app.models import Account, IcpEvent, IcpState, IcpVersion
from core.errors import Conflict, NotAllowed
from core.models import AgreementAction
from coverage.definitions import DEFAULTS
from tests.factories import AccountFactory, cycle, person

SOFTWARE = {"industries": {"values": ["Software"], "weight": 1}}


def draft(by, criteria=SOFTWARE):
    return services.icp_version_create(name="Software first", criteria=criteria, by=by)


def actions(version) -> list[tuple[str, str, str]]:
    return [
        (e.action, e.from_state, e.to_state)
        for e in IcpEvent.objects.filter(icp_version=version).order_by("pk")
    ]


@pytest.mark.django_db
def test_every_step_writes_an_event_with_who_and_which_side(people):
    version = draft(people.marketer)
    services.icp_version_submit(icp_version=version, by=people.marketer)
    services.icp_sign_off(icp_version=version, by=people.sales_approver, approve=True)

    assert actions(version) == [
        (AgreementAction.CREATED, "", "draft"),
        (AgreementAction.SUBMITTED, "draft", "in_review"),
        (AgreementAction.APPROVED, "in_review", "in_review"),  # the proposer's own approval
        (AgreementAction.APPROVED, "in_review", "in_review"),
        (AgreementAction.TOOK_EFFECT, "in_review", "effective"),
    ]
    sides = list(
        IcpEvent.objects.filter(icp_version=version, action=AgreementAction.APPROVED)
        .order_by("pk")
        .values_list("actor__username", "actor_side")
    )
    assert sides == [("mara", "marketing"), ("sam", "sales")]


@pytest.mark.django_db
def test_a_rejection_and_a_superseded_version_are_in_the_history(people):
    first = draft(people.marketer)
    services.icp_version_submit(icp_version=first, by=people.marketer)
    services.icp_sign_off(icp_version=first, by=people.sales_approver, approve=True)
    second = draft(people.sales_approver)
    services.icp_version_submit(icp_version=second, by=people.sales_approver)
    services.icp_sign_off(icp_version=second, by=people.marketing_approver, approve=True)
    third = draft(people.marketer)
    services.icp_version_submit(icp_version=third, by=people.marketer)
    services.icp_sign_off(
        icp_version=third, by=people.sales_approver, approve=False, note="Too narrow"
    )

    assert actions(first)[-1] == (AgreementAction.SUPERSEDED, "effective", "superseded")
    assert actions(third)[-1] == (AgreementAction.REJECTED, "in_review", "rejected")
    assert IcpEvent.objects.filter(icp_version=third).last().note == "Too narrow"


@pytest.mark.django_db
def test_the_state_changes_only_through_its_declared_transitions(people):
    version = draft(people.marketer)

    with pytest.raises(AttributeError):
        version.state = IcpState.EFFECTIVE  # no shortcut past the sign-offs
    with pytest.raises(TransitionNotAllowed):
        version.take_effect()  # a draft cannot take effect


@pytest.mark.django_db
def test_events_are_append_only(people):
    draft(people.marketer)
    event = IcpEvent.objects.get()

    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        IcpEvent.objects.update(note="rewritten")
    with pytest.raises(TypeError):
        IcpEvent.objects.all().delete()


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize(
    "table", ["accounts_app_icpevent", "coverage_definitionsevent", "workflow_cycleevent"]
)
def test_events_are_append_only_in_postgresql_itself(people, table):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's trigger")
    from django.db import DatabaseError, transaction

    from coverage.services import definitions_version_create
    from workflow.models import CycleState
    from workflow.services import cycle_set_state

    draft(people.marketer)
    definitions_version_create(settings=dict(DEFAULTS), by=people.marketer)
    cycle_set_state(
        cycle=cycle("FY29", state=CycleState.PLANNING), state=CycleState.ACTIVE, by=people.ops
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        assert cursor.fetchone()[0] >= 1
    for statement in (f"UPDATE {table} SET note = 'rewritten'", f"DELETE FROM {table}"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)


@pytest.mark.django_db
def test_people_outside_the_sides_cannot_draft_and_ops_cannot_sign(people):
    nobody = person("nora", side=None)
    with pytest.raises(NotAllowed):
        draft(nobody)
    version = draft(people.ops)
    services.icp_version_submit(icp_version=version, by=people.ops)

    with pytest.raises(NotAllowed):
        services.icp_sign_off(icp_version=version, by=people.ops, approve=True)
    assert not version.sign_offs.exists()


@pytest.mark.django_db
def test_rescoring_runs_after_commit_and_records_its_progress(
    people, django_capture_on_commit_callbacks
):
    software = AccountFactory(industry="Software", fit_score=None)
    AccountFactory.create_batch(4, industry="Retail", fit_score=None)
    version = draft(people.marketer)
    services.icp_version_submit(icp_version=version, by=people.marketer)

    with django_capture_on_commit_callbacks() as callbacks:
        services.icp_sign_off(icp_version=version, by=people.sales_approver, approve=True)
        # Inside the transaction nothing is rescored yet: the request stays quick.
        assert Account.objects.get(pk=software.pk).fit_score is None
    assert IcpVersion.objects.get(pk=version.pk).rescoring
    for callback in callbacks:
        callback()

    version = IcpVersion.objects.get(pk=version.pk)
    assert (version.rescore_done, version.rescore_total) == (5, 5)
    assert version.rescored_at is not None and not version.rescoring
    assert Account.objects.get(pk=software.pk).fit_score == 100
    assert set(Account.objects.exclude(pk=software.pk).values_list("fit_score", flat=True)) == {0}


@pytest.mark.django_db
def test_the_profile_page_shows_the_rescoring_while_it_runs(people, client):
    version = draft(people.marketer)
    services.icp_version_submit(icp_version=version, by=people.marketer)
    AccountFactory.create_batch(3)
    services.icp_sign_off(icp_version=version, by=people.sales_approver, approve=True)
    IcpVersion.objects.filter(pk=version.pk).update(rescore_done=1, rescore_total=3)
    client.force_login(people.sales_member)

    page = client.get("/icp/").content.decode()

    assert "Recomputing every account" in page and "1 of 3 accounts done" in page


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sign_offs_make_a_profile_effective_once():
    if connection.vendor != "postgresql":
        pytest.skip("a row lock race needs PostgreSQL")
    proposer = person("mara", side="marketing")
    approvers = [person(f"s{i}", side="sales", approver=True) for i in range(4)]
    approvers += [person(f"m{i}", side="marketing", approver=True) for i in range(4)]
    version = draft(proposer)
    services.icp_version_submit(icp_version=version, by=proposer)
    barrier = threading.Barrier(len(approvers))
    errors = []

    def sign(who):
        try:
            barrier.wait(timeout=10)
            services.icp_sign_off(icp_version=version, by=who, approve=True)
        except Conflict as error:  # arrived after it took effect: refused, as it should be
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=sign, args=(who,)) for who in approvers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    version = IcpVersion.objects.get(pk=version.pk)
    assert version.state == IcpState.EFFECTIVE
    assert IcpEvent.objects.filter(icp_version=version, action="took_effect").count() == 1
    assert version.sign_offs.count() + len(errors) == len(approvers)
    assert IcpEvent.objects.filter(icp_version=version, action="approved").count() == (
        version.sign_offs.count()
    )
