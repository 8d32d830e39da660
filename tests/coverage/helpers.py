"""Helpers of the coverage tests: a moment to stand at, activities and roles by hand."""

import contextlib
from datetime import timedelta
from unittest import mock

from accounts_app.models import Activity, ContactRole, Opportunity
from tests.factories import ContactFactory

DAY = timedelta(days=1)


@contextlib.contextmanager
def at(moment):
    """Django's clock stands at `moment` (auto_now_add fields and the services' timestamps)."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


def contact(account, *roles, last_engaged_at=None, **fields):
    person = ContactFactory(account=account, last_engaged_at=last_engaged_at, **fields)
    ContactRole.objects.bulk_create(ContactRole(contact=person, role=role) for role in roles)
    return person


def touch(account, side, when, *, contact=None, kind="email"):
    return Activity.objects.create(
        account=account, contact=contact, side=side, kind=kind, occurred_at=when
    )


def opportunity(account, status, amount, name="Deal"):
    return Opportunity.objects.create(account=account, name=name, status=status, amount=amount)
