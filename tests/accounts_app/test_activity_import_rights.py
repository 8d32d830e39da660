"""Who may import activities: whoever may write them (require_activity_writer: ops, or anyone
granted accounts_app.add_activity) and is staff, as every admin page needs; each person reaches
only their own imports, of this kind."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from accounts_app.models import Activity
from tests.accounts_app.csv_import import (
    ACTIVITY_CONFIRM_URL,
    ACTIVITY_HEADER,
    ACTIVITY_IMPORT_URL,
    activity_progress_url,
    activity_rows,
    activity_status_url,
)
from tests.factories import AccountFactory, person
from workflow.services import person_set_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def globex(db):
    return AccountFactory(name="Globex", domain="globex.example")


def grant(user, codename: str = "add_activity") -> None:
    user.user_permissions.add(
        Permission.objects.get(codename=codename, content_type__app_label="accounts_app")
    )


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_confirm(client, import_id, choice="all"):
    return client.post(ACTIVITY_CONFIRM_URL, {"import_id": import_id, "choice": choice})


def test_staff_without_the_right_to_write_activities_are_refused(ops, upload_activities, globex):
    mine = upload_activities(ops, ACTIVITY_HEADER + activity_rows(globex, 2)).context["csv_import"]
    stan = person("stan", side=None, is_staff=True)
    grant(stan, "view_activity")  # may see the list, not write to it
    staff = signed_in(stan)

    assert staff.get(ACTIVITY_IMPORT_URL).status_code == 403
    assert staff.get(activity_status_url(mine.pk)).status_code == 403
    assert staff.get(activity_progress_url(mine.pk)).status_code == 403
    assert post_confirm(staff, mine.pk).status_code == 403
    assert "import_link" not in staff.get("/admin/accounts_app/activity/").content.decode()
    assert not Activity.objects.exists()


def test_staff_granted_the_right_import_with_their_own_external_ids(
    upload_activities, confirm_activities, globex
):
    stella = person("stella", side=None, is_staff=True)
    grant(stella)
    client = signed_in(stella)

    done = confirm_activities(
        client, upload_activities(client, ACTIVITY_HEADER + activity_rows(globex, 2))
    )

    assert "Import finished: 2 new activities" in done.content.decode()
    assert set(Activity.objects.values_list("crm_id", flat=True)) == {
        f"api:{stella.pk}:visit-0",
        f"api:{stella.pk}:visit-1",
    }


def test_someone_granted_the_right_but_not_staff_is_sent_to_the_admin_login(globex):
    mina = person("mina", side="marketing")
    grant(mina)

    response = signed_in(mina).get(ACTIVITY_IMPORT_URL)

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_ops_see_the_import_button_on_the_list_of_activities(ops):
    page = ops.get("/admin/accounts_app/activity/").content.decode()

    assert f"href='{ACTIVITY_IMPORT_URL}' class=\"import_link\"" in page


def test_another_persons_import_or_one_of_accounts_is_not_found(
    ops, upload, upload_activities, globex
):
    mine = upload_activities(ops, ACTIVITY_HEADER + activity_rows(globex, 2)).context["csv_import"]
    accounts = upload(ops, "name,domain\nGlobex,globex.example\n").context["csv_import"]
    other, _ = person_set_role(username="otto", role="ops")
    otto = signed_in(other)

    for url in (activity_status_url(mine.pk), activity_progress_url(mine.pk)):
        assert otto.get(url).status_code == 404
    assert post_confirm(otto, mine.pk).status_code == 404
    # An import of accounts is not one of activities, even for the person who uploaded it.
    assert ops.get(activity_status_url(accounts.pk)).status_code == 404
    assert post_confirm(ops, accounts.pk).status_code == 404
    assert not Activity.objects.exists()
