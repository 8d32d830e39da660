"""The agreed list as a CRM-side job polls it: ETag and 304, updated_since with removals."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts_app.services import account_update
from tests.factories import AccountFactory
from workflow import services


@pytest.fixture
def agree(people):
    """Put `account` on (or take it off) `cycle`'s list through the workflow."""

    def agree(cycle, account, kind="add", tier=1):
        nomination = services.nomination_create(
            cycle=cycle,
            account=account,
            kind=kind,
            tier=None if kind == "remove" else tier,
            rationale="Agreed in the planning meeting",
            by=people.marketer,
        )
        return services.nomination_sign_off(
            nomination=nomination, by=people.sales_approver, decision="approve"
        )

    return agree


def url(cycle):
    return f"/api/v1/cycles/{cycle.pk}/target-accounts/"


def test_it_lists_the_entry_with_tier_owners_account_fields_and_dates(
    people, the_cycle, agree, clients
):
    account = AccountFactory(
        name="Globex",
        domain="globex.example",
        sales_owner=people.sales_member,
        marketing_owner=people.marketing_member,
        hubspot_company_id="9001",
    )
    agree(the_cycle, account, tier=2)
    [entry] = clients["integration"].get(url(the_cycle)).json()["results"]
    assert entry["tier"] == 2
    assert entry["account"]["key"] == str(account.key)
    assert entry["account"]["hubspot_company_id"] == "9001"
    assert entry["sales_owner"]["username"] == people.sales_member.username
    assert entry["sales_owner"]["email"] == people.sales_member.email
    assert entry["marketing_owner"]["username"] == people.marketing_member.username
    assert entry["added_at"] and entry["removed_at"] is None and entry["active"] is True


def test_it_answers_304_for_a_matching_etag_and_200_once_anything_changes(
    the_cycle, agree, clients
):
    crm = clients["integration"]
    agree(the_cycle, AccountFactory())
    first = crm.get(url(the_cycle))
    etag = first["ETag"]
    assert etag.startswith('W/"')
    assert crm.get(url(the_cycle), HTTP_IF_NONE_MATCH=etag).status_code == 304
    # The weak and strong forms of the tag, and a list of tags, all match.
    assert crm.get(url(the_cycle), HTTP_IF_NONE_MATCH=etag[2:]).status_code == 304
    assert crm.get(url(the_cycle), HTTP_IF_NONE_MATCH=f'"x", {etag}').status_code == 304
    assert crm.get(url(the_cycle), HTTP_IF_NONE_MATCH='W/"other"').status_code == 200

    agree(the_cycle, AccountFactory(), tier=3)
    after_add = crm.get(url(the_cycle), HTTP_IF_NONE_MATCH=etag)
    assert after_add.status_code == 200
    assert len(after_add.json()["results"]) == 2
    assert after_add["ETag"] != etag


def test_it_gives_each_page_and_each_query_its_own_etag(the_cycle, agree, clients):
    for _ in range(3):
        agree(the_cycle, AccountFactory())
    crm = clients["integration"]
    page1 = crm.get(url(the_cycle), {"page_size": 2})
    page2 = crm.get(url(the_cycle), {"page_size": 2, "page": 2})
    tier1 = crm.get(url(the_cycle), {"tier": 1})
    assert len({page1["ETag"], page2["ETag"], tier1["ETag"]}) == 3
    assert (
        crm.get(
            url(the_cycle), {"page_size": 2, "page": 2}, HTTP_IF_NONE_MATCH=page1["ETag"]
        ).status_code
        == 200
    )


