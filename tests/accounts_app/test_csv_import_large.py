"""A file of thousands of rows is checked and imported by the tasks in batches, with progress
that reaches the total, and the page's progress answer costs the same whatever the size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts_app.models import Account, CsvImport, ImportState
from tests.accounts_app.csv_import import HEADER, progress_url, rows, status_url

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _small_batches(settings):
    settings.CSV_IMPORT_BATCH_SIZE = 1000


def test_five_thousand_rows_are_checked_and_imported_with_progress_to_the_total(
    ops, upload, confirm
):
    preview = upload(ops, HEADER + rows(5000) + "Bad,bad.example,,many,,,,,,\n")

    checked = preview.context["csv_import"]
    assert checked.state == ImportState.CHECKED
    assert (checked.rows, checked.new, checked.error_rows) == (5001, 5000, 1)
    assert ops.get(progress_url(checked.pk)).json() | {"id": 0} == {
        "id": 0,
        "state": "checked",
        "state_label": "Checked, waiting for confirmation",
        "active": False,
        "done": 5001,
        "total": 5001,
        "percent": 100,
        "new": 5000,
        "updated": 0,
        "unchanged": 0,
        "error_rows": 1,
    }

    done = confirm(ops, preview, valid_rows_only=True)

    assert "Import finished: 5,000 new account(s), 0 updated, 0 unchanged." in (
        done.content.decode()
    )
    imported = CsvImport.objects.get()
    assert (imported.state, imported.done, imported.total) == (ImportState.DONE, 5000, 5000)
    assert Account.objects.count() == 5000
    assert Account.objects.get(domain="company4999.example").employee_count == 10 + 4999 % 900


def test_a_parent_on_an_earlier_line_in_another_batch_is_linked(ops, upload, confirm):
    text = (
        HEADER
        + "Parent,parent.example,,,,,,,,\n"
        + rows(1500)
        + "Child,child.example,,,,,,,,parent.example\n"
        + "Orphan,orphan.example,,,,,,,,nowhere.example\n"
    )

    preview = upload(ops, text)
    assert preview.context["error_lines"] == [
        "line 1504, column parent_domain: no account has the domain nowhere.example; add the "
        "parent first (in Accord or on an earlier line of this file)."
    ]
    confirm(ops, preview, valid_rows_only=True)

    assert Account.objects.get(domain="child.example").parent.domain == "parent.example"
    assert not Account.objects.filter(domain="orphan.example").exists()


def _queries_of_progress(client, pk) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(progress_url(pk)).status_code == 200
    return len(queries)


def test_the_progress_answer_costs_the_same_for_ten_rows_and_for_three_thousand(ops, upload):
    small = upload(ops, HEADER + rows(10)).context["csv_import"]
    large = upload(ops, HEADER + rows(3000, start=10) + "x,bad,,,,,,,,\n").context["csv_import"]

    assert _queries_of_progress(ops, large.pk) == _queries_of_progress(ops, small.pk)
    # The page itself is paginated: its cost does not grow with the rows either.
    with CaptureQueriesContext(connection) as small_page:
        ops.get(status_url(small.pk))
    with CaptureQueriesContext(connection) as large_page:
        ops.get(status_url(large.pk))
    assert len(large_page) <= len(small_page) + 2  # the problems' count and page


def test_an_active_import_page_refreshes_itself_without_javascript(ops, upload):
    csv_import = upload(ops, HEADER + rows(3)).context["csv_import"]
    CsvImport.objects.filter(pk=csv_import.pk).update(state=ImportState.CHECKING, done=1, total=3)

    page = ops.get(status_url(csv_import.pk)).content.decode()

    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in page
    assert 'max="3" value="1"' in page  # a <progress> bar, drawn by the browser
    assert "accord/import.js" in page
    assert "reload it</a>" in page
