"""The main navigation: the links for people on a side and ops, the admin's for ops and staff,
the current section marked active, none for a person on no side (each built once per process:
workflow.templatetags.accord.main_links)."""

import re

import pytest
from django.urls import reverse

LINKS = re.compile(
    r'<li class="nav-item"><a class="nav-link ?(active)?" href="([^"]+)">([^<]+)</a>'
)


def nav_of(client, url: str) -> list[tuple[str, str, bool]]:
    page = client.get(url).content.decode()
    nav = page[page.index('<ul class="navbar-nav') : page.index('data-testid="whoami"')]
    return [(label, href, active == "active") for active, href, label in LINKS.findall(nav)]


@pytest.mark.parametrize(
    ("page", "active"),
    [
        ("workflow:queue", "My queue"),
        ("workflow:cycles", "Cycles"),
        ("coverage:index", "Coverage"),
        ("accounts_app:accounts", "Accounts"),
        ("icp:list", "Ideal customer profile"),
        ("crm:sync", "Sync"),
    ],
)
def test_it_marks_the_current_section_active(page, active, people, as_):
    nav = nav_of(as_(people.marketing_member), reverse(page))
    assert [label for label, _, on in nav if on] == [active]
    assert [(label, href) for label, href, _ in nav] == [
        ("My queue", reverse("workflow:queue")),
        ("Cycles", reverse("workflow:cycles")),
        ("Coverage", reverse("coverage:index")),
        ("Accounts", reverse("accounts_app:accounts")),
        ("Ideal customer profile", reverse("icp:list")),
        ("Sync", reverse("crm:sync")),
    ]


def test_a_nomination_and_a_cycle_are_under_cycles(in_review, the_cycle, people, as_):
    client = as_(people.sales_approver)
    for url in (
        reverse("workflow:nomination", args=[in_review.pk]),
        reverse("workflow:cycle", args=[the_cycle.pk]),
    ):
        assert [label for label, _, on in nav_of(client, url) if on] == ["Cycles"]


def test_ops_and_staff_see_the_admin_and_others_do_not(people, as_):
    admin = ("Admin", reverse("admin:index"), False)
    assert admin in nav_of(as_(people.ops), reverse("workflow:queue"))
    assert admin not in nav_of(as_(people.marketing_member), reverse("workflow:queue"))
    people.sales_member.is_staff = True
    people.sales_member.save()
    assert admin in nav_of(as_(people.sales_member), reverse("workflow:queue"))


def test_a_person_on_no_side_sees_no_links(nobody, as_):
    page = as_(nobody).get(reverse("workflow:queue"))
    assert page.status_code == 403
    assert nav_of(as_(nobody), reverse("workflow:queue")) == []
