"""CSV import and export of accounts, through the admin pages, as revenue operations use them.

The upload stores the file and queues its check; tests run Celery tasks in-process, so the
check (and, after the confirmation, the import) has run when the page after the upload shows.
"""

import csv
import io

import pytest

from accounts_app.models import Account, CsvImport, ImportState, Source
from tests.accounts_app.csv_import import EXPORT_URL, HEADER, IMPORT_URL
from tests.factories import AccountFactory, person

pytestmark = pytest.mark.django_db


def test_it_imports_a_clean_file_after_a_preview(ops, owners, icp, upload, confirm):
    preview = upload(
        ops,
        HEADER
        + "Globex,https://www.Globex.example/about,Software,1200,25000000,de,EMEA,sam,mia,\n"
        + "Globex Austria,globex.at,Software,80,,AT,EMEA,sam@corp.example,,globex.example\n"
        + 'Initech,initech.example,Retail,"1,500",,US,NA,,,\n',
    )

    assert preview.status_code == 200
    page = preview.content.decode()
    assert "Confirm import" in page
    assert "<th>New accounts</th><td>3</td>" in page
    assert Account.objects.count() == 0  # the preview saves nothing

    done = confirm(ops, preview)

    assert "Import finished: 3 new account(s), 0 updated, 0 unchanged." in done.content.decode()
    globex = Account.objects.get(domain="globex.example")
    assert globex.name == "Globex"
    assert globex.country == "DE"
    assert globex.source == Source.CSV
    assert globex.sales_owner.username == "sam"
    assert globex.marketing_owner.username == "mia"
    assert globex.fit_score == 100
    austria = Account.objects.get(domain="globex.at")
    assert austria.parent == globex
    assert austria.sales_owner.username == "sam"
    initech = Account.objects.get(domain="initech.example")
    assert initech.employee_count == 1500
    assert initech.fit_score == 0


def test_a_malformed_row_is_reported_by_line_and_column_and_nothing_is_imported(
    ops, upload, confirm
):
    text = (
        HEADER
        + "Globex,globex.example,Software,1200,,DE,EMEA,,,\n"
        + "Initech,initech.example,Software,many,,DE,EMEA,,,\n"
        + "Hooli,hooli.example,Software,30,lots,DE,EMEA,,,\n"
    )

    preview = upload(ops, text)

    errors = preview.context["error_lines"]
    assert "line 3, column employee_count: 'many' is not a whole number." in errors
    assert any(
        e.startswith("line 4, column annual_revenue: 'lots' is not an amount") for e in errors
    )
    page = preview.content.decode()
    assert "line 3, column employee_count: &#x27;many&#x27; is not a whole number." in page
    assert "Confirm import" not in page
    assert "Import the 1 valid row only" in page

    # Confirming without choosing "valid rows only" (e.g. a replayed form) imports nothing.
    done = confirm(ops, preview)

    assert done.status_code == 400
    assert Account.objects.count() == 0
    shown = done.content.decode()
    assert "Nothing was imported: the file has errors." in shown
    assert "line 3, column employee_count: &#x27;many&#x27; is not a whole number." in shown
    assert CsvImport.objects.get().state == ImportState.CHECKED  # still up to ops


def test_ops_may_import_the_valid_rows_only_and_see_the_others_listed(ops, upload, confirm):
    preview = upload(
        ops,
        HEADER
        + "Globex,globex.example,Software,1200,,DE,EMEA,,,\n"
        + "Initech,initech.example,Software,many,,DE,EMEA,,,\n"
        + "Hooli,hooli.example,Software,30,,DE,EMEA,,,\n",
    )

    done = confirm(ops, preview, valid_rows_only=True)

    assert set(Account.objects.values_list("domain", flat=True)) == {
        "globex.example",
        "hooli.example",
    }
    shown = done.content.decode()
    assert "Import finished: 2 new account(s), 0 updated, 0 unchanged." in shown
    assert "1 row(s) with errors were left out, as you chose:" in shown
    assert "line 3, column employee_count: &#x27;many&#x27; is not a whole number." in shown


def test_a_row_with_a_known_normalised_domain_updates_that_account(ops, icp, upload, confirm):
    AccountFactory(name="Old name", domain="example.com", industry="Retail", region="NA")

    preview = upload(ops, HEADER + "Example Corp,https://www.Example.com/x,Software,,,,EMEA,,,\n")
    assert "<th>Updated</th><td>1</td>" in preview.content.decode()
    done = confirm(ops, preview)

    assert "Import finished: 0 new account(s), 1 updated, 0 unchanged." in done.content.decode()
    account = Account.objects.get()
    assert account.domain == "example.com"
    assert account.name == "Example Corp"
    assert account.industry == "Software"
    assert account.employee_count == 500  # an empty cell leaves the value as it was
    assert account.fit_score == 100  # rescored against the effective profile


def test_a_row_that_changes_nothing_is_counted_unchanged(ops, upload, confirm):
    account = AccountFactory(name="Example", domain="example.com", industry="Software")
    before = Account.objects.get(pk=account.pk).updated_at

    preview = upload(ops, HEADER + "Example,example.com,Software,,,,,,,\n")
    done = confirm(ops, preview)

    assert "Import finished: 0 new account(s), 0 updated, 1 unchanged." in done.content.decode()
    assert Account.objects.get().updated_at == before


