"""Ops open a planning period with three tiers, quorums and reminder delays."""

import datetime as dt

import pytest

from core.errors import Conflict, Invalid, NotAllowed
from workflow import services
from workflow.models import Cycle

JAN, JUN = dt.date(2028, 1, 1), dt.date(2028, 6, 30)


def create(by, **kw):
    fields = {
        "name": "FY28 H1",
        "starts_on": JAN,
        "ends_on": JUN,
        "capacities": {1: 20, 2: 50, 3: 100},
        **kw,
    }
    return services.cycle_create(by=by, **fields)


def test_it_opens_a_cycle_with_three_tiers(people):
    c = create(
        people.ops,
        marketing_quorum=2,
        proposer_counts=False,
        required_roles={1: ["decision_maker", "champion"]},
    )

    c = Cycle.objects.get(pk=c.pk)
    assert (c.marketing_quorum, c.sales_quorum, c.proposer_counts) == (2, 1, False)
    assert [(t.number, t.capacity, t.required_roles) for t in c.tiers.all()] == [
        (1, 20, ["decision_maker", "champion"]),
        (2, 50, []),
        (3, 100, []),
    ]


def test_only_ops_open_cycles(people):
    with pytest.raises(NotAllowed):
        create(people.marketer)

    assert not Cycle.objects.exists()


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"name": " "}, "name"),
        ({"ends_on": JAN}, "ends_on"),
        ({"capacities": {1: 20, 2: 50}}, "capacities"),
        ({"capacities": {1: 20, 2: -1, 3: 5}}, "capacities"),
        ({"sales_quorum": 0}, "sales_quorum"),
        ({"marketing_quorum": 0}, "marketing_quorum"),
        ({"reminder_after_hours": 48, "escalate_after_hours": 24}, "escalate_after_hours"),
        ({"reminder_after_hours": 200}, "escalate_after_hours"),
    ],
)
def test_it_explains_an_invalid_cycle(people, fields, field):
    with pytest.raises(Invalid) as error:
        create(people.ops, **fields)

    assert error.value.field == field
    assert not Cycle.objects.exists()


def test_it_refuses_a_second_cycle_of_the_same_name(people):
    create(people.ops)

    with pytest.raises(Conflict, match="already exists"):
        create(people.ops)
