"""CSV import and export of accounts, through the admin pages, as revenue operations use them."""

import csv
import io

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts_app.models import Account, IcpState, IcpVersion, Source
from tests.factories import AccountFactory, person
from workflow.services import person_set_role

IMPORT_URL = "/admin/accounts_app/account/import/"
PROCESS_URL = "/admin/accounts_app/account/process_import/"
EXPORT_URL = "/admin/accounts_app/account/export/"
HEADER = (
    "name,domain,industry,employee_count,annual_revenue,country,region,"
    "sales_owner,marketing_owner,parent_domain\n"
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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


def upload(client, text: str):
    """The first step: the file is checked and previewed, nothing is saved."""
    return client.post(
        IMPORT_URL,
        {
            "resource": "0",
            "format": "0",
            "import_file": SimpleUploadedFile("accounts.csv", text.encode(), "text/csv"),
        },
    )


def confirm(client, preview, *, valid_rows_only: bool = False):
    form = preview.context["confirm_form"]
    data = {name: form.initial.get(name, "") for name in form.fields if name != "valid_rows_only"}
    if valid_rows_only:
        data["valid_rows_only"] = "on"
    return client.post(PROCESS_URL, data, follow=True)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_it_imports_a_clean_file_after_a_preview(ops, owners, icp):
    preview = upload(
        ops,
        HEADER
        + "Globex,https://www.Globex.example/about,Software,1200,25000000,de,EMEA,sam,mia,\n"
        + "Globex Austria,globex.at,Software,80,,AT,EMEA,sam@corp.example,,globex.example\n"
        + 'Initech,initech.example,Retail,"1,500",,US,NA,,,\n',
    )

    assert preview.status_code == 200
    assert "Confirm import" in preview.content.decode()
    assert Account.objects.count() == 0  # the preview saves nothing

    done = confirm(ops, preview)

    assert "Import finished: 3 new account(s), 0 updated, 0 unchanged." in messages_of(done)
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


def test_a_malformed_row_is_reported_by_line_and_column_and_nothing_is_imported(ops):
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

    assert Account.objects.count() == 0
    shown = messages_of(done)
    assert "Nothing was imported: the file has errors." in shown
    assert "line 3, column employee_count: 'many' is not a whole number." in shown


def test_ops_may_import_the_valid_rows_only_and_see_the_others_listed(ops):
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
    shown = messages_of(done)
    assert "Import finished: 2 new account(s), 0 updated, 0 unchanged." in shown
    assert "line 3, column employee_count: 'many' is not a whole number." in shown


def test_a_row_with_a_known_normalised_domain_updates_that_account(ops, icp):
    AccountFactory(name="Old name", domain="example.com", industry="Retail", region="NA")

    preview = upload(ops, HEADER + "Example Corp,https://www.Example.com/x,Software,,,,EMEA,,,\n")
    confirm(ops, preview)

    account = Account.objects.get()
    assert account.domain == "example.com"
    assert account.name == "Example Corp"
    assert account.industry == "Software"
    assert account.employee_count == 500  # an empty cell leaves the value as it was
    assert account.fit_score == 100  # rescored against the effective profile


def test_a_second_row_with_the_same_normalised_domain_is_an_error_on_that_row(ops):
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


def test_an_unknown_owner_or_one_of_the_wrong_side_is_refused(ops, owners):
    preview = upload(
        ops,
        HEADER + "Globex,globex.example,,,,,,ghost,,\n" + "Initech,initech.example,,,,,,mia,,\n",
    )

    assert preview.context["error_lines"] == [
        "line 2, column sales_owner: nobody in Accord has the username or e-mail 'ghost'.",
        "line 3, column sales_owner: mia is not on the sales side.",
    ]


def test_a_bad_country_code_is_refused(ops):
    preview = upload(
        ops, HEADER + "Globex,globex.example,,,,Germany,,,,\nHooli,hooli.example,,,,XX,,,,\n"
    )

    assert preview.context["error_lines"] == [
        "line 2, column country: 'Germany' is not a two-letter country code (ISO 3166-1), "
        "e.g. DE or US.",
        "line 3, column country: 'XX' is not a two-letter country code (ISO 3166-1), "
        "e.g. DE or US.",
    ]


def test_a_file_without_a_domain_column_or_with_an_unknown_column_is_refused(ops):
    preview = upload(ops, "name,employees\nGlobex,12\n")

    page = preview.content.decode()
    assert "line 1: unknown column &#x27;employees&#x27;" in page
    assert "the file has no domain column" in page
    assert "confirm_form" not in preview.context or preview.context["confirm_form"] is None
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


def test_people_on_a_side_cannot_reach_the_import(client):
    client.force_login(person("sam", side="sales", approver=True))

    response = client.get(IMPORT_URL)

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_line_numbers_are_the_files_with_blank_lines_and_cells_spanning_lines(ops):
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
        "line 4, column employee_count: 'many' is not a whole number.",
        "line 6, column country: 'ZZ' is not a two-letter country code (ISO 3166-1), "
        "e.g. DE or US.",
        "line 7: this line has 11 cells but the header has 10 columns.",
    ]
    assert preview.context["valid_count"] == 2  # Globex, and Short with its empty cells
