"""CSV import of activities, through the admin pages, as revenue operations use it: the same
steps as the account import (upload, check in a task, preview, confirm, import in a task), the
rules of POST /api/v1/activities/, and every problem by line and column.

Tests run Celery tasks in-process, so the check (and, after the confirmation, the import) has
run when the page after the upload shows.
"""

import codecs
import datetime

import pytest
from django.contrib.auth import get_user_model

from accounts_app.models import Activity, ActivityKind, CsvImport, ImportKind, ImportState
from tests.accounts_app.csv_import import ACTIVITY_HEADER, activity_rows
from tests.api.conftest import client_for
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
NOTHING = "Nothing was imported from this file."


@pytest.fixture
def globex(db):
    return AccountFactory(name="Globex", domain="globex.example")


@pytest.fixture
def initech(db):
    return AccountFactory(name="Initech", domain="initech.example")


def ops_user():
    return get_user_model().objects.get(username="opal")


def test_it_imports_a_clean_file_after_a_preview(
    ops, upload_activities, confirm_activities, globex, initech, settings
):
    settings.TIME_ZONE = "Europe/Berlin"
    ada = ContactFactory(account=globex, email="Ada@Globex.example")
    text = (
        ACTIVITY_HEADER
        + f"{globex.pk},,,ada@globex.example,email_click,marketing,2026-11-30T14:05:00Z,"
        "Webinar invite,mkto-1\n"
        + f",{initech.key},,,meeting,sales,2026-11-30 14:05,Kick-off,sf-2\n"
        + ",,https://www.Globex.example/pricing,,Web_Visit,MARKETING,2026-12-01,,ga-3\n"
    )

    preview = upload_activities(ops, text)

    assert preview.status_code == 200
    page = preview.content.decode()
    assert "Confirm import" in page
    assert "<th>New activities</th><td>3</td>" in page
    assert not Activity.objects.exists()  # the preview saves nothing

    done = confirm_activities(ops, preview)

    assert "Import finished: 3 new activities, 0 updated, 0 unchanged." in done.content.decode()
    by = ops_user().pk
    webinar = Activity.objects.get(crm_id=f"api:{by}:mkto-1")
    assert (webinar.account, webinar.contact) == (globex, ada)
    assert (webinar.kind, webinar.side) == (ActivityKind.EMAIL_CLICK, "marketing")
    assert webinar.occurred_at == datetime.datetime(2026, 11, 30, 14, 5, tzinfo=UTC)
    assert webinar.subject == "Webinar invite"
    kick_off = Activity.objects.get(crm_id=f"api:{by}:sf-2")
    assert (kick_off.account, kick_off.contact, kick_off.kind) == (initech, None, "meeting")
    assert kick_off.side == "sales"
    # No offset: read in the site's time zone (CET, UTC+1 on that day).
    assert kick_off.occurred_at == datetime.datetime(2026, 11, 30, 13, 5, tzinfo=UTC)
    visit = Activity.objects.get(crm_id=f"api:{by}:ga-3")
    assert (visit.account, visit.kind, visit.side) == (globex, "web_visit", "marketing")
    # A date alone: its midnight in the site's time zone.
    assert visit.occurred_at == datetime.datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    assert visit.subject == ""


def test_the_same_file_again_changes_nothing_and_a_changed_row_updates_its_activity(
    ops, upload_activities, confirm_activities, globex
):
    first = confirm_activities(
        ops, upload_activities(ops, ACTIVITY_HEADER + activity_rows(globex, 3))
    )
    assert "3 new activities" in first.content.decode()
    ids = set(Activity.objects.values_list("pk", flat=True))

    again = upload_activities(ops, ACTIVITY_HEADER + activity_rows(globex, 3))
    assert "<th>Unchanged</th><td>3</td>" in again.content.decode()
    assert "0 new activities, 0 updated, 3 unchanged." in (
        confirm_activities(ops, again).content.decode()
    )

    changed = activity_rows(globex, 3).replace("/pricing 1,", "/pricing read twice,")
    done = confirm_activities(ops, upload_activities(ops, ACTIVITY_HEADER + changed))

    assert "0 new activities, 1 updated, 2 unchanged." in done.content.decode()
    assert set(Activity.objects.values_list("pk", flat=True)) == ids  # never a duplicate
    assert Activity.objects.get(crm_id=f"api:{ops_user().pk}:visit-1").subject == (
        "/pricing read twice"
    )


def test_an_external_id_is_the_uploaders_as_in_the_api(
    ops, upload_activities, confirm_activities, globex
):
    """The file's external ids are the person's own, as a request's are its caller's: the same
    id sent through the API by the same person is the same activity."""
    sent = client_for(ops_user()).post(
        "/api/v1/activities/",
        {
            "rows": [
                {
                    "account": globex.pk,
                    "kind": "web_visit",
                    "side": "marketing",
                    "occurred_at": "2026-11-01T10:00:00Z",
                    "subject": "from the API",
                    "external_id": "visit-0",
                }
            ]
        },
        format="json",
    )
    assert sent.status_code == 201

    done = confirm_activities(
        ops, upload_activities(ops, ACTIVITY_HEADER + activity_rows(globex, 2))
    )

    assert "1 new activity, 1 updated, 0 unchanged." in done.content.decode()
    assert Activity.objects.count() == 2
    assert Activity.objects.get(crm_id=f"api:{ops_user().pk}:visit-0").subject == "/pricing 0"


