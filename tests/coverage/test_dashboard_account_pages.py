"""What the account page and the nomination page show of coverage: the buying committee of
the account's tier, its engagement by side, its stage history, and the latest snapshot's facts
on the nomination both sides discuss."""

import re
from datetime import timedelta

from django.urls import reverse

from coverage.services import snapshot_take
from tests.coverage.dashboard_helpers import client_for, html_of
from tests.coverage.helpers import DAY, touch
from tests.workflow.helpers import nominate
from workflow.models import TargetAccount


def account_page(user, account) -> str:
    return html_of(client_for(user).get(reverse("accounts_app:account", args=[account.pk])))


def test_the_account_page_shows_the_committee_its_tier_requires(world, people):
    html = account_page(people.marketing_member, world.accounts["Bravo"])
    committee = html[html.index(f'data-testid="committee-{world.cycle.pk}"') :]
    committee = committee[: committee.index("</ul>")]
    assert "Tier 1" in committee
    assert "1 of 3 required roles covered" in committee
    decision_maker = re.search(r'data-role="decision_maker">(.*?)</li>', committee, re.S).group(1)
    assert "missing" not in decision_maker
    champion = re.search(r'data-role="champion">(.*?)</li>', committee, re.S).group(1)
    assert "missing" in champion
    assert "list-group-item-danger" in committee


def test_a_contact_in_two_roles_covers_both(world, people):
    html = account_page(people.sales_member, world.accounts["Acme"])
    committee = html[html.index(f'data-testid="committee-{world.cycle.pk}"') :]
    assert "3 of 3 required roles covered" in committee
    c1 = world.accounts["Acme"].contacts.order_by("pk").first()
    for role in ("decision_maker", "champion"):
        cell = re.search(rf'data-role="{role}">(.*?)</li>', committee, re.S).group(1)
        assert str(c1) in cell


def test_the_engagement_timeline_shows_each_side_newest_first_for_90_days(world, people):
    acme = world.accounts["Acme"]
    touch(acme, "marketing", world.as_of - 100 * DAY, kind="event")  # too old to show
    html = account_page(people.sales_member, acme)
    timeline = html[html.index('data-testid="timeline"') :]
    timeline = timeline[: timeline.index("</table>")]
    sides = re.findall(r'<tr data-side="(\w+)">', timeline)
    # Acme: sales 3 days ago, marketing 5 days ago, sales 10 days ago.
    assert sides == ["sales", "marketing", "sales"]
    assert "Meeting" in timeline and "Call" in timeline
    assert "Event" not in timeline


def test_the_account_page_shows_its_stage_history_from_the_snapshots(world, people):
    bravo = world.accounts["Bravo"]
    # The list was agreed a week ago, before the first snapshot.
    TargetAccount.objects.filter(cycle=world.cycle).update(added_at=world.as_of - 7 * DAY)
    snapshot_take(cycle=world.cycle, as_of=world.as_of - timedelta(days=2))
    # Sales calls twice: with the marketing touch, Bravo is engaged.
    touch(bravo, "sales", world.as_of - timedelta(days=1), kind="call")
    snapshot_take(cycle=world.cycle, as_of=world.as_of)
    html = account_page(people.marketing_member, bravo)
    history = html[html.index('data-testid="stage-history"') :]
    history = history[: history.index("</table>")]
    assert re.findall(r"stage-badge stage-(\w+)", history) == ["engaged", "aware"]


def test_the_nomination_page_shows_the_latest_snapshot_of_its_account(world, people):
    snapshot_take(cycle=world.cycle, as_of=world.as_of)
    bravo = TargetAccount.objects.get(cycle=world.cycle, account=world.accounts["Bravo"])
    change = nominate(people.sales_approver, world.cycle, bravo.account, kind="change_tier", tier=2)
    html = html_of(
        client_for(people.marketing_member).get(reverse("workflow:nomination", args=[change.pk]))
    )
    panel = html[html.index('data-testid="nomination-coverage"') :]
    panel = panel[: panel.index('id="account"')]
    assert "33% covered" in panel
    assert "Aware" in panel
    touches = re.sub(r"\s+", " ", panel)
    assert "1 in 30 d · 2 in 90 d" in touches  # marketing
    assert "0 in 30 d · 0 in 90 d" in touches  # sales
    for gap in ("No sales follow-up", "Missing required role", "Single-threaded"):
        assert gap in panel


def test_the_nomination_page_of_an_account_not_yet_on_the_list_says_so(world, people, account):
    snapshot_take(cycle=world.cycle, as_of=world.as_of)
    addition = nominate(people.marketer, world.cycle, account, tier=2)
    html = html_of(
        client_for(people.sales_member).get(reverse("workflow:nomination", args=[addition.pk]))
    )
    panel = html[html.index('data-testid="nomination-coverage"') :]
    assert "Not on this cycle" in panel[:2000]
