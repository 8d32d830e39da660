"""A file of 100,000 rows, made at test time: checked in full with its few bad rows named by
line, refused as a whole while it has errors, and, when its import fails in the last batch,
rolled back entirely: not one of the 99,998 rows written before the failure stays."""

import pytest

from accounts_app.models import Account, CsvImport, ImportState
from tests.accounts_app.csv_import import HEADER, rows
from tests.factories import AccountFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

ROWS = 100_000


@pytest.fixture
def big_file() -> bytes:
    half = ROWS // 2
    text = (
        HEADER
        + rows(half - 1)
        + "Bad Count,badcount.example,,lots,,,,,,\n"  # line 50,001
        + rows(half - 2, start=half)
        + "Company 0,COMPANY0.example,,,,,,,,\n"  # line 100,000: a duplicate of line 2
        + "Last,last.example,,,,,,,,\n"  # line 100,001
    )
    return text.encode()


def test_a_hundred_thousand_rows_are_checked_and_a_late_failure_writes_nothing(
    ops, upload, confirm, big_file
):
    preview = upload(ops, big_file)

    checked = preview.context["csv_import"]
    assert checked.state == ImportState.CHECKED
    assert (checked.rows, checked.new, checked.error_rows) == (ROWS, ROWS - 2, 2)
    assert preview.context["error_lines"] == [
        "line 50001, column employee_count: 'lots' is not a whole number.",
        "line 100000, column domain: company0.example is already on line 2 of this file; each "
        "account may appear only once.",
    ]

    refused = confirm(ops, preview)
    assert refused.status_code == 400
    assert "Nothing was imported: the file has errors." in refused.content.decode()
    assert Account.objects.count() == 0

    # Between the check and the import someone adds the file's last account by hand: the
    # import writes every batch before it, then finds it, and undoes them all.
    AccountFactory(name="Last, by hand", domain="last.example")
    done = confirm(ops, preview, valid_rows_only=True)

    failed = CsvImport.objects.get()
    assert failed.state == ImportState.FAILED
    assert "line 100001: last.example was added to Accord by someone else" in failed.message
    assert "Nothing was imported" in done.content.decode()
    assert list(Account.objects.values_list("domain", flat=True)) == ["last.example"]
