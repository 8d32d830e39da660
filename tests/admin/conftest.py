import pytest

from workflow.services import person_set_role


@pytest.fixture
def ops_user(db):
    """Revenue operations, as `accord_user --side ops` makes them."""
    user, _ = person_set_role(username="opal", role="ops")
    return user


@pytest.fixture
def ops(client, ops_user):
    client.force_login(ops_user)
    return client
