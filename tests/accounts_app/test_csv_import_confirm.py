"""The confirmation step checks what it is sent: a forged or replayed form answers 400 (404
for an import that is not the person's) and imports nothing; only ops reach the import."""

import pytest
from django.test import Client

from accounts_app.models import Account, CsvImport, ImportState
from tests.accounts_app.csv_import import CONFIRM_URL, HEADER, IMPORT_URL, progress_url, status_url
from tests.factories import person
from workflow.services import person_set_role

pytestmark = pytest.mark.django_db

CLEAN = HEADER + "Globex,globex.example,,,,,,,,\n"
WITH_ERRORS = HEADER + "Globex,globex.example,,,,,,,,\nInitech,initech.example,,many,,,,,,\n"


def post_confirm(client, import_id, choice):
    return client.post(CONFIRM_URL, {"import_id": import_id, "choice": choice})


@pytest.mark.parametrize("import_id", ["", "abc", "1 OR 1=1", "-1", "1.0", "١", "9" * 40, "0x1"])
def test_a_forged_import_id_answers_400(ops, upload, import_id):
    upload(ops, CLEAN)

    response = post_confirm(ops, import_id, "all")

    assert response.status_code == 400
    assert Account.objects.count() == 0


@pytest.mark.parametrize("choice", ["", "everything", "ALL", "valid ", "on"])
def test_an_unknown_choice_answers_400(ops, upload, choice):
    preview = upload(ops, CLEAN)

    response = post_confirm(ops, preview.context["csv_import"].pk, choice)

    assert response.status_code == 400
    assert "Choose to import the file, or its valid rows only." in response.content.decode()
    assert Account.objects.count() == 0
    assert CsvImport.objects.get().state == ImportState.CHECKED


def test_valid_rows_only_of_a_file_without_errors_answers_400(ops, upload):
    preview = upload(ops, CLEAN)

    response = post_confirm(ops, preview.context["csv_import"].pk, "valid")

    assert response.status_code == 400
    assert Account.objects.count() == 0


def test_confirming_an_import_that_is_not_waiting_answers_400(ops, upload, confirm):
    done = confirm(ops, upload(ops, CLEAN))
    assert Account.objects.count() == 1
    Account.objects.all().delete()

    # The same form again (a replay), and a file whose check has not finished.
    replayed = post_confirm(ops, done.context["csv_import"].pk, "all")
    checking = CsvImport.objects.create(
        kind="accounts",
        uploaded_by=done.context["csv_import"].uploaded_by,
        file_name="x.csv",
        size=1,
        data=b"x",
    )
    unchecked = post_confirm(ops, checking.pk, "all")

    assert replayed.status_code == 400
    assert "only a checked file waiting for confirmation can be imported" in (
        replayed.content.decode()
    )
    assert unchecked.status_code == 400
    assert Account.objects.count() == 0
    assert CsvImport.objects.get(pk=checking.pk).state == ImportState.CHECKING


def test_a_confirm_without_a_post_is_refused(ops, upload):
    preview = upload(ops, CLEAN)

    response = ops.get(CONFIRM_URL, {"import_id": preview.context["csv_import"].pk})

    assert response.status_code == 405
    assert Account.objects.count() == 0


def test_another_persons_or_a_missing_import_is_not_found(ops, upload):
    preview = upload(ops, WITH_ERRORS)
    mine = preview.context["csv_import"].pk
    other, _ = person_set_role(username="otto", role="ops")
    otto = Client()
    otto.force_login(other)

    for url in (status_url(mine), progress_url(mine), status_url(mine + 99), status_url("9" * 40)):
        assert otto.get(url).status_code == 404
    assert post_confirm(otto, mine, "valid").status_code == 404
    assert post_confirm(ops, mine + 99, "valid").status_code == 404
    assert Account.objects.count() == 0
    assert CsvImport.objects.get().state == ImportState.CHECKED


def test_staff_without_the_import_permission_are_refused(ops, upload):
    preview = upload(ops, CLEAN)
    mine = preview.context["csv_import"].pk
    staff = Client()
    staff.force_login(person("stan", side=None, is_staff=True))

    assert staff.get(IMPORT_URL).status_code == 403
    assert staff.get(status_url(mine)).status_code == 403
    assert staff.get(progress_url(mine)).status_code == 403
    assert post_confirm(staff, mine, "all").status_code == 403
    assert Account.objects.count() == 0


def test_people_on_a_side_are_sent_to_the_admin_login(ops, upload):
    preview = upload(ops, CLEAN)
    mine = preview.context["csv_import"].pk
    seller = Client()
    seller.force_login(person("sid", side="sales"))

    for response in (
        seller.get(status_url(mine)),
        seller.get(progress_url(mine)),
        post_confirm(seller, mine, "all"),
    ):
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]
    assert Account.objects.count() == 0
