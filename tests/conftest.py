import os

import pytest

from tests.factories import AccountFactory, cycle, person


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The default PBKDF2 takes ~0.3 s per password on this machine; tests create many people.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",  # users made outside a test
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
