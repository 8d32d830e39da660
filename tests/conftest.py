import os

import pytest

from tests.factories import AccountFactory, cycle, person

# Every prepared query (core/prepared.py) is compiled the ORM's way too and compared, in the
# tests' own process and in the servers and workers they start.
os.environ.setdefault("PREPARED_QUERIES_CHECK", "true")


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
def _check_prepared_queries(settings):
    settings.PREPARED_QUERIES_CHECK = True


@pytest.fixture(autouse=True)
def _eager_celery(settings):
    # Tests run tasks in-process unless a test starts a real worker itself.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from config.celery import app

    app.conf.task_always_eager = True


@pytest.fixture
def broker_down():
    """Redis is down: tasks are published to a broker that refuses the connection, and kombu
    raises its OperationalError as it does in production. The broker is outside Accord; this
    changes Celery's configuration, never Accord's code."""
    from config.celery import app

    down = {
        "task_always_eager": False,
        "broker_url": "redis://127.0.0.1:9/0",  # the discard port: nothing listens there
        "broker_transport_options": {"max_retries": 0},
        "task_publish_retry": False,
        "task_publish_retry_policy": {"max_retries": 0},
    }
    before = {name: app.conf.get(name) for name in down}
    app.conf.update(down)
    _forget_broker_connections(app)
    yield
    app.conf.update(before)
    _forget_broker_connections(app)


def _forget_broker_connections(app) -> None:
    # The next publish builds its connection from the configuration now in force.
    app._pool = None
    app.amqp._producer_pool = None


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
