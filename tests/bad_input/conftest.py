"""The bad-input corpus (docs/reliability.md, "Bad input"): malformed files, bodies, texts and
queries sent through the admin, the site and the API. Every case must end in a clear error or in
safe storage; none may crash. So each test here runs under `no_tracebacks`: a record logged at
ERROR with a traceback (what Django logs for a 500, or a task that blew up) fails the test, as
does the test client's re-raised exception for a 500.

The fixtures of the import tests and of the site's tests are shared from their conftests."""

import logging
from pathlib import Path

import pytest

from tests.accounts_app.conftest import (  # noqa: F401 (fixtures)
    confirm,
    confirm_activities,
    ops,
    owners,
    upload,
    upload_activities,
)
from tests.api.conftest import client_for
from tests.web.conftest import as_, in_review  # noqa: F401 (fixtures)

CORPUS = Path(__file__).parent / "corpus"


def corpus(name: str) -> bytes:
    """A committed fixture file of the corpus, as bytes."""
    return (CORPUS / name).read_bytes()


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def no_tracebacks():
    """Fail the test if anything logged an error with a traceback while it ran."""
    handler = _Everything()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)
    crashes = [
        f"{r.name}: {r.getMessage()}"
        for r in handler.records
        if r.levelno >= logging.ERROR and (r.exc_info or r.name == "django.request")
    ]
    assert not crashes, crashes


@pytest.fixture
def api_as():
    """An API client with a token of `user`."""
    return client_for
