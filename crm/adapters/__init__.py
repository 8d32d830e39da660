"""CRM adapters, one interface (crm.adapters.base.Adapter), chosen by `CRM_BACKEND`:
`hubspot`, `salesforce`, `webhook` or `none` (sync off: changes are recorded, nothing is sent).
"""

from __future__ import annotations

from django.conf import settings

from crm.adapters.base import (
    Adapter,
    ConfigurationError,
    CrmError,
    Deferred,
    PushRecord,
    RecordResult,
    RetryPolicy,
    TransientError,
)
from crm.ratelimit import Limit, limiter

__all__ = [
    "Adapter",
    "ConfigurationError",
    "CrmError",
    "Deferred",
    "PushRecord",
    "RecordResult",
    "TransientError",
    "backend_name",
    "get_adapter",
]

BACKENDS = ("hubspot", "salesforce", "webhook", "none")


def backend_name() -> str:
    name = (getattr(settings, "CRM_BACKEND", "none") or "none").lower()
    if name not in BACKENDS:
        raise ConfigurationError(f"CRM_BACKEND must be one of {', '.join(BACKENDS)}, not {name!r}.")
    return name


def _transport_options(name: str, requests: int, window_seconds: float = 10.0) -> dict:
    s = settings
    return {
        "timeout": s.CRM_HTTP_TIMEOUT_SECONDS,
        "policy": RetryPolicy(
            max_tries=s.CRM_HTTP_MAX_TRIES,
            base_seconds=s.CRM_RETRY_BASE_SECONDS,
            max_seconds=s.CRM_RETRY_MAX_SECONDS,
            retry_after_max_seconds=s.CRM_RETRY_AFTER_MAX_SECONDS,
        ),
        "limiter": limiter(
            name,
            Limit(requests, window_seconds, s.CRM_RATE_LIMIT_HEADROOM),
            redis_url=s.CRM_RATE_LIMIT_REDIS_URL,
        ),
    }


def get_adapter(backend: str | None = None) -> Adapter:
    """A fresh adapter for one run (it keeps per-run state: tokens, the domain index)."""
    name = backend or backend_name()
    s = settings
    if name == "hubspot":
        from crm.adapters.hubspot import HubSpotAdapter

        if not s.HUBSPOT_ACCESS_TOKEN:
            raise ConfigurationError("Set HUBSPOT_ACCESS_TOKEN (a private app's access token).")
        return HubSpotAdapter(
            base_url=s.HUBSPOT_BASE_URL,
            token=s.HUBSPOT_ACCESS_TOKEN,
            key_property=s.HUBSPOT_ACCOUNT_KEY_PROPERTY,
            transport_options=_transport_options(
                "hubspot", s.HUBSPOT_RATE_LIMIT, s.HUBSPOT_RATE_WINDOW_SECONDS
            ),
            search_limiter=limiter(
                "hubspot-search",
                # The search API's own limit is per second.
                Limit(s.HUBSPOT_SEARCH_RATE_LIMIT, 1.0, s.CRM_RATE_LIMIT_HEADROOM),
                redis_url=s.CRM_RATE_LIMIT_REDIS_URL,
            ),
            match_domains=s.HUBSPOT_MATCH_DOMAINS,
            defer_seconds=s.CRM_DEFER_ON_DAILY_LIMIT_SECONDS,
        )
    if name == "salesforce":
        from crm.adapters.salesforce import SalesforceAdapter

        if not (s.SALESFORCE_CLIENT_ID and s.SALESFORCE_CLIENT_SECRET):
            raise ConfigurationError("Set SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET.")
        return SalesforceAdapter(
            login_url=s.SALESFORCE_LOGIN_URL,
            client_id=s.SALESFORCE_CLIENT_ID,
            client_secret=s.SALESFORCE_CLIENT_SECRET,
            api_version=s.SALESFORCE_API_VERSION,
            external_id_field=s.SALESFORCE_EXTERNAL_ID_FIELD,
            target_field=s.SALESFORCE_TARGET_FIELD,
            tier_field=s.SALESFORCE_TIER_FIELD,
            transport_options=_transport_options("salesforce", s.SALESFORCE_RATE_LIMIT),
            defer_seconds=s.CRM_DEFER_ON_DAILY_LIMIT_SECONDS,
        )
    if name == "webhook":
        from crm.adapters.webhook import WebhookAdapter

        return WebhookAdapter(
            url=s.CRM_WEBHOOK_URL,
            secret=s.CRM_WEBHOOK_SECRET,
            batch_size=s.CRM_WEBHOOK_BATCH_SIZE,
            transport_options=_transport_options("webhook", s.CRM_WEBHOOK_RATE_LIMIT),
        )
    from crm.adapters.none import NoneAdapter

    return NoneAdapter()
