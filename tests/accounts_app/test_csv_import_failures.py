"""Nothing is half-imported: a row the database refuses, or a file that reads differently
since its check, leaves Accord as it was; a check or an import whose worker died runs again."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts_app import tasks
from accounts_app.imports import csv_imports_resume
from accounts_app.models import Account, CsvImport, ImportState
from tests.accounts_app.csv_import import CONFIRM_URL, HEADER, rows, status_url
from tests.factories import AccountFactory, person

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _small_batches(settings):
    settings.CSV_IMPORT_BATCH_SIZE = 1000


def refuse_inserting(domain: str) -> None:
    """Make the database refuse one account, as a unique index refuses a domain that another
    transaction inserted and committed after the import read it."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"""
                CREATE FUNCTION refuse_one_account() RETURNS trigger AS $$
                BEGIN
                  IF NEW.domain = '{domain}' THEN
                    RAISE EXCEPTION 'duplicate key value violates unique constraint'
                      USING ERRCODE = 'unique_violation';
                  END IF;
                  RETURN NEW;
                END $$ LANGUAGE plpgsql;
                CREATE TRIGGER refuse_one_account BEFORE INSERT ON accounts_app_account
                  FOR EACH ROW EXECUTE FUNCTION refuse_one_account();
                """
            )
        else:
            cursor.execute(
                f"""
                CREATE TRIGGER refuse_one_account BEFORE INSERT ON accounts_app_account
                WHEN NEW.domain = '{domain}'
                BEGIN SELECT RAISE(ABORT, 'UNIQUE constraint failed: accounts_app_account.domain');
                END
                """
            )


def test_a_row_refused_in_the_last_batch_leaves_no_account_written(ops, upload, confirm):
    preview = upload(ops, HEADER + rows(4000))
    refuse_inserting("company3500.example")

    done = confirm(ops, preview)

    assert Account.objects.count() == 0  # the first three batches were undone too
    csv_import = CsvImport.objects.get()
    assert csv_import.state == ImportState.FAILED
    assert csv_import.message.startswith("Nothing was imported: the database refused a row")
    assert "Upload the file again to check it anew." in done.content.decode()


def test_a_domain_added_since_the_check_is_reported_and_nothing_is_imported(ops, upload, confirm):
    preview = upload(ops, HEADER + rows(1500))
    AccountFactory(name="Someone else's", domain="company1200.example")

    done = confirm(ops, preview)

    assert list(Account.objects.values_list("domain", flat=True)) == ["company1200.example"]
    assert CsvImport.objects.get().state == ImportState.FAILED
    page = done.content.decode()
    assert "Nothing was imported: the file no longer reads as it did when it was checked." in page
    assert (
        "line 1202: company1200.example was added to Accord by someone else since the file "
        "was checked." in page
    )


def test_an_owner_who_left_their_side_since_the_check_is_reported(ops, upload, confirm):
    sam = person("sam", side="sales")
    preview = upload(ops, HEADER + "Globex,globex.example,,,,,,sam,,\n")
    sam.groups.clear()

    done = confirm(ops, preview)

    assert Account.objects.count() == 0
    assert "line 2, column sales_owner: sam is not on the sales side." in done.content.decode()


def test_an_import_whose_worker_died_is_queued_again_and_finishes(
    ops, upload, django_capture_on_commit_callbacks
):
    preview = upload(ops, HEADER + rows(1200))
    csv_import = preview.context["csv_import"]
    # The confirmation commits, but its task never runs to the end: the worker died.
    with django_capture_on_commit_callbacks(execute=False):
        ops.post(CONFIRM_URL, {"import_id": csv_import.pk, "choice": "all"})
    stalled = timezone.now() - timedelta(hours=1)
    CsvImport.objects.filter(pk=csv_import.pk).update(attempts=1, heartbeat_at=stalled)
    assert Account.objects.count() == 0

    assert csv_imports_resume() == 1

    csv_import.refresh_from_db()
    assert (csv_import.state, csv_import.new, csv_import.attempts) == (
        ImportState.DONE,
        1200,
        2,
    )
    assert Account.objects.count() == 1200
    assert csv_imports_resume() == 0


def test_a_check_run_again_after_its_worker_died_reports_each_problem_once(ops, upload):
    preview = upload(ops, HEADER + rows(1500) + "Bad,bad.example,,many,,,,,,\n")
    csv_import = preview.context["csv_import"]
    # As a worker leaves it when it dies just before the end: problems written, still checking.
    CsvImport.objects.filter(pk=csv_import.pk).update(state=ImportState.CHECKING)

    tasks.check_csv_import.delay(csv_import.pk)

    page = ops.get(status_url(csv_import.pk))
    assert page.context["csv_import"].state == ImportState.CHECKED
    assert page.context["error_lines"] == [
        "line 1502, column employee_count: 'many' is not a whole number."
    ]


def test_an_import_that_keeps_dying_is_given_up_without_writing(ops, upload, settings):
    preview = upload(ops, HEADER + rows(3))
    csv_import = preview.context["csv_import"]
    CsvImport.objects.filter(pk=csv_import.pk).update(
        state=ImportState.IMPORTING, choice="all", attempts=settings.CSV_IMPORT_MAX_ATTEMPTS
    )

    tasks.run_csv_import.delay(csv_import.pk)

    csv_import.refresh_from_db()
    assert csv_import.state == ImportState.FAILED
    assert "stopped 3 times without finishing, so nothing was imported" in csv_import.message
    assert Account.objects.count() == 0


def test_a_task_for_a_finished_import_does_nothing(ops, upload, confirm):
    done = confirm(ops, upload(ops, HEADER + rows(3)))
    csv_import = done.context["csv_import"]

    tasks.run_csv_import.delay(csv_import.pk)  # delivered twice
    tasks.check_csv_import.delay(csv_import.pk)

    csv_import.refresh_from_db()
    assert (csv_import.state, csv_import.new) == (ImportState.DONE, 3)
    assert Account.objects.count() == 3
