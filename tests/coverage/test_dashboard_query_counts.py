"""The dashboard, its table, the account page and the nomination page cost the same number of
SQL queries with 10 or 1,000 target accounts (and with 10 or 1,000 contacts and activities on
the account shown): they read stored aggregates, paginate, and fetch related rows in bulk."""

from datetime import timedelta

from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from accounts_app.models import Activity, Contact, ContactRole
from coverage.services import snapshot_take
from tests.coverage.dashboard_helpers import client_for
from tests.coverage.test_query_counts import grow_list, queries
from workflow.models import TargetAccount


def grow_account(account, n: int, start: int) -> None:
    """`n` more contacts on the account, each in a role and with one touch of each side."""
    contacts = Contact.objects.bulk_create(
        Contact(account=account, first_name=f"P{i}", email=f"p{i}@{account.domain}")
        for i in range(start, start + n)
    )
    roles = ("decision_maker", "champion", "budget_holder", "influencer")
    ContactRole.objects.bulk_create(
        ContactRole(contact=c, role=roles[i % len(roles)]) for i, c in enumerate(contacts)
    )
    now = timezone.now()
    Activity.objects.bulk_create(
        Activity(
            account=account,
            contact=c,
            kind="email",
            side=side,
            occurred_at=now - timedelta(days=i % 60),
        )
        for i, c in enumerate(contacts)
        for side in ("marketing", "sales")
    )


def test_the_coverage_pages_cost_the_same_at_10_and_1000_accounts(people, the_cycle):
    the_cycle.tiers.update(required_roles=["decision_maker", "champion", "budget_holder"])
    grow_list(people, the_cycle, 10)
    seed = TargetAccount.objects.filter(cycle=the_cycle).order_by("pk").first()
    grow_account(seed.account, 10, 0)
    snapshot_take(cycle=the_cycle)
    urls = [
        reverse("coverage:dashboard", args=[the_cycle.pk]),
        reverse("coverage:accounts", args=[the_cycle.pk]),
        reverse("coverage:accounts", args=[the_cycle.pk]) + "?tier=2&gap=single_threaded",
        reverse("coverage:accounts", args=[the_cycle.pk]) + "?action=me&sort=-stage",
        reverse("accounts_app:account", args=[seed.account_id]),
        reverse("workflow:nomination", args=[seed.nomination_id]),
    ]
    clients = [client_for(people.sales_member), client_for(people.ops)]

    def measure():
        cache.clear()
        cold = [queries(lambda c=c, u=urls[0]: c.get(u)) for c in clients]
        warm = [queries(lambda c=c, u=u: c.get(u)) for c in clients for u in urls]
        return cold, warm

    for client in clients:
        client.get(urls[0])  # the session and groups are cached after the first request
    small = measure()

    grow_list(people, the_cycle, 990)
    grow_account(seed.account, 990, 10)
    snapshot_take(cycle=the_cycle)
    large = measure()

    assert TargetAccount.objects.filter(cycle=the_cycle).count() == 1001
    assert large == small
