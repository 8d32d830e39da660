import pytest
from django.db import connection

from tests.conftest import running_in_ci


@pytest.fixture
def mail(mailoutbox, django_capture_on_commit_callbacks):
    """The outbox, with after-commit callbacks (where e-mails are queued) executed."""

    class Mail:
        outbox = mailoutbox

        @staticmethod
        def capture():
            return django_capture_on_commit_callbacks(execute=True)

        @staticmethod
        def recipients():
            return sorted(address for m in mailoutbox for address in m.to)

    return Mail


@pytest.fixture(autouse=True)
def _postgres_only(request):
    """Tests marked `postgres` skip on SQLite, except in CI where they must run."""
    if request.node.get_closest_marker("postgres") is None:
        return
    if connection.vendor != "postgresql":
        if running_in_ci():
            pytest.fail("CI=true but the database is not PostgreSQL: set DATABASE_URL.")
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
