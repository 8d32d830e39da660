"""`manage.py demo_data`: the data the README's run command shows a new user."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.http import HttpRequest

from accounts_app.models import Account, IcpState, IcpVersion
from core.roles import is_approver, is_ops, side_of
from tests.factories import AccountFactory
from workflow.models import (
    Comment,
    Cycle,
    ListVersion,
    Nomination,
    NominationEvent,
    NominationKind,
    SignOff,
    State,
    TargetAccount,
)
from workflow.selectors import list_version_diff

User = get_user_model()

pytestmark = pytest.mark.django_db


def demo_data() -> str:
    out = StringIO()
    call_command("demo_data", stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The demo, loaded once for the tests of this module and rolled back after them (each
    test runs in a savepoint inside this transaction)."""
    with django_db_blocker.unblock(), transaction.atomic():
        output = demo_data()
        yield output
        transaction.set_rollback(True)


def counts() -> dict:
    models = (User, Account, Nomination, SignOff, Comment, NominationEvent, ListVersion)
    return {model.__name__: model.objects.count() for model in (*models, TargetAccount)}


# First: it needs a database without the demo (the module's `demo` is not loaded yet).
def test_it_leaves_a_database_with_other_data_alone():
    AccountFactory(domain="ours.example")

    out = demo_data()

    assert "Not loading the demo data" in out
    assert Account.objects.count() == 1
    assert not Cycle.objects.exists()


def test_it_loads_once_and_then_only_prints_the_sign_ins(demo, client):
    first = demo
    loaded = counts()
    second = demo_data()

    assert counts() == loaded
    assert "The demo data is already loaded." in second
    for out in (first, second):
        assert "maya      marketing  yes       accord-demo" in out
        assert "sara      sales      no        accord-demo" in out
        assert "olivia    ops        —         accord-demo" in out
        assert "admin     superuser  —         accord-demo" in out
        assert "http://127.0.0.1:8000/" in out
    assert client.login(request=HttpRequest(), username="sam", password="accord-demo")


def test_it_has_people_on_both_sides_ops_and_an_admin(demo):
    people = list(User.objects.exclude(username="admin"))
    sides = [side_of(p) for p in people]
    assert sides.count("marketing") == 6 and sides.count("sales") == 6
    assert len([p for p in people if is_ops(p)]) == 2
    assert {side_of(p) for p in people if is_approver(p)} == {"marketing", "sales"}
    assert any(side_of(p) and not is_approver(p) for p in people)
    assert all(p.email for p in people)
    assert User.objects.get(username="admin").is_superuser


def test_it_has_300_scored_accounts_against_an_agreed_profile(demo):
    assert Account.objects.count() == 300
    assert Account.objects.filter(fit_score__isnull=True).count() == 0
    assert Account.objects.values("industry").distinct().count() >= 5
    effective = IcpVersion.objects.get(state=IcpState.EFFECTIVE)
    assert {s.side for s in effective.sign_offs.all()} == {"marketing", "sales"}


def test_its_cycle_has_nominations_in_every_state_and_two_published_versions(demo):
    cycle = Cycle.objects.get(name="FY27 H1")
    nominations = Nomination.objects.filter(cycle=cycle)
    assert set(nominations.values_list("state", flat=True)) == set(State.values)
    approved = nominations.filter(state=State.APPROVED)
    assert approved.filter(kind=NominationKind.CHANGE_TIER).exists()
    assert approved.filter(kind=NominationKind.REMOVE).exists()
    assert nominations.filter(state=State.IN_REVIEW, round=2).exists()  # resubmitted
    assert Comment.objects.filter(mentions__isnull=False).exists()
    v1, v2 = ListVersion.objects.filter(cycle=cycle).order_by("number")
    diff = list_version_diff(old=v1, new=v2)
    assert diff.added and diff.removed and diff.tier_changed
    assert (
        len(v2.entries)
        == TargetAccount.objects.filter(cycle=cycle, removed_at__isnull=True).count()
    )


def test_it_refuses_to_run_in_production(settings):
    from django.core.management.base import CommandError

    settings.PRODUCTION = True
    before = counts()

    with pytest.raises(CommandError, match="ACCORD_ENV=production"):
        call_command("demo_data", stdout=StringIO())

    assert counts() == before
