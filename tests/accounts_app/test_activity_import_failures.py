"""Nothing of a file of activities is half-imported: when it reads differently at import time
than when it was checked (an account deleted, activities written meanwhile), the import writes
nothing, even after batches it had already written; a run whose worker died runs again."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts_app.imports import csv_imports_resume
from accounts_app.models import Activity, CsvImport, ImportState
from tests.accounts_app.csv_import import ACTIVITY_CONFIRM_URL, ACTIVITY_HEADER, activity_rows
from tests.api.conftest import client_for
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _small_batches(settings):
    settings.CSV_IMPORT_BATCH_SIZE = 2


@pytest.fixture
def globex(db):
    return AccountFactory(name="Globex", domain="globex.example")


def test_an_account_deleted_between_the_check_and_the_import_makes_it_import_nothing(
    ops, upload_activities, confirm_activities, globex
):
    initech = AccountFactory(name="Initech", domain="initech.example")
    text = (
        ACTIVITY_HEADER
        + activity_rows(globex, 4)  # lines 2 to 5: two batches written before line 6 is read
        + f"{initech.pk},,,,meeting,sales,2026-11-30T10:00:00Z,,m-1\n"
    )
    preview = upload_activities(ops, text)
    assert preview.context["csv_import"].new == 5
    initech.delete()

    done = confirm_activities(ops, preview)

    assert not Activity.objects.exists()  # the first two batches were undone too
    failed = CsvImport.objects.get()
    assert failed.state == ImportState.FAILED
    page = done.content.decode()
    assert "Nothing was imported: the file no longer reads as it did when it was checked." in page
    assert "line 6, column account: There is no such account." in page
    assert "Upload it again to check it anew." in page


def test_activities_written_meanwhile_through_the_api_make_it_import_nothing(
    ops, upload_activities, confirm_activities, globex
):
    preview = upload_activities(ops, ACTIVITY_HEADER + activity_rows(globex, 3))
    opal = get_user_model().objects.get(username="opal")
    sent = client_for(opal).post(
        "/api/v1/activities/",
        {
            "rows": [
                {
                    "account": globex.pk,
                    "kind": "call",
                    "side": "sales",
                    "occurred_at": "2026-11-01T10:00:00Z",
                    "external_id": "visit-2",
                }
            ]
        },
        format="json",
    )
    assert sent.status_code == 201

    done = confirm_activities(ops, preview)

    assert (
        "3 new activities when checked, 2 now: activities with this file&#x27;s external ids"
        in (done.content.decode())
    )
    assert list(Activity.objects.values_list("kind", flat=True)) == ["call"]  # left as it was


def test_a_row_that_had_errors_and_has_none_now_is_reported(
    ops, upload_activities, confirm_activities, globex
):
    preview = upload_activities(
        ops,
        ACTIVITY_HEADER
        + activity_rows(globex, 1)
        + ",,hooli.example,,web_visit,marketing,2026-11-30T10:00:00Z,,h-1\n",
    )
    assert preview.context["error_lines"] == ["line 3, column domain: There is no such account."]
    AccountFactory(name="Hooli", domain="hooli.example")

    done = confirm_activities(ops, preview, valid_rows_only=True)

    assert "line 3: had errors when checked and has none now." in done.content.decode()
    assert not Activity.objects.exists()


def test_an_import_whose_worker_died_is_queued_again_and_finishes(
    ops, upload_activities, globex, django_capture_on_commit_callbacks
):
    csv_import = upload_activities(ops, ACTIVITY_HEADER + activity_rows(globex, 5)).context[
        "csv_import"
    ]
    # The confirmation commits, but its task never runs to the end: the worker died.
    with django_capture_on_commit_callbacks(execute=False):
        ops.post(ACTIVITY_CONFIRM_URL, {"import_id": csv_import.pk, "choice": "all"})
    stalled = timezone.now() - timedelta(hours=1)
    CsvImport.objects.filter(pk=csv_import.pk).update(attempts=1, heartbeat_at=stalled)

    assert csv_imports_resume() == 1

    csv_import.refresh_from_db()
    assert (csv_import.state, csv_import.new, csv_import.attempts) == (ImportState.DONE, 5, 2)
    assert Activity.objects.count() == 5
