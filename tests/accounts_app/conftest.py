"""Fixtures of the CSV import's tests: an ops person signed in, and the two steps of the
admin's import as ops take them, of accounts and (`url=`) of activities (see
tests/accounts_app/csv_import.py)."""

import functools

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts_app.models import IcpState, IcpVersion
from tests.accounts_app.csv_import import (
    ACTIVITY_CONFIRM_URL,
    ACTIVITY_IMPORT_URL,
    CONFIRM_URL,
    IMPORT_URL,
)
from tests.factories import person
from workflow.services import person_set_role


@pytest.fixture
def ops(client):
    """An ops person as `accord_user --side ops` makes them, signed in."""
    user, _ = person_set_role(username="opal", role="ops")
    client.force_login(user)
    return client


@pytest.fixture
def owners():
    person("sam", side="sales", email="sam@corp.example")
    person("mia", side="marketing")


@pytest.fixture
def icp():
    return IcpVersion.objects.create(
        number=1,
        name="Mid-size software in Europe",
        state=IcpState.EFFECTIVE,
        criteria={
            "industries": {"values": ["Software"], "weight": 50},
            "regions": {"values": ["EMEA"], "weight": 50},
        },
    )


@pytest.fixture
def upload(django_capture_on_commit_callbacks):
    def upload(client, text, *, encoding="utf-8", name="accounts.csv", url=IMPORT_URL):
        """The first step: the file is stored and checked, nothing is saved. Returns the
        page shown after the upload (the check has run)."""
        data = text if isinstance(text, bytes) else text.encode(encoding)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, {"import_file": SimpleUploadedFile(name, data, "text/csv")})
        if response.status_code != 302:
            return response
        return client.get(response["Location"])

    return upload


@pytest.fixture
def confirm(django_capture_on_commit_callbacks):
    def confirm(client, preview, *, valid_rows_only: bool = False, choice=None, url=CONFIRM_URL):
        """Press the preview's button; returns the page after the import (it has run)."""
        csv_import = preview.context["csv_import"]
        data = {
            "import_id": str(csv_import.pk),
            "choice": choice or ("valid" if valid_rows_only else "all"),
        }
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, data)
        if response.status_code != 302:
            return response
        return client.get(response["Location"])

    return confirm


@pytest.fixture
def upload_activities(upload):
    """`upload`, on the import page of activities."""
    return functools.partial(upload, url=ACTIVITY_IMPORT_URL, name="activities.csv")


@pytest.fixture
def confirm_activities(confirm):
    """`confirm`, on the import page of activities."""
    return functools.partial(confirm, url=ACTIVITY_CONFIRM_URL)
