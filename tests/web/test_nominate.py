"""The nominate form: find or create the account, see its fit score and every conflict before
submitting (without JavaScript), then save a draft or submit."""

import pytest
from django.urls import reverse

from accounts_app.models import Account
from accounts_app.services import icp_sign_off, icp_version_create, icp_version_submit
from tests.factories import AccountFactory, cycle
from workflow import services
from workflow.models import Nomination, State


@pytest.fixture
def url(the_cycle):
    return reverse("workflow:nominate", args=[the_cycle.pk])


@pytest.fixture
def effective_icp(people):
    icp = icp_version_create(
        name="EMEA software",
        criteria={
            "industries": {"values": ["Software"], "weight": 50},
            "regions": {"values": ["EMEA"], "weight": 50},
        },
        by=people.marketer,
    )
    icp_version_submit(icp_version=icp, by=people.marketer)
    return icp_sign_off(icp_version=icp, by=people.sales_approver, approve=True)


def test_it_finds_accounts_by_name_or_domain(url, account, people, as_):
    client = as_(people.marketing_member)
    assert "Globex" in client.get(url, {"q": "glob"}).content.decode()
    assert "Globex" in client.get(url, {"q": "globex.example"}).content.decode()
    page = client.get(url, {"q": "umbrella"}).content.decode()
    assert "No account matches “umbrella”" in page


def test_it_creates_an_account_inline_with_its_fit_score(url, people, effective_icp, as_):
    client = as_(people.marketing_member)
    response = client.post(
        url,
        {
            "step": "create_account",
            "new-name": "Vandelay Industries",
            "new-domain": "https://www.Vandelay.example/about",
            "new-industry": "Software",
            "new-country": "de",
            "new-region": "EMEA",
        },
    )
    account = Account.objects.get(domain="vandelay.example")
    assert response.status_code == 302
    assert response["Location"] == f"{url}?account={account.pk}"
    page = client.get(response["Location"]).content.decode()
    assert "Vandelay Industries was added to the accounts." in page
    assert account.fit_score == 100
    assert '<div class="fit-large">100</div>' in page


def test_it_shows_a_taken_domain_next_to_the_field(url, account, people, as_):
    response = as_(people.marketing_member).post(
        url, {"step": "create_account", "new-name": "Globex 2", "new-domain": "globex.example"}
    )
    assert response.status_code == 409
    assert "Globex already uses the domain globex.example." in response.content.decode()
    assert Account.objects.count() == 1


def test_it_shows_the_fit_score_and_no_conflict_before_submitting(url, account, people, as_):
    account.fit_score = 73
    account.save()
    client = as_(people.marketing_member)
    page = client.get(url, {"account": account.pk}).content.decode()
    assert '<div class="fit-large">73</div>' in page

    response = client.post(
        url, {"step": "check", "account": account.pk, "kind": "add", "tier": "1"}
    )
    assert response.status_code == 200
    assert "No conflicts" in response.content.decode()
    assert not Nomination.objects.exists()


def test_it_warns_that_the_account_is_already_on_the_list(url, in_review, people, as_):
    services.nomination_sign_off(nomination=in_review, by=people.sales_approver, decision="approve")
    page = as_(people.sales_member).get(url, {"account": in_review.account_id}).content.decode()
    assert "Globex is already on the FY27 H1 list in Tier 1" in page
    assert "Propose a tier change or a removal instead." in page


def test_it_warns_of_an_open_nomination_and_links_to_it(url, in_review, people, as_):
    page = as_(people.sales_member).get(url, {"account": in_review.account_id}).content.decode()
    assert f"An open nomination already exists for Globex: #{in_review.pk} (in review)" in page
    assert f'href="/nominations/{in_review.pk}/"' in page


def test_it_warns_when_the_chosen_tier_is_full(people, account, as_):
    full = cycle("FY27 H2", capacities=(0, 10, 10))
    url = reverse("workflow:nominate", args=[full.pk])
    response = as_(people.marketer).post(
        url, {"step": "check", "account": account.pk, "kind": "add", "tier": "1"}
    )
    page = response.content.decode()
    assert "Tier 1 is full (0 of 0 accounts). Approval will be refused" in page
    assert "No conflicts" not in page
    assert not Nomination.objects.exists()


