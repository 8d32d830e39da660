""" "Is this person revenue operations" has one answer (core.roles.is_ops), the same for the
services, the pages, the admin and the API: an active member of the ops group, or a superuser."""

import pytest
from django.test import Client

from core.errors import NotAllowed
from core.roles import is_ops
from tests.factories import person
from workflow import services
from workflow.models import ListVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(db):
    return person("root", side=None, is_superuser=True, is_staff=True)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_superuser_outside_the_ops_group_is_ops_on_pages_and_in_the_api(root):
    page = signed_in(root).get("/sync/").content.decode()
    me = signed_in(root).get("/api/v1/me/").json()

    assert "Push now" in page
    assert "Revenue operations" in page and "No side" not in page  # the header's badge
    assert me["is_ops"] is True


def test_a_superuser_may_do_what_ops_do(root, the_cycle):
    services.list_version_publish(cycle=the_cycle, by=root)

    assert ListVersion.objects.filter(cycle=the_cycle).count() == 1


def test_an_ops_member_whose_account_is_deactivated_is_not_ops(the_cycle):
    former = person("otto", side="ops", is_active=False)

    assert not is_ops(former)
    with pytest.raises(NotAllowed, match="Only revenue operations"):
        services.list_version_publish(cycle=the_cycle, by=former)
    assert not ListVersion.objects.exists()


def test_people_on_a_side_are_not_ops(people, the_cycle):
    with pytest.raises(NotAllowed):
        services.list_version_publish(cycle=the_cycle, by=people.marketing_approver)
    assert not is_ops(people.marketing_approver) and is_ops(people.ops)
