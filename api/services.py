"""Writes that belong to the API itself: integration tokens and the idempotency-key store.
Everything else the API changes goes through workflow.services and accounts_app.services."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from api.idempotency import ttl
from api.models import IdempotencyKey, ServiceAccount
from workflow.errors import Conflict, Invalid
from workflow.roles import require_ops

User = get_user_model()


def _require_ops_or_shell(by, action: str) -> None:
    # `by=None` is someone with shell access running a management command.
    if by is not None:
        require_ops(by, action)


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
            token = Token.objects.create(user=user)
    except IntegrityError:
        raise Conflict(f"The name {username} is already taken.", field="username") from None
    return service_account, token.key


def service_account_token_rotate(*, service_account: ServiceAccount, by=None) -> str:
    """Replace the integration token: the old one stops working at once."""
    _require_ops_or_shell(by, "issue integration tokens")
    with transaction.atomic():
        Token.objects.filter(user=service_account.user).delete()
        return Token.objects.create(user=service_account.user).key


def service_account_revoke(*, service_account: ServiceAccount, by=None) -> bool:
    """Delete the integration token. Returns whether there was one."""
    _require_ops_or_shell(by, "revoke integration tokens")
    deleted, _ = Token.objects.filter(user=service_account.user).delete()
    return bool(deleted)


def idempotency_keys_expire(*, now=None) -> int:
    """Delete idempotency keys older than their time to live. Returns how many."""
    now = now or timezone.now()
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=now - ttl()).delete()
    return deleted
