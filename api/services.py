"""Writes that belong to the API itself: API tokens, integration logins and the idempotency-key
store. Everything else the API changes goes through workflow.services and
accounts_app.services."""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from api.idempotency import ttl
from api.models import ApiToken, IdempotencyKey, ServiceAccount
from core.errors import Conflict, Invalid
from core.roles import require_ops

User = get_user_model()


def _require_ops_or_shell(by, action: str) -> None:
    # `by=None` is someone with shell access running a management command.
    if by is not None:
        require_ops(by, action)


# A token's last use is written at most this often, not at every request.
LAST_USED_PRECISION = timedelta(minutes=1)


def _token_ttl(user) -> timedelta | None:
    days = (
        settings.API_INTEGRATION_TOKEN_TTL_DAYS
        if ServiceAccount.objects.filter(user=user).exists()
        else settings.API_TOKEN_TTL_DAYS
    )
    return timedelta(days=days) if days > 0 else None


def api_token_issue(*, user) -> str:
    """Make a new API token for `user` and return its key, which is stored only as a digest and
    so can never be shown again. It expires after API_TOKEN_TTL_DAYS for a person and
    API_INTEGRATION_TOKEN_TTL_DAYS for an integration login (0: never). The person's other
    tokens keep working until they expire or are revoked; an integration login's are replaced
    by service_account_token_rotate."""
    _, key = ApiToken.objects.create(user=user, expiry=_token_ttl(user))
    return key


def api_token_revoke(*, token: ApiToken, by) -> None:
    """Delete a token: it answers 401 from the next request on. Ops may revoke anyone's."""
    require_ops(by, "revoke API tokens")
    token.delete()


def api_token_touch(*, token: ApiToken, now: datetime | None = None) -> None:
    """Record that the token was just used, unless that was recorded less than a minute ago:
    one write a minute per token at most, and concurrent requests write it once."""
    now = now or timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_PRECISION:
        return
    ApiToken.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_PRECISION),
        pk=token.pk,
    ).update(last_used_at=now)
    token.last_used_at = now


def service_account_create(
    *, username: str, description: str = "", by=None
) -> tuple[ServiceAccount, str]:
    """Create a read-only integration login for a CRM-side job and its token.

    1. Only revenue operations (or a management command) may do this.
    2. The login is a user with no side and an unusable password, so it can never sign in
       to the site nor act in the workflow; the API lets it read accounts, cycles and the
       agreed list only.
    3. Returns the service account and its token, which is shown once.
    """
    _require_ops_or_shell(by, "create integration tokens")
    username = (username or "").strip()
    try:
        User.username_validator(username)
    except ValidationError:
        raise Invalid(
            f"“{username}” is not a valid name: use letters, digits and @ . + - _ only.",
            field="username",
        ) from None
    if User.objects.filter(username=username).exists():
        raise Conflict(f"The name {username} is already taken.", field="username")
    try:
        with transaction.atomic():
            user = User(username=username)
            user.set_unusable_password()
            user.save()
            service_account = ServiceAccount.objects.create(
                user=user, description=(description or "").strip(), created_by=by
            )
            key = api_token_issue(user=user)
    except IntegrityError:
        raise Conflict(f"The name {username} is already taken.", field="username") from None
    return service_account, key


def service_account_token_rotate(*, service_account: ServiceAccount, by=None) -> str:
    """Replace the integration token: the old one stops working at once. Returns the new key,
    which is shown once."""
    _require_ops_or_shell(by, "issue integration tokens")
    with transaction.atomic():
        ApiToken.objects.filter(user=service_account.user).delete()
        return api_token_issue(user=service_account.user)


def service_account_revoke(*, service_account: ServiceAccount, by=None) -> bool:
    """Delete the integration token. Returns whether there was one."""
    _require_ops_or_shell(by, "revoke integration tokens")
    deleted, _ = ApiToken.objects.filter(user=service_account.user).delete()
    return bool(deleted)


def idempotency_keys_expire(*, now=None) -> int:
    """Delete idempotency keys older than their time to live. Returns how many."""
    now = now or timezone.now()
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=now - ttl()).delete()
    return deleted
