import pytest

from crm.sandbox import run_sandbox
from tests.crm.helpers import KEY_PROPERTY, TOKEN


@pytest.fixture
def fast_retries(settings):
    """Retries without real waiting: backoff in milliseconds."""
    settings.CRM_RETRY_BASE_SECONDS = 0.005
    settings.CRM_RETRY_MAX_SECONDS = 0.02
    settings.CRM_RATE_LIMIT_REDIS_URL = ""
    settings.CRM_HTTP_TIMEOUT_SECONDS = 2.0


@pytest.fixture
def hubspot(settings, fast_retries):
    """A HubSpot sandbox with Accord's key property, and Accord pointed at it."""
    with run_sandbox(
        "hubspot", token=TOKEN, rate_limit=100_000, search_rate_limit=100_000
    ) as sandbox:
        settings.CRM_BACKEND = "hubspot"
        settings.HUBSPOT_BASE_URL = sandbox.url
        settings.HUBSPOT_ACCESS_TOKEN = TOKEN
        settings.HUBSPOT_ACCOUNT_KEY_PROPERTY = KEY_PROPERTY
        settings.HUBSPOT_RATE_LIMIT = 100_000
        settings.HUBSPOT_SEARCH_RATE_LIMIT = 100_000
        from crm.adapters import get_adapter

        adapter = get_adapter("hubspot")
        try:
            adapter.ensure_properties()
        finally:
            adapter.close()
        sandbox.hook("POST", "counters/reset")
        yield sandbox


@pytest.fixture
def salesforce(settings, fast_retries):
    with run_sandbox("salesforce", client_id="cid", client_secret="secret") as sandbox:
        settings.CRM_BACKEND = "salesforce"
        settings.SALESFORCE_LOGIN_URL = sandbox.url
        settings.SALESFORCE_CLIENT_ID = "cid"
        settings.SALESFORCE_CLIENT_SECRET = "secret"
        settings.SALESFORCE_RATE_LIMIT = 100_000
        yield sandbox


@pytest.fixture(autouse=True)
def _one_push_thread(settings):
    # Threads of a push have their own connections, which cannot see a test's transaction.
    settings.CRM_PUSH_CONCURRENCY = 1
