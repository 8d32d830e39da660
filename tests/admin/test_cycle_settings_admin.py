"""The cycle change form and its tier inline save through workflow.services.cycle_update: a
capacity below the accounts already on a tier is a form error, each change is in the cycle's
history, and a lowered quorum approves what both sides now agree on."""

import pytest

from tests.admin.helpers import agree, nominate
from tests.factories import AccountFactory, cycle
from workflow import services
from workflow.models import CycleEvent, State, Tier

pytestmark = pytest.mark.django_db


def form_data(response) -> dict:
    """What the browser would post back for the change page in `response`, unchanged."""
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    data = {}
    for form in forms:
        for field in form:
            value = field.value()
            if value is None or value is False:
                continue
            data[field.html_name] = "on" if value is True else value
    return data


def change_page(client, obj, model="cycle"):
    url = f"/admin/workflow/{model}/{obj.pk}/change/"
    response = client.get(url)
    assert response.status_code == 200
    return url, form_data(response)


def tier_prefix(data, tier: Tier) -> str:
    return next(
        k.removesuffix("-id")
        for k, v in data.items()
        if k.endswith("-id") and str(v) == str(tier.pk)
    )


def test_a_capacity_below_the_accounts_on_a_tier_is_a_form_error(ops, people, the_cycle):
    agree(the_cycle, people, tier=1)
    agree(the_cycle, people, tier=1)
    url, data = change_page(ops, the_cycle)
    data[f"{tier_prefix(data, the_cycle.tiers.get(number=1))}-capacity"] = "1"

    response = ops.post(url, data)

    assert response.status_code == 200  # the form again, not a 500 or a redirect
    html = response.content.decode()
    assert "Tier 1 of FY27 H1 has 2 accounts on the list" in html
    assert "errorlist" in html
    assert Tier.objects.get(cycle=the_cycle, number=1).capacity == 50
    assert not CycleEvent.objects.filter(cycle=the_cycle).exists()


def test_the_tier_page_refuses_it_too(ops, people, the_cycle):
    agree(the_cycle, people, tier=2)
    tier = the_cycle.tiers.get(number=2)
    url, data = change_page(ops, tier, model="tier")
    data["capacity"] = "0"

    response = ops.post(url, data)

    assert response.status_code == 200
    assert "Tier 2 of FY27 H1 has 1 account on the list" in response.content.decode()
    assert Tier.objects.get(pk=tier.pk).capacity == 100


def test_a_change_is_kept_in_the_cycles_history_with_who_and_what(ops, ops_user, the_cycle):
    url, data = change_page(ops, the_cycle)
    data["reminder_after_hours"] = "24"
    data[f"{tier_prefix(data, the_cycle.tiers.get(number=3))}-capacity"] = "150"

    response = ops.post(url, data)

    assert response.status_code == 302
    event = CycleEvent.objects.get(cycle=the_cycle)
    assert (event.action, event.actor) == ("settings_changed", ops_user)
    assert event.changes == [
        {"field": "reminder_after_hours", "tier": None, "old": 72, "new": 24},
        {"field": "capacity", "tier": 3, "old": 200, "new": 150},
    ]
    history = ops.get(url).content.decode()
    assert "Settings changed" in history
    assert "Reminder after (hours) 72 → 24; Tier 3 capacity 200 → 150" in history
    listing = ops.get("/admin/workflow/cycleevent/").content.decode()
    assert "Tier 3 capacity 200 → 150" in listing


def test_lowering_a_quorum_in_the_admin_approves_a_ready_nomination(ops, people):
    c = cycle("FY27 H2", sales_quorum=2)
    n = nominate(c, people.marketer, account=AccountFactory())
    services.nomination_sign_off(nomination=n, by=people.sales_approver, decision="approve")
    url, data = change_page(ops, c)
    data["sales_quorum"] = "1"

    assert ops.post(url, data).status_code == 302

    n.refresh_from_db()
    assert n.state == State.APPROVED
    assert c.targets.filter(account=n.account, removed_at__isnull=True).exists()


def test_a_lowering_the_list_refuses_is_shown_and_changes_nothing(ops, people):
    c = cycle("FY27 H2", sales_quorum=2, capacities=(0, 10, 10))
    n = nominate(c, people.marketer, account=AccountFactory(), tier=1)
    services.nomination_sign_off(nomination=n, by=people.sales_approver, decision="approve")
    url, data = change_page(ops, c)
    data["sales_quorum"] = "1"

    response = ops.post(url, data, follow=True)

    assert "Lowering the quorum would approve" in response.content.decode()
    c.refresh_from_db()
    assert c.sales_quorum == 2
    n.refresh_from_db()
    assert n.state == State.IN_REVIEW
