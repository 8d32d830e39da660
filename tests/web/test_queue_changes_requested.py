"""Changes requested: the proposer finds the nomination in their queue's main tab, the edit
page shows what the reviewer asked for, and the resubmission records what changed."""

from django.urls import reverse

from workflow import services
from workflow.models import NominationEvent


def get(client, url, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


def test_the_proposers_main_tab_holds_their_nominations_with_changes_requested(
    changes_requested, people, as_
):
    page = get(as_(people.marketer), reverse("workflow:queue"))

    row = page[page.index(f'data-nomination="{changes_requested.pk}"') :]
    assert "Globex" in row
    assert reverse("workflow:edit", args=[changes_requested.pk]) in row  # "Edit and resubmit"
    tab = page[page.index('data-testid="tab-waiting"') :]
    assert 'text-bg-primary">1</span>' in tab[: tab.index("</a>")]


def test_nobody_else_gets_it_in_their_main_tab(changes_requested, people, as_):
    for someone in (people.marketing_approver, people.sales_approver, people.sales_member):
        page = get(as_(someone), reverse("workflow:queue"))
        assert f'data-nomination="{changes_requested.pk}"' not in page


def test_it_leaves_the_main_tab_once_resubmitted(changes_requested, people, as_):
    services.nomination_resubmit(nomination=changes_requested, by=people.marketer, tier=2)

    page = get(as_(people.marketer), reverse("workflow:queue"))

    assert f'data-nomination="{changes_requested.pk}"' not in page


def test_the_edit_page_shows_what_the_reviewer_asked_for(changes_requested, people, as_):
    page = get(as_(people.marketer), reverse("workflow:edit", args=[changes_requested.pk]))

    asked = page[page.index('data-testid="changes-asked"') :]
    assert "What the reviewer asked for" in asked
    assert "“Tier 2 fits better.”" in asked
    assert people.sales_approver.get_full_name() in asked


def test_a_draft_edit_page_shows_no_request(draft, people, as_):
    page = get(as_(people.marketer), reverse("workflow:edit", args=[draft.pk]))

    assert 'data-testid="changes-asked"' not in page


def test_the_resubmission_records_what_changed_in_the_timeline(changes_requested, people, as_):
    client = as_(people.marketer)
    response = client.post(
        reverse("workflow:edit", args=[changes_requested.pk]),
        {
            "step": "resubmit",
            "tier": "2",
            "rationale": "Strong fit: expanding in EMEA. Tier 2 until the pilot is signed.",
            "evidence_links": "https://globex.example/pilot",
            "note": "As you asked.",
        },
    )
    assert response.status_code == 302

    event = NominationEvent.objects.filter(nomination=changes_requested).latest("pk")
    assert (event.action, event.note) == ("resubmitted", "As you asked.")
    assert event.changes == {
        "tier": [1, 2],
        "rationale": True,
        "evidence_links": {"added": 1, "removed": 1},
    }
    page = get(client, reverse("workflow:nomination", args=[changes_requested.pk]))
    timeline = page[page.index('id="timeline"') :]
    assert "Changed: Tier 1 → 2; rationale edited; evidence links: 1 added, 1 removed" in timeline


def test_a_resubmission_that_changes_nothing_says_nothing_changed(changes_requested, people):
    services.nomination_resubmit(
        nomination=changes_requested, by=people.marketer, tier=1, note="Tier 1 it stays."
    )

    event = NominationEvent.objects.filter(nomination=changes_requested).latest("pk")
    assert event.changes == {}
    assert event.change_lines() == []
