import pytest

from workflow.services import person_set_role


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def ops_user(db):
    """Revenue operations, as `accord_user --side ops` makes them."""
    user, _ = person_set_role(username="opal", role="ops")
    return user


@pytest.fixture
def ops(client, ops_user):
    client.force_login(ops_user)
    return client
