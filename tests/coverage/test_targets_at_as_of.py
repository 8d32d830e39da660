"""A snapshot covers the list as it stood at `as_of`: an account removed before is left out,
one added after is not yet in."""

from datetime import timedelta

from coverage.models import AccountCoverage
from coverage.services import snapshot_take
from tests.coverage.helpers import at
from tests.factories import AccountFactory
from tests.workflow.helpers import decide, nominate, put_on_list


def names(snapshot):
    return sorted(
        AccountCoverage.objects.filter(snapshot=snapshot).values_list("account__name", flat=True)
    )


def test_it_covers_the_list_as_it_stood_at_as_of(people, the_cycle):
    kept = AccountFactory(name="Kept")
    removed = AccountFactory(name="Removed")
    late = AccountFactory(name="Late")
    put_on_list(people, the_cycle, kept)
    put_on_list(people, the_cycle, removed)
    decide(nominate(people.marketer, the_cycle, removed, kind="remove"), people.sales_approver)
    as_of = removed.targets.get().removed_at + timedelta(minutes=1)
    with at(as_of + timedelta(hours=1)):
        put_on_list(people, the_cycle, late)

    assert names(snapshot_take(cycle=the_cycle, as_of=as_of)) == ["Kept"]
    assert names(snapshot_take(cycle=the_cycle, as_of=as_of + timedelta(hours=2))) == [
        "Kept",
        "Late",
    ]