def test_it_changes_the_etag_when_a_listed_account_changes(people, the_cycle, agree, clients):
    account = AccountFactory(name="Globex")
    agree(the_cycle, account)
    crm = clients["integration"]
    first = crm.get(url(the_cycle))
    since = first.json()["next_updated_since"]
    account_update(account=account, by=people.ops, name="Globex Corporation")
    changed = crm.get(url(the_cycle), HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200
    assert changed.json()["results"][0]["account"]["name"] == "Globex Corporation"
    update = crm.get(url(the_cycle), {"updated_since": since}).json()["results"]
    assert [e["account"]["name"] for e in update] == ["Globex Corporation"]


def test_it_answers_a_304_with_one_query_about_the_list(the_cycle, agree, clients):
    for _ in range(5):
        agree(the_cycle, AccountFactory())
    crm = clients["integration"]
    etag = crm.get(url(the_cycle))["ETag"]
    with CaptureQueriesContext(connection) as queries:
        assert crm.get(url(the_cycle), HTTP_IF_NONE_MATCH=etag).status_code == 304
    about_the_list = [q for q in queries.captured_queries if "workflow_" in q["sql"]]
    assert len(about_the_list) == 1, [q["sql"] for q in queries.captured_queries]
    # Token and role lookups aside, that is all it costs.
    assert len(queries.captured_queries) <= 3


def test_it_returns_additions_changes_and_removals_since_a_time(people, the_cycle, agree, clients):
    stays, moves, leaves = AccountFactory(), AccountFactory(), AccountFactory()
    for account in (stays, moves, leaves):
        agree(the_cycle, account)
    crm = clients["integration"]
    since = timezone.now()
    agree(the_cycle, moves, kind="change_tier", tier=3)
    agree(the_cycle, leaves, kind="remove")
    joins = AccountFactory()
    agree(the_cycle, joins, tier=2)

    update = crm.get(url(the_cycle), {"updated_since": since.isoformat()}).json()["results"]
    by_account = {e["account"]["id"]: e for e in update}
    assert set(by_account) == {moves.pk, leaves.pk, joins.pk}
    assert by_account[moves.pk]["tier"] == 3
    assert by_account[leaves.pk]["active"] is False
    assert by_account[leaves.pk]["removed_at"] is not None
    assert by_account[joins.pk]["tier"] == 2

    # Without updated_since: the list as it is now; include_removed adds the removed entry.
    now = {e["account"]["id"] for e in crm.get(url(the_cycle)).json()["results"]}
    assert now == {stays.pk, moves.pk, joins.pk}
    everything = crm.get(url(the_cycle), {"include_removed": "true"}).json()["results"]
    assert {e["account"]["id"] for e in everything} == {stays.pk, moves.pk, leaves.pk, joins.pk}


def test_it_lists_a_removal_before_the_account_is_added_again(the_cycle, agree, clients):
    account = AccountFactory()
    agree(the_cycle, account)
    since = timezone.now() - dt.timedelta(seconds=1)
    agree(the_cycle, account, kind="remove")
    agree(the_cycle, account, tier=2)
    update = clients["integration"].get(url(the_cycle), {"updated_since": since.isoformat()})
    entries = update.json()["results"]
    assert [(e["account"]["id"], e["active"]) for e in entries] == [
        (account.pk, False),
        (account.pk, True),
    ]


def test_it_hands_out_the_next_updated_since_a_margin_before_the_last_change(
    the_cycle, agree, clients, settings
):
    crm = clients["integration"]
    assert crm.get(url(the_cycle)).json()["next_updated_since"] is None
    agree(the_cycle, AccountFactory())
    body = crm.get(url(the_cycle)).json()
    last = dt.datetime.fromisoformat(body["results"][0]["updated_at"])
    given = dt.datetime.fromisoformat(body["next_updated_since"])
    assert last - given == dt.timedelta(seconds=settings.API_UPDATED_SINCE_MARGIN_SECONDS)
    # Polling from it returns the last change again (harmless: entries are upserts).
    again = crm.get(url(the_cycle), {"updated_since": body["next_updated_since"]}).json()
    assert len(again["results"]) == 1


def test_it_pages_through_a_long_list_in_order_without_repeats(the_cycle, agree, clients):
    accounts = [AccountFactory() for _ in range(7)]
    for account in accounts:
        agree(the_cycle, account, tier=3)
    crm = clients["integration"]
    seen, page = [], crm.get(url(the_cycle), {"page_size": 3}).json()
    while True:
        seen += [e["account"]["id"] for e in page["results"]]
        if not page["next"]:
            break
        page = crm.get(page["next"]).json()
    assert seen == [a.pk for a in accounts]
    assert page["count"] == 7


def test_it_filters_by_tier(the_cycle, agree, clients):
    one, two = AccountFactory(), AccountFactory()
    agree(the_cycle, one, tier=1)
    agree(the_cycle, two, tier=2)
    results = clients["ops"].get(url(the_cycle), {"tier": 2}).json()["results"]
    assert [e["account"]["id"] for e in results] == [two.pk]


def test_it_keeps_each_cycle_to_its_own_list(the_cycle, agree, clients):
    from tests.factories import cycle

    other = cycle("FY27 H2", starts_on=dt.date(2027, 7, 1), ends_on=dt.date(2027, 12, 31))
    agree(the_cycle, AccountFactory(domain="here.example"))
    agree(other, AccountFactory(domain="there.example"))
    results = clients["integration"].get(url(other)).json()["results"]
    assert [e["account"]["domain"] for e in results] == ["there.example"]


@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_it_answers_exactly_what_the_documented_serializer_says(
    people, the_cycle, agree, settings, zone
):
    """The list is built without the serializer, for speed; it must not drift from it."""
    settings.TIME_ZONE = zone
    from django.db.models.functions import Greatest

    from api.selectors import target_account_rows, target_accounts
    from api.serializers import TargetAccountOutput, target_account_representations
    from workflow.models import TargetAccount

    owned = AccountFactory(sales_owner=people.sales_member, marketing_owner=people.marketer)
    agree(the_cycle, owned, tier=3)
    agree(the_cycle, AccountFactory(employee_count=None, hubspot_company_id="77"))
    agree(the_cycle, owned, kind="remove")
    instances = (
        TargetAccount.objects.filter(cycle=the_cycle)
        .select_related("account", "sales_owner", "marketing_owner")
        .annotate(changed_at=Greatest("updated_at", "account__updated_at"))
        .order_by("pk")
    )
    rows = target_account_rows(target_accounts(cycle_id=the_cycle.pk, include_removed=True))
    assert target_account_representations(rows) == TargetAccountOutput(instances, many=True).data