def bad_file(globex, initech) -> str:
    bob = ContactFactory(account=initech, email="bob@initech.example")
    ok = "web_visit,marketing,2026-11-30T10:00:00Z"
    return (
        ACTIVITY_HEADER
        + f"999999,,,,{ok},,a-1\n"  # line 2: no such account
        + f"{globex.pk},,globex.example,,{ok},,a-2\n"  # two ways to name the account
        + f"{globex.pk},,,,telepathy,marketing,2026-11-30T10:00:00Z,,a-3\n"
        + f"{globex.pk},,,,web_visit,legal,2026-11-30T10:00:00Z,,a-4\n"
        + f"{globex.pk},,,,web_visit,marketing,30/11/2026,,a-5\n"
        + f"{globex.pk},,,{bob.email},{ok},,a-6\n"  # another account's contact
        + f"{globex.pk},,,,{ok},,a-1\n"  # line 8: line 2's external id again
        + f"{globex.pk},,,,{ok},,a-8,surplus\n"  # a cell more than the header has
        + f"{globex.pk},,,,{ok},,a-9\n"  # line 10: the one valid row
        + ",not-a-uuid,,not an e-mail,,,,,\n"  # line 11
        + f"x1,,,,{ok},,has space\n"  # line 12
    )


BAD_FILE_PROBLEMS = [
    "line 2, column account: There is no such account.",
    "line 3, column account: Name the account by exactly one of account (its id), account_key "
    "or domain.",
    "line 4, column kind: Not a kind of activity: 'telepathy'.",
    "line 5, column side: The side is marketing or sales.",
    "line 6, column occurred_at: '30/11/2026' is not a date and time; write it as ISO 8601, e.g. "
    "2026-11-30T14:05:00Z, 2026-11-30 14:05 (read in UTC) or 2026-11-30.",
    "line 7, column contact_email: The account has no contact with this e-mail address.",
    "line 8, column external_id: a-1 is already on line 2 of this file; each activity may appear "
    "only once.",
    "line 9: this line has 10 cells but the header has 9 columns.",
    "line 11, column account_key: 'not-a-uuid' is not an account key: Accord's keys are UUIDs "
    "such as 6f1c2a3e-9b4d-4e8f-a1b2-c3d4e5f60718.",
    "line 11, column contact_email: 'not an e-mail' is not an e-mail address.",
    "line 11, column kind: the kind is empty; give one of email, meeting, call, web_visit, "
    "ad_click, event, form_fill, email_click, campaign_response.",
    "line 11, column side: the side is empty; give who performed the activity: marketing or sales.",
    "line 11, column occurred_at: the time is empty; give when the activity happened, e.g. "
    "2026-11-30T14:05:00Z.",
    "line 11, column external_id: the external_id is empty; give your id for the activity, so "
    "that importing the file again updates it instead of adding it twice.",
    "line 12, column account: 'x1' is not an account id: give the account's number in Accord (a "
    "whole number), or name it in account_key or domain instead.",
    "line 12, column external_id: Use 1 to 100 visible ASCII characters.",
]


def test_bad_rows_are_reported_by_line_and_column_and_all_of_the_file_imports_nothing(
    ops, upload_activities, confirm_activities, globex, initech
):
    preview = upload_activities(ops, bad_file(globex, initech))

    assert preview.context["error_lines"] == BAD_FILE_PROBLEMS
    page = preview.content.decode()
    assert "Confirm import" not in page
    assert "Import the 1 valid row only" in page

    # Confirming all of it (e.g. a replayed form) imports nothing.
    refused = confirm_activities(ops, preview)

    assert refused.status_code == 400
    assert "Nothing was imported: the file has errors." in refused.content.decode()
    assert not Activity.objects.exists()
    assert CsvImport.objects.get().state == ImportState.CHECKED  # still up to ops


def test_valid_rows_only_imports_exactly_the_valid_ones(
    ops, upload_activities, confirm_activities, globex, initech
):
    preview = upload_activities(ops, bad_file(globex, initech))

    done = confirm_activities(ops, preview, valid_rows_only=True)

    shown = done.content.decode()
    assert "Import finished: 1 new activity, 0 updated, 0 unchanged." in shown
    assert "10 row(s) with errors were left out, as you chose:" in shown
    assert "line 2, column account: There is no such account." in shown
    assert list(Activity.objects.values_list("crm_id", "account")) == [
        (f"api:{ops_user().pk}:a-9", globex.pk)
    ]


