import os

import pytest

from tests.factories import AccountFactory, cycle, person


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The one fast hasher of the whole suite. The default PBKDF2 takes a good part of a second
    per password on a busy 2-core machine, and tests create many people. MD5 hashes new
    passwords; Django's defaults follow, so a hash made outside a test still verifies."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *(h for h in settings.PASSWORD_HASHERS if not h.endswith(".MD5PasswordHasher")),
    ]


@pytest.fixture(autouse=True)
def _eager_celery(settings):
    # Tests run tasks in-process unless a test starts a real worker itself.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from config.celery import app

    app.conf.task_always_eager = True


@pytest.fixture
def the_cycle(db):
    return cycle()


@pytest.fixture
def account(db):
    return AccountFactory(name="Globex", domain="globex.example")


@pytest.fixture
def people(db):
    """The cast: a marketing proposer, approvers on both sides, a non-approver, ops."""

    class Cast:
        marketer = person("mara", side="marketing", approver=True)
        marketing_approver = person("milo", side="marketing", approver=True)
        marketing_member = person("mina", side="marketing")
        sales_approver = person("sam", side="sales", approver=True)
        sales_approver_2 = person("sara", side="sales", approver=True)
        sales_member = person("sid", side="sales")
        ops = person("olga", side="ops")

    return Cast
