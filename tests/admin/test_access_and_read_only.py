"""Who reaches the admin, what they may change there, and what nobody may change."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model

from tests.admin.helpers import agree
from workflow import services
from workflow.models import (
    ListVersion,
    Nomination,
    NominationEvent,
    SignOff,
    State,
    TargetAccount,
)

User = get_user_model()

pytestmark = pytest.mark.django_db

SERVICE_ONLY = ("nomination", "signoff", "nominationevent", "targetaccount", "listversion")


def test_every_model_of_accounts_and_workflow_is_registered():
    models = [*apps.get_app_config("accounts_app").get_models()]
    models += apps.get_app_config("workflow").get_models()

    assert [m.__name__ for m in models if not admin.site.is_registered(m)] == []


def test_ops_see_every_list_and_edit_only_accounts_contacts_profiles_cycles_and_tiers(
    ops, people, the_cycle
):
    agree(the_cycle, people)
    for model in [
        *apps.get_app_config("accounts_app").get_models(),
        *apps.get_app_config("workflow").get_models(),
    ]:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert ops.get(url).status_code == 200, url

    assert ops.get("/admin/accounts_app/account/add/").status_code == 200
    assert ops.get("/admin/workflow/cycle/add/").status_code == 200
    assert ops.get("/admin/auth/user/").status_code == 200
    assert ops.get("/admin/auth/user/add/").status_code == 200  # through accord_user's rules


def test_people_on_a_side_cannot_use_the_admin(client, people):
    client.force_login(people.sales_approver)

    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("model", SERVICE_ONLY)
def test_what_only_services_write_cannot_be_added_even_by_a_superuser(admin_client, model):
    assert admin_client.get(f"/admin/workflow/{model}/add/").status_code == 403


@pytest.mark.parametrize("model", [Nomination, SignOff, TargetAccount, ListVersion])
def test_what_only_services_write_cannot_be_deleted_even_by_a_superuser(
    admin_client, admin_user, people, the_cycle, model
):
    agree(the_cycle, people)
    services.list_version_publish(cycle=the_cycle, by=admin_user)
    obj = model.objects.first()
    url = f"/admin/workflow/{model._meta.model_name}/{obj.pk}/delete/"

    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=obj.pk).exists()


def test_a_nomination_is_read_only_with_its_audit_trail_inline(admin_client, people, the_cycle):
    n = agree(the_cycle, people)
    services.comment_create(nomination=n, by=people.sales_member, body="Looks good @mara")
    url = f"/admin/workflow/nomination/{n.pk}/change/"

    page = admin_client.get(url)

    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="state"' not in html and 'name="round"' not in html
    assert 'name="proposer_side"' not in html and 'name="rationale"' not in html
    assert "Agreed by both sides" in html  # the events inline
    assert "Looks good @mara" in html  # the comments inline
    assert "Approve" in html  # the sign-offs inline
    assert admin_client.post(url, {"state": State.WITHDRAWN}).status_code == 403
    n.refresh_from_db()
    assert n.state == State.APPROVED


def test_events_cannot_be_changed_or_deleted_in_the_admin(admin_client, people, the_cycle):
    event = agree(the_cycle, people).events.first()
    base = f"/admin/workflow/nominationevent/{event.pk}"

    assert admin_client.get(f"{base}/change/").status_code == 200  # view only
    assert admin_client.post(f"{base}/change/", {"note": "edited"}).status_code == 403
    assert admin_client.post(f"{base}/delete/", {"post": "yes"}).status_code == 403
    assert NominationEvent.objects.get(pk=event.pk).note == event.note


def test_the_delete_action_is_not_offered_for_the_audit_trail(admin_client, people, the_cycle):
    agree(the_cycle, people)

    page = admin_client.get("/admin/workflow/nominationevent/")

    assert "delete_selected" not in page.content.decode()
