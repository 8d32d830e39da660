"""The account page and the account search."""

from django.urls import reverse
from django.utils import timezone

from accounts_app.models import Activity, Opportunity
from tests.factories import AccountFactory, ContactFactory
from workflow import services


def test_it_shows_what_is_known_about_an_account(in_review, people, as_):
    account = in_review.account
    account.sales_owner = people.sales_member
    account.fit_score = 77
    account.save()
    ContactFactory(account=account, first_name="Dana", last_name="Cho", roles=["champion"])
    ContactFactory(account=account, first_name="Eli", last_name="Ng", roles=["decision_maker"])
    Opportunity.objects.create(account=account, name="Pilot", amount=50000, stage="Proposal")
    Opportunity.objects.create(account=account, name="Old deal", status="won")
    Activity.objects.create(
        account=account, kind="meeting", side="sales", occurred_at=timezone.now(), subject="QBR"
    )
    services.nomination_sign_off(nomination=in_review, by=people.sales_approver, decision="approve")

    page = as_(people.marketing_member).get(reverse("accounts_app:account", args=[account.pk]))
    html = page.content.decode()
    assert '<span class="fit-large">77</span>' in html
    assert people.sales_member.get_full_name() in html
    contacts = html[html.index('id="contacts"') :]
    # Decision makers come before champions: the order a seller reads a committee.
    assert contacts.index("Decision maker") < contacts.index("Champion")
    assert "Dana Cho" in contacts
    opportunities = html[html.index('id="opportunities"') :]
    assert "Pilot" in opportunities
    assert "Old deal" not in html
    assert "QBR" in html
    assert f'href="/nominations/{in_review.pk}/"' in html
    lists = html[html.index('id="lists"') :]
    assert "FY27 H1</a> · Tier 1" in lists


def test_it_finds_accounts_by_name_or_domain(people, as_):
    AccountFactory(name="Acme Robotics", domain="acme-robotics.example")
    AccountFactory(name="Umbrella", domain="umbrella.example")
    client = as_(people.sales_member)
    url = reverse("accounts_app:accounts")
    by_name = client.get(url, {"q": "acme"}).content.decode()
    assert "Acme Robotics" in by_name
    assert "Umbrella" not in by_name
    assert "Umbrella" in client.get(url, {"q": "umbrella.ex"}).content.decode()
    assert "No account matches" in client.get(url, {"q": "zzz"}).content.decode()


def test_it_shows_a_removed_membership_with_its_date(in_review, people, as_):
    services.nomination_sign_off(nomination=in_review, by=people.sales_approver, decision="approve")
    removal = services.nomination_create(
        cycle=in_review.cycle,
        account=in_review.account,
        kind="remove",
        rationale="Churned",
        by=people.marketer,
    )
    services.nomination_sign_off(nomination=removal, by=people.sales_approver, decision="approve")
    html = as_(people.ops).get(reverse("accounts_app:account", args=[in_review.account_id]))
    assert f"removed {timezone.localdate():%-d %b %Y}" in html.content.decode()


def test_it_offers_people_on_a_side_to_nominate_the_account(the_cycle, account, people, as_):
    url = reverse("accounts_app:account", args=[account.pk])
    link = f'href="/cycles/{the_cycle.pk}/nominate/?account={account.pk}"'
    assert link in as_(people.sales_member).get(url).content.decode()
    assert link not in as_(people.ops).get(url).content.decode()


def test_a_contact_in_two_roles_is_listed_under_each_and_counted_once(people, as_):
    account = AccountFactory(name="Globex", domain="globex.example")
    ContactFactory(account=account, first_name="Ada", last_name="L", roles=["budget_holder"])
    ContactFactory(
        account=account, first_name="Ben", last_name="K", roles=["champion", "decision_maker"]
    )
    ContactFactory(account=account, first_name="Cleo", last_name="M")

    page = as_(people.sales_member).get(reverse("accounts_app:account", args=[account.pk]))
    contacts = page.content.decode()
    contacts = contacts[contacts.index('id="contacts"') :]

    assert contacts.count("Ben K") == 2
    assert contacts.index("Decision maker") < contacts.index("Champion") < contacts.index("Unknown")
    assert "Cleo M" in contacts[contacts.index("Unknown") :]
    assert '<span class="badge rounded-pill text-bg-light border">3</span>' in contacts
