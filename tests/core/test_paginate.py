"""A list page reads its rows and the number of all rows in one query, and shows the page
Django's Paginator shows, whatever page number the address holds."""

import pytest
from django.core.paginator import Paginator
from django.test import RequestFactory

from accounts_app.models import Account
from core.web import paginate
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts():
    AccountFactory.create_batch(7)
    return Account.objects.order_by("name")


def page_of(queryset, number):
    return paginate(RequestFactory().get("/", {"page": number}), queryset, per_page=3)


def shown(page) -> tuple:
    return (page.number, [a.pk for a in page.object_list], page.paginator.count)


@pytest.mark.parametrize("number", ["1", "2", "3", "4", "99", "0", "-1", "abc", "2.0", ""])
def test_it_shows_the_page_django_shows(accounts, number):
    expected = Paginator(accounts, 3).get_page(number)
    assert shown(page_of(accounts, number)) == shown(expected)


def test_a_page_and_the_count_take_one_query(accounts, django_assert_num_queries):
    with django_assert_num_queries(1):
        page = page_of(accounts, "2")
        assert page.paginator.count == 7
        assert page.paginator.num_pages == 3
        assert len(page.object_list) == 3


def test_a_distinct_list_is_counted_after_distinct(accounts):
    for account in accounts[:2]:
        ContactFactory.create_batch(3, account=account)
    with_contacts = Account.objects.filter(contacts__isnull=False).distinct().order_by("name")
    page = page_of(with_contacts, "1")
    assert page.paginator.count == 2
    assert len(page.object_list) == 2


def test_an_empty_list_has_one_empty_page(db):
    page = page_of(Account.objects.order_by("name"), "1")
    assert (page.number, list(page.object_list), page.paginator.count) == (1, [], 0)


def test_rows_that_are_not_models_are_paged_too(accounts):
    names = accounts.values_list("name", flat=True)
    assert list(page_of(names, "3").object_list) == list(names)[6:]
    assert page_of(names, "3").paginator.count == 7
