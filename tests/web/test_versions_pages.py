"""List versions: ops publish; everyone sees the versions and what changed between any two,
with the nomination behind each change."""

from django.urls import reverse

from tests.factories import AccountFactory
from workflow import services
from workflow.models import ListVersion


def agree(cycle, people, account, *, kind="add", tier=1):
    n = services.nomination_create(
        cycle=cycle, account=account, kind=kind, tier=tier, rationale="x", by=people.marketer
    )
    return services.nomination_sign_off(nomination=n, by=people.sales_approver, decision="approve")


def test_it_publishes_a_version_for_ops(the_cycle, account, people, as_):
    agree(the_cycle, people, account)
    client = as_(people.ops)
    versions = reverse("workflow:versions", args=[the_cycle.pk])
    assert "Publish a new version" in client.get(versions).content.decode()

    response = client.post(versions, {"note": "Kick-off"})
    version = ListVersion.objects.get()
    assert response["Location"] == reverse("workflow:version", args=[the_cycle.pk, 1])
    page = client.get(response["Location"]).content.decode()
    assert "Version 1 of the FY27 H1 list is published." in page
    assert "Globex" in page
    assert version.entries[0]["account_name"] == "Globex"


def test_it_hides_the_publish_button_from_everyone_else(the_cycle, people, as_):
    page = as_(people.sales_approver).get(reverse("workflow:versions", args=[the_cycle.pk]))
    assert "Publish a new version" not in page.content.decode()


def test_it_shows_what_changed_between_two_versions_and_why(the_cycle, people, as_):
    stays, moves, leaves = (
        AccountFactory(name="Stays"),
        AccountFactory(name="Moves"),
        AccountFactory(name="Leaves"),
    )
    for a in (stays, moves, leaves):
        agree(the_cycle, people, a)
    services.list_version_publish(cycle=the_cycle, by=people.ops)
    joins = agree(the_cycle, people, AccountFactory(name="Joins"), tier=2)
    moved = agree(the_cycle, people, moves, kind="change_tier", tier=3)
    removed = agree(the_cycle, people, leaves, kind="remove", tier=None)
    services.list_version_publish(cycle=the_cycle, by=people.ops)

    client = as_(people.marketing_member)
    compare = client.get(
        reverse("workflow:version_compare", args=[the_cycle.pk]), {"old": 1, "new": 2}
    )
    assert compare["Location"] == reverse("workflow:version", args=[the_cycle.pk, 2]) + (
        "?against=1"
    )
    page = client.get(compare["Location"]).content.decode()
    diff = page[page.index('data-testid="diff"') :]
    assert "Changes from v1 to v2" in page
    for nomination, change in ((joins, "Added"), (removed, "Removed"), (moved, "Tier changed")):
        row = diff[diff.index(f">{change}</span>") :]
        row = row[: row.index("</tr>")]
        assert f'href="/nominations/{nomination.pk}/"' in row
    assert "Tier 1 → Tier 3" in diff
    assert "Stays" not in diff


def test_it_answers_404_for_an_unknown_version_to_compare(the_cycle, people, as_):
    services.list_version_publish(cycle=the_cycle, by=people.ops)
    url = reverse("workflow:version", args=[the_cycle.pk, 1])
    assert as_(people.ops).get(url, {"against": 7}).status_code == 404
