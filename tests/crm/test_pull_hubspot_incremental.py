"""The HubSpot pull is incremental: it reads what changed since the last pull, in id order, past
the search API's 10,000-result cap, resumes where a pull cut short stopped, and never reads an
object type twice at once."""

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from accounts_app.models import BuyingRole, Contact
from crm.models import PullCursor, SyncState
from tests.crm.helpers import TOKEN
from tests.crm.pull_helpers import link_hubspot, pull, searches, seed_hubspot
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def globex_with_contacts(hubspot):
    AccountFactory(name="Globex", domain="globex.example")
    [company] = seed_hubspot(hubspot, "companies", {"name": "Globex", "domain": "globex.example"})
    ids = seed_hubspot(
        hubspot,
        "contacts",
        *[{"email": f"p{i}@globex.example", "jobtitle": "Buyer"} for i in range(3)],
    )
    link_hubspot(hubspot, *[("contacts", i, "companies", company) for i in ids])
    return ids


def change_in_hubspot(sandbox, object_type: str, object_id: str, **properties) -> None:
    response = httpx.patch(
        f"{sandbox.url}/crm/v3/objects/{object_type}/{object_id}",
        json={"properties": properties},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 200, response.text


def test_a_second_pull_reads_only_what_changed_since_the_first(hubspot, globex_with_contacts):
    first = pull()
    change_in_hubspot(hubspot, "contacts", globex_with_contacts[1], jobtitle="CEO")

    second = pull()

    assert first.done == 4
    assert (second.done, second.updated, second.unchanged) == (1, 1, 0)
    assert second.detail["objects"]["contacts"]["read"] == 1
    assert Contact.objects.get(hubspot_contact_id=globex_with_contacts[1]).title == "CEO"
    assert Contact.objects.filter(title="Buyer").count() == 2


def test_a_pull_with_nothing_changed_reads_nothing(hubspot, globex_with_contacts):
    pull()

    again = pull()

    assert (again.state, again.total, again.done) == (SyncState.SUCCEEDED, 0, 0)


def test_a_full_pull_reads_everything_again(hubspot, globex_with_contacts):
    pull()

    again = pull(full=True)

    assert (again.done, again.unchanged) == (4, 4)


def test_it_pages_past_the_search_apis_10000_result_cap(hubspot):
    hubspot.seed(companies=1, contacts=10_500, modified_start="2025-01-01T00:00:00Z")

    run = pull()

    assert run.state == SyncState.SUCCEEDED
    assert (run.total, run.done, run.created) == (10_501, 10_501, 10_501)
    assert Contact.objects.count() == 10_500
    assert hubspot.counters()["by_status"].get("400", 0) == 0
    # 53 pages of at most 200, and the count: the query started again after 10,000 results.
    assert searches(hubspot, "contacts") == 54
    # hs_buying_role cycles through HubSpot's nine roles: 10,500 / 9 rounded up for the 4th.
    assert Contact.objects.filter(roles__role=BuyingRole.DECISION_MAKER).count() == 1167


def test_a_pull_cut_short_resumes_after_its_last_page(hubspot):
    hubspot.seed(companies=1, contacts=450, modified_start="2025-01-01T00:00:00Z")

    runs = [pull(time_budget=0)]
    while runs[-1].detail.get("more_to_pull"):
        runs.append(pull(time_budget=0))
        assert len(runs) < 10

    assert Contact.objects.count() == 450
    assert sum(run.done for run in runs) == 451  # nothing read twice
    assert max(run.done for run in runs) == 200  # one page per run
    assert not PullCursor.objects.exclude(last_id="").exists()  # every pass completed


def test_two_pulls_never_read_the_same_object_type_at_once(hubspot, globex_with_contacts):
    held = PullCursor.objects.create(
        backend="hubspot",
        object_type="contacts",
        claim_token="00000000-0000-0000-0000-000000000001",
        claimed_until=timezone.now() + timedelta(minutes=5),
    )

    run = pull()

    assert run.detail["busy"] == ["contacts"]
    assert not Contact.objects.exists()
    # A pull that died leaves its lease to run out; then the next pull reads the contacts.
    PullCursor.objects.filter(pk=held.pk).update(claimed_until=timezone.now())
    pull()
    assert Contact.objects.count() == 3


def test_hubspots_daily_limit_stops_the_pull_and_the_next_one_resumes(hubspot):
    hubspot.seed(companies=1, contacts=900, modified_start="2025-01-01T00:00:00Z")
    # Six searches count the records, one reads the company, two read 400 contacts.
    hubspot.hook("POST", "limits", {"daily_limit": 9, "daily_used": 0})

    stopped = pull()

    assert stopped.state == SyncState.PARTIAL
    assert "daily limit" in stopped.message
    assert Contact.objects.count() == 400
    hubspot.hook("POST", "limits", {"daily_limit": 500_000, "daily_used": 0})
    resumed = pull()
    assert resumed.state == SyncState.SUCCEEDED
    assert Contact.objects.count() == 900
    assert stopped.done + resumed.done == 901


def test_a_page_a_concurrent_pull_wrote_first_is_written_again(hubspot, globex_with_contacts):
    from django.db import IntegrityError, connection

    raced = []

    def first_contacts_insert_collides(execute, sql, params, many, context):
        # The database answers the first insert of contacts as it does when a webhook's pull
        # inserted one of them just now (Django's hook on every query it sends).
        if not raced and sql.lstrip().startswith('INSERT INTO "accounts_app_contact"'):
            raced.append(True)
            raise IntegrityError('duplicate key value violates "contact_unique_hubspot_contact_id"')
        return execute(sql, params, many, context)

    with connection.execute_wrapper(first_contacts_insert_collides):
        run = pull()

    assert raced
    assert run.state == SyncState.SUCCEEDED
    assert (run.done, run.created) == (4, 3)  # counted once
    assert Contact.objects.count() == 3