def test_a_second_row_with_the_same_normalised_domain_is_an_error_on_that_row(ops, upload):
    preview = upload(
        ops,
        HEADER
        + "Example,example.com,,,,,,,,\n"
        + "Other,acme.example,,,,,,,,\n"
        + "Example again,HTTP://WWW.EXAMPLE.COM/pricing,,,,,,,,\n",
    )

    assert preview.context["error_lines"] == [
        "line 4, column domain: example.com is already on line 2 of this file; "
        "each account may appear only once."
    ]
    assert Account.objects.count() == 0


def test_an_unknown_owner_or_one_of_the_wrong_side_is_refused(ops, owners, upload):
    preview = upload(
        ops,
        HEADER + "Globex,globex.example,,,,,,ghost,,\n" + "Initech,initech.example,,,,,,mia,,\n",
    )

    assert preview.context["error_lines"] == [
        "line 2, column sales_owner: nobody in Accord has the username or e-mail 'ghost'.",
        "line 3, column sales_owner: mia is not on the sales side.",
    ]


def test_a_bad_country_code_is_refused(ops, upload):
    preview = upload(
        ops, HEADER + "Globex,globex.example,,,,Germany,,,,\nHooli,hooli.example,,,,XX,,,,\n"
    )

    assert preview.context["error_lines"] == [
        "line 2, column country: 'Germany' is not a two-letter country code (ISO 3166-1), "
        "e.g. DE or US.",
        "line 3, column country: 'XX' is not a two-letter country code (ISO 3166-1), "
        "e.g. DE or US.",
    ]


def test_a_file_without_a_domain_column_or_with_an_unknown_column_is_refused(ops, upload):
    preview = upload(ops, "name,employees\nGlobex,12\n")

    page = preview.content.decode()
    assert "line 1: unknown column &#x27;employees&#x27;" in page
    assert "the file has no domain column" in page
    assert "Confirm import" not in page
    assert "valid row" not in page
    assert preview.context["csv_import"].state == ImportState.FAILED
    assert Account.objects.count() == 0


def test_the_export_neutralises_cells_a_spreadsheet_would_run(ops):
    AccountFactory(name='=HYPERLINK("http://evil.example")', domain="a.example", region="+1")
    AccountFactory(name="@SUM(A1)", domain="b.example", industry="-2", region="\tTab")
    AccountFactory(name="Plain", domain="c.example", industry="\rCR")
    fields = [
        "name",
        "domain",
        "industry",
        "employee_count",
        "annual_revenue",
        "country",
        "region",
        "sales_owner",
        "marketing_owner",
        "parent_domain",
        "fit_score",
        "source",
    ]

    response = ops.post(
        EXPORT_URL,
        {"resource": "0", "format": "0", **{f"accountresource_{f}": "on" for f in fields}},
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = {r["domain"]: r for r in csv.DictReader(io.StringIO(response.content.decode()))}
    assert rows["a.example"]["name"] == '\'=HYPERLINK("http://evil.example")'
    assert rows["a.example"]["region"] == "'+1"
    assert rows["b.example"]["name"] == "'@SUM(A1)"
    assert rows["b.example"]["industry"] == "'-2"
    assert rows["b.example"]["region"] == "'\tTab"
    assert rows["c.example"]["industry"] == "'\rCR"
    assert rows["c.example"]["name"] == "Plain"


def test_an_exported_file_imports_unchanged(ops, owners, upload, confirm):
    AccountFactory(name="=Formula Corp", domain="formula.example", industry="-Retail")
    fields = ["name", "domain", "industry", "fit_score", "source"]
    exported = ops.post(
        EXPORT_URL,
        {"resource": "0", "format": "0", **{f"accountresource_{f}": "on" for f in fields}},
    ).content

    preview = upload(ops, exported)
    done = confirm(ops, preview)

    assert "0 new account(s), 0 updated, 1 unchanged." in done.content.decode()
    assert Account.objects.get().name == "=Formula Corp"


def test_people_on_a_side_cannot_reach_the_import(client):
    client.force_login(person("sam", side="sales", approver=True))

    response = client.get(IMPORT_URL)

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_line_numbers_are_the_files_with_blank_lines_and_cells_spanning_lines(ops, upload):
    preview = upload(
        ops,
        "\ufeff"
        + HEADER
        + "Globex,globex.example,,,,,,,,\n"
        + "\n"
        + '"Initech\nHoldings",initech.example,,many,,,,,,\n'
        + "Hooli,hooli.example,,,,ZZ,,,,\n"
        + "Umbrella,umbrella.example,,,,,,,,,surplus\n"
        + "Short,short.example\n",
    )

    assert preview.context["error_lines"] == [
        # A name must be one line (tests/bad_input/test_csv_accounts.py); the line numbers
        # after the cell that spans two lines are what this test is about.
        "line 4, column name: The company's name must be on one line: remove the line breaks, "
        "tabs and other control characters.",
        "line 4, column employee_count: 'many' is not a whole number.",
        "line 6, column country: 'ZZ' is not a two-letter country code (ISO 3166-1), "
        "e.g. DE or US.",
        "line 7: this line has 11 cells but the header has 10 columns.",
    ]
    assert preview.context["valid_count"] == 2  # Globex, and Short with its empty cells