def test_it_saves_a_draft(url, account, people, as_):
    client = as_(people.marketing_member)
    response = client.post(
        url,
        {
            "step": "draft",
            "account": account.pk,
            "kind": "add",
            "tier": "2",
            "rationale": "Hiring a RevOps team.",
            "evidence_links": "https://globex.example/jobs\n\nhttps://globex.example/news",
        },
    )
    nomination = Nomination.objects.get()
    assert response["Location"] == reverse("workflow:nomination", args=[nomination.pk])
    assert nomination.state == State.DRAFT
    assert nomination.evidence_links == [
        "https://globex.example/jobs",
        "https://globex.example/news",
    ]
    assert "Saved as a draft." in client.get(response["Location"]).content.decode()


def test_it_submits_for_sign_off(url, account, people, as_):
    client = as_(people.marketer)
    response = client.post(
        url,
        {"step": "submit", "account": account.pk, "kind": "add", "tier": "1", "rationale": "Fit"},
    )
    nomination = Nomination.objects.get()
    assert nomination.state == State.IN_REVIEW
    assert nomination.proposer == people.marketer
    page = client.get(response["Location"]).content.decode()
    assert "Submitted: Globex now waits for both sides" in page


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"tier": "1", "rationale": ""}, 400, "Say why: the rationale is what the other side"),
        ({"tier": "", "rationale": "Fit"}, 400, "Choose a tier (1, 2 or 3)."),
        (
            {"tier": "1", "rationale": "Fit", "evidence_links": "globex dot com"},
            400,
            "is not a web address",
        ),
    ],
)
def test_it_shows_what_is_wrong_next_to_the_form(url, account, people, as_, data, status, message):
    response = as_(people.marketer).post(
        url, {"step": "submit", "account": account.pk, "kind": "add", **data}
    )
    assert response.status_code == status
    assert message in response.content.decode()
    assert not Nomination.objects.exists()


def test_it_refuses_to_add_an_account_already_on_the_list(url, in_review, people, as_):
    services.nomination_sign_off(nomination=in_review, by=people.sales_approver, decision="approve")
    response = as_(people.marketer).post(
        url,
        {
            "step": "submit",
            "account": in_review.account_id,
            "kind": "add",
            "tier": "2",
            "rationale": "Again",
        },
    )
    assert response.status_code == 409
    assert "Globex is already on the FY27 H1 list (Tier 1)" in response.content.decode()
    assert Nomination.objects.count() == 1


def test_it_proposes_a_tier_change_from_the_agreed_list(url, in_review, people, as_):
    services.nomination_sign_off(nomination=in_review, by=people.sales_approver, decision="approve")
    client = as_(people.sales_member)
    cycle_page = client.get(reverse("workflow:cycle", args=[in_review.cycle_id])).content.decode()
    link = f"{url}?account={in_review.account_id}&amp;kind=change_tier"
    assert link in cycle_page

    page = client.get(url, {"account": in_review.account_id, "kind": "change_tier"})
    assert '<option value="change_tier" selected>' in page.content.decode()
    assert "On the FY27 H1 list in Tier 1 since" in page.content.decode()

    client.post(
        url,
        {
            "step": "submit",
            "account": in_review.account_id,
            "kind": "change_tier",
            "tier": "2",
            "rationale": "Slower than hoped.",
        },
    )
    assert Nomination.objects.filter(kind="change_tier", state=State.IN_REVIEW).exists()


def test_it_answers_404_for_an_unknown_account(url, people, as_):
    response = as_(people.marketer).post(url, {"step": "check", "account": 4242, "kind": "add"})
    assert response.status_code == 404


def test_it_lists_search_results_with_their_fit(url, people, as_):
    AccountFactory(name="Acme Robotics", domain="acme-robotics.example", fit_score=64)
    page = as_(people.marketer).get(url, {"q": "acme"}).content.decode()
    assert "Acme Robotics" in page
    assert "64 / 100" in page
