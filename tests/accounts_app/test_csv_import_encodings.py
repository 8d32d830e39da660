"""The import reads UTF-8 (with or without a byte order mark), UTF-16 with one (either byte
order) and Windows-1252; anything else is refused in plain words, as is a file too large."""

import codecs

import pytest

from accounts_app.models import Account, CsvImport, ImportState
from tests.accounts_app.csv_import import HEADER

pytestmark = pytest.mark.django_db

NAMES = "Müller Straße GmbH,muller.example,Café & Crème,,,FR,EMEA,,,\n"
EURO = "Dash – and € Ltd,euro.example,,,,,,,,\n"  # characters Windows-1252 has beyond Latin-1


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(lambda text: text.encode("utf-8"), id="utf-8"),
        pytest.param(lambda text: codecs.BOM_UTF8 + text.encode("utf-8"), id="utf-8 with BOM"),
        pytest.param(
            lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"), id="utf-16 LE with BOM"
        ),
        pytest.param(
            lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"), id="utf-16 BE with BOM"
        ),
        pytest.param(lambda text: text.encode("cp1252"), id="windows-1252"),
    ],
)
def test_it_reads_each_encoding_a_spreadsheet_saves(ops, upload, confirm, encoded):
    preview = upload(ops, encoded(HEADER + NAMES + EURO))

    assert preview.context["csv_import"].state == ImportState.CHECKED
    done = confirm(ops, preview)

    assert "Import finished: 2 new account(s)" in done.content.decode()
    muller = Account.objects.get(domain="muller.example")
    assert (muller.name, muller.industry) == ("Müller Straße GmbH", "Café & Crème")
    assert Account.objects.get(domain="euro.example").name == "Dash – and € Ltd"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(HEADER.encode() + b"\x81\x8d\x8f\x90,bad.example,,,,,,,,\n", id="no encoding"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01", id="an image"),
        pytest.param(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", id="an xlsx workbook"),
        pytest.param((HEADER + NAMES).encode("utf-16-le"), id="utf-16 without BOM"),
    ],
)
def test_a_file_it_cannot_decode_is_refused_with_what_to_do(ops, upload, data):
    page = upload(ops, data)

    assert page.context["csv_import"].state == ImportState.FAILED
    text = page.content.decode()
    assert "Save the file as UTF-8 CSV" in text
    assert "Nothing was imported from this file." in text
    assert Account.objects.count() == 0


def test_a_file_over_the_size_limit_is_refused_before_it_is_stored(ops, upload, settings):
    settings.CSV_IMPORT_MAX_BYTES = 1024

    page = upload(ops, HEADER + "Globex,globex.example,,,,,,,,\n" * 40)

    assert page.status_code == 400
    assert "can be imported at once. Split it into smaller files" in page.content.decode()
    assert not CsvImport.objects.exists()


def test_an_empty_file_is_refused(ops, upload):
    page = upload(ops, b"")

    assert page.status_code == 400
    assert "The submitted file is empty." in page.content.decode()
    assert not CsvImport.objects.exists()
