"""`manage.py crm_sandbox_demo`: the demo's HubSpot sandbox holds both funnels of the demo's
accounts, and the pull brings them in (what `python3 dev.py run` does at every start)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts_app.models import Activity, Contact, ContactRole, Opportunity
from core.roles import Side
from crm.models import SyncKind, SyncRun, SyncState
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db

ROLES = ["decision_maker", "champion", "budget_holder", "influencer", "end_user"]


@pytest.fixture
def demo_accounts(db):
    accounts = [AccountFactory(name=f"Demo {i}", domain=f"demo{i}.example") for i in range(15)]
    for i, account in enumerate(accounts):
        for j in range(3):
            ContactFactory(
                account=account,
                email=f"p{j}@{account.domain}",
                roles=[ROLES[(i + j) % len(ROLES)]],
            )
    return accounts


def sandbox_demo(*args) -> str:
    out = StringIO()
    call_command("crm_sandbox_demo", *args, stdout=out)
    return out.getvalue()


def test_the_pull_brings_contacts_in_roles_deals_and_both_funnels(hubspot, demo_accounts):
    out = sandbox_demo("--pull")

    assert "HubSpot sandbox: 15 companies, 45 contacts" in out
    [run] = SyncRun.objects.filter(kind=SyncKind.PULL)
    assert (run.state, run.failed) == (SyncState.SUCCEEDED, 0)
    # Accord's contacts are adopted, not copied, and keep at least the roles they had.
    assert Contact.objects.count() == 45
    assert not Contact.objects.filter(hubspot_contact_id="").exists()
    assert not Contact.objects.filter(roles__isnull=True).exists()
    several = Contact.objects.filter(roles__isnull=False).values("pk").distinct()
    assert ContactRole.objects.count() > several.count()  # some hold two roles
    assert set(Opportunity.objects.values_list("status", flat=True)) == {"open", "won", "lost"}
    kinds = dict(Activity.objects.values_list("kind", "side").distinct())
    assert {"call", "meeting", "email"} <= set(kinds)
    assert {"web_visit", "email_click", "form_fill"} <= set(kinds)
    assert set(Activity.objects.values_list("side", flat=True)) == {Side.MARKETING, Side.SALES}
    oldest = Activity.objects.order_by("occurred_at").first().occurred_at
    assert oldest >= timezone.now() - timedelta(days=121)
    assert not Activity.objects.filter(contact__isnull=True).exists()


def test_a_restarted_sandbox_is_filled_and_pulled_again_without_duplicates(hubspot, demo_accounts):
    sandbox_demo("--pull")
    activities = Activity.objects.count()
    assert "holds contacts already" in sandbox_demo()

    hubspot.reset()  # what a restart of the in-memory sandbox does
    sandbox_demo("--pull")

    last = SyncRun.objects.filter(kind=SyncKind.PULL).latest("pk")
    assert (last.state, last.failed) == (SyncState.SUCCEEDED, 0)
    assert Contact.objects.count() == 45
    # Deals and touches of the sandbox's previous life are gone, not kept beside the new.
    assert Opportunity.objects.count() == len(hubspot.objects("deals")["results"])
    assert Activity.objects.count() == activities
