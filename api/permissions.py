"""Who may use which part of the API. Roles come from core.roles; whether a person may
take a particular action (sign off, withdraw, edit an account) is decided by the service,
which raises NotAllowed (403)."""

from rest_framework import permissions

from core.roles import is_member, is_ops

INTEGRATION_SCOPE = "accounts, cycles and the agreed list"


def is_service_account(user) -> bool:
    """A read-only integration login (api.models.ServiceAccount)."""
    if not (user and user.is_authenticated):
        return False
    cached = getattr(user, "_accord_is_service_account", None)
    if cached is None:
        cached = hasattr(user, "service_account")
        user._accord_is_service_account = cached
    return cached


class IsMember(permissions.BasePermission):
    """People on a side and revenue operations. Integration tokens are refused: this part of
    the API (nominations, decisions, comments, events) is not theirs to see."""

    message = "Only people on the marketing or sales side or in revenue operations can use this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if is_service_account(user):
            self.message = (
                f"Integration tokens are read-only and can only read {INTEGRATION_SCOPE}."
            )
            return False
        return is_member(user)


class IsMemberOrIntegrationReadOnly(IsMember):
    """Members as above; integration tokens may read (GET, HEAD, OPTIONS) and nothing else."""

    def has_permission(self, request, view) -> bool:
        if is_service_account(request.user):
            if request.method in permissions.SAFE_METHODS:
                return True
            self.message = (
                f"Integration tokens are read-only: they can read {INTEGRATION_SCOPE}, "
                "never change them."
            )
            return False
        return super().has_permission(request, view)


class IsAuthenticated(permissions.IsAuthenticated):
    message = "Sign in, or send `Authorization: Token <key>`."


class IsOps(permissions.BasePermission):
    message = "Only revenue operations can do this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user and user.is_authenticated and not is_service_account(user) and is_ops(user)
        )
