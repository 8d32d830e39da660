"""Ops publish numbered, immutable snapshots of a cycle's list; any two can be compared."""

import datetime as dt

import pytest

from core.errors import NotAllowed
from tests.factories import AccountFactory, cycle
from tests.workflow.helpers import decide, nominate, put_on_list
from workflow import services
from workflow.models import ListVersion
from workflow.selectors import list_version_diff


def publish(cycle, people, note=""):
    return services.list_version_publish(cycle=cycle, by=people.ops, note=note)


def test_it_snapshots_the_current_list(people, the_cycle):
    acme = AccountFactory(name="Acme", domain="acme.example")
    target = put_on_list(people, the_cycle, acme, tier=2)

    version = publish(the_cycle, people, note="Kick-off")

    assert version.number == 1
    assert version.published_by == people.ops
    assert version.note == "Kick-off"
    assert version.entries == [
        {
            "account_id": acme.pk,
            "account_name": "Acme",
            "domain": "acme.example",
            "tier": 2,
            "nomination_id": target.nomination_id,
        }
    ]


def test_it_numbers_versions_per_cycle(people, the_cycle):
    numbers = [publish(the_cycle, people).number for _ in range(3)]
    other = cycle("FY27 H2", starts_on=dt.date(2027, 7, 1), ends_on=dt.date(2027, 12, 31))

    assert numbers == [1, 2, 3]
    assert publish(other, people).number == 1


def test_it_keeps_a_published_version_as_it_was(people, the_cycle, account):
    put_on_list(people, the_cycle, account, tier=2)
    v1 = publish(the_cycle, people)

    decide(nominate(people.marketer, the_cycle, account, kind="remove"), people.sales_approver)
    publish(the_cycle, people)

    assert [e["tier"] for e in ListVersion.objects.get(pk=v1.pk).entries] == [2]


@pytest.mark.parametrize("who", ["marketer", "sales_approver", "marketing_member"])
def test_only_ops_publish(people, the_cycle, who):
    with pytest.raises(NotAllowed, match="Only revenue operations"):
        services.list_version_publish(cycle=the_cycle, by=getattr(people, who))

    assert not ListVersion.objects.exists()


def test_it_shows_what_changed_between_two_versions_and_by_which_nomination(people, the_cycle):
    acme = AccountFactory(name="Acme")
    bolt = AccountFactory(name="Bolt")
    crux = AccountFactory(name="Crux")
    dyna = AccountFactory(name="Dyna")
    put_on_list(people, the_cycle, acme, tier=1)
    put_on_list(people, the_cycle, bolt, tier=2)
    put_on_list(people, the_cycle, dyna, tier=3)
    v1 = publish(the_cycle, people)

    removal = nominate(people.sales_approver, the_cycle, acme, kind="remove")
    decide(removal, people.marketer)
    move = nominate(people.sales_approver, the_cycle, bolt, kind="change_tier", tier=3)
    decide(move, people.marketer)
    addition = nominate(people.marketer, the_cycle, crux, tier=1)
    decide(addition, people.sales_approver)
    v2 = publish(the_cycle, people)

    diff = list_version_diff(old=v1, new=v2)

    assert [(e["account_name"], e["tier"], e["nomination_id"]) for e in diff.added] == [
        ("Crux", 1, addition.pk)
    ]
    assert [(e["account_name"], e["nomination_id"]) for e in diff.removed] == [("Acme", removal.pk)]
    assert [
        (e["account_name"], e["old_tier"], e["tier"], e["nomination_id"]) for e in diff.tier_changed
    ] == [("Bolt", 2, 3, move.pk)]
    assert not diff.is_empty
    # Dyna did not change, so it is in none of the three lists.
    changed = {e["account_name"] for e in diff.added + diff.removed + diff.tier_changed}
    assert "Dyna" not in changed


def test_it_compares_in_either_order(people, the_cycle, account):
    v1 = publish(the_cycle, people)
    put_on_list(people, the_cycle, account, tier=1)
    v2 = publish(the_cycle, people)

    diff = list_version_diff(old=v2, new=v1)

    assert (diff.old.number, diff.new.number) == (1, 2)
    assert [e["account_id"] for e in diff.added] == [account.pk]


def test_it_finds_no_change_between_identical_versions(people, the_cycle, account):
    put_on_list(people, the_cycle, account, tier=1)

    diff = list_version_diff(old=publish(the_cycle, people), new=publish(the_cycle, people))

    assert diff.is_empty


def test_it_refuses_to_compare_versions_of_two_cycles(people, the_cycle):
    other = cycle("FY27 H2", starts_on=dt.date(2027, 7, 1), ends_on=dt.date(2027, 12, 31))

    with pytest.raises(ValueError):
        list_version_diff(old=publish(the_cycle, people), new=publish(other, people))