def test_a_file_without_the_columns_an_activity_needs_is_refused(ops, upload_activities):
    page = upload_activities(ops, "kind,side,colour\nweb_visit,marketing,blue\n")

    assert page.context["csv_import"].state == ImportState.FAILED
    text = page.content.decode()
    assert "line 1: unknown column &#x27;colour&#x27;" in text
    assert (
        "line 1: the file has no occurred_at and no external_id column; every activity needs a "
        "kind, a side, the time it occurred at and an external_id." in text
    )
    assert (
        "line 1: the file has none of the columns account, account_key, domain; every activity "
        "names its account by its id, its key or its domain." in text
    )
    assert NOTHING in text
    assert not Activity.objects.exists()


def test_a_file_of_a_header_only_is_refused_in_its_kinds_words(ops, upload_activities):
    page = upload_activities(ops, ACTIVITY_HEADER)

    assert "The file has a header line but no activity: add a line per activity." in (
        page.content.decode()
    )


@pytest.mark.parametrize(
    "cell, expected",
    [
        pytest.param("2026-11-30T14:05:00+01:00", "2026-11-30T13:05:00+00:00", id="offset"),
        pytest.param("2026-11-30T14:05:00.250Z", "2026-11-30T14:05:00.250000+00:00", id="Z"),
        pytest.param("2026-07-01 14:05", "2026-07-01T12:05:00+00:00", id="summer time"),
        pytest.param("2026-10-25 02:30", "2026-10-25T00:30:00+00:00", id="the hour twice"),
    ],
)
def test_a_time_is_iso_8601_and_without_offset_in_the_sites_time_zone(
    ops, upload_activities, confirm_activities, globex, settings, cell, expected
):
    settings.TIME_ZONE = "Europe/Berlin"

    confirm_activities(
        ops,
        upload_activities(ops, ACTIVITY_HEADER + f"{globex.pk},,,,call,sales,{cell},,call-1\n"),
    )

    assert Activity.objects.get().occurred_at.isoformat() == expected


@pytest.mark.parametrize(
    "cell, message",
    [
        ("2026-02-30", "'2026-02-30' is not a date and time"),
        ("2026-11-30T25:00", "'2026-11-30T25:00' is not a date and time"),
        ("yesterday", "'yesterday' is not a date and time"),
        ("0001-01-01T00:00+01:00", "'0001-01-01T00:00+01:00' is too far in the past or the future"),
        (
            "2026-03-29 02:30",
            "'2026-03-29 02:30' does not exist in Europe/Berlin (the clocks skip it)",
        ),
    ],
)
def test_a_time_that_is_not_one_is_refused(ops, upload_activities, globex, settings, cell, message):
    settings.TIME_ZONE = "Europe/Berlin"

    preview = upload_activities(ops, ACTIVITY_HEADER + f"{globex.pk},,,,call,sales,{cell},,c-1\n")

    (problem,) = preview.context["error_lines"]
    assert problem.startswith(f"line 2, column occurred_at: {message}")


def test_a_subject_is_one_line_of_at_most_200_characters(ops, upload_activities, globex):
    rest = "call,sales,2026-11-30T10:00:00Z"
    preview = upload_activities(
        ops,
        ACTIVITY_HEADER
        + f'{globex.pk},,,,{rest},"Call\nBcc: attacker@evil.example",c-1\n'
        + f"{globex.pk},,,,{rest},{'x' * 201},c-2\n"
        + f"{globex.pk},,,,{rest},{'x' * 200},c-3\n",
    )

    assert preview.context["error_lines"] == [
        "line 2, column subject: The subject must be on one line: remove the line breaks, tabs "
        "and other control characters.",
        "line 4, column subject: 201 characters is too long; at most 200 fit.",
    ]
    assert preview.context["valid_count"] == 1


def test_a_utf16_file_with_a_byte_order_mark_is_read(
    ops, upload_activities, confirm_activities, globex
):
    text = ACTIVITY_HEADER + f"{globex.pk},,,,event,marketing,2026-11-30,Messe – Café € 東京,e-1\n"

    preview = upload_activities(ops, codecs.BOM_UTF16_LE + text.encode("utf-16-le"))

    assert preview.context["csv_import"].encoding == "utf-16"
    confirm_activities(ops, preview)
    assert Activity.objects.get().subject == "Messe – Café € 東京"


def test_the_import_history_lists_both_kinds_with_a_filter(ops, upload, upload_activities, globex):
    upload(ops, "name,domain\nGlobex,globex.example\n")
    upload_activities(ops, ACTIVITY_HEADER + activity_rows(globex, 1))

    both = ops.get("/admin/accounts_app/csvimport/")
    activities = ops.get("/admin/accounts_app/csvimport/", {"kind__exact": ImportKind.ACTIVITIES})

    assert both.context["cl"].result_count == 2
    assert [i.kind for i in activities.context["cl"].result_list] == [ImportKind.ACTIVITIES]
    assert "activities.csv" in activities.content.decode()
    assert "accounts.csv" not in activities.content.decode()
