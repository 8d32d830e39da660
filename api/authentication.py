from django.utils import timezone
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.crypto import hash_token
from rest_framework import exceptions

from api import services
from api.models import ApiToken

NOT_VALID = (
    "This token is not valid: it may have been revoked. Ask revenue operations for a new one."
)


class TokenAuthentication(KnoxTokenAuthentication):
    """`Authorization: Token <key>`, with tokens from `manage.py accord_user ... --token` or
    `manage.py accord_service_account`, stored hashed (api.models.ApiToken).

    One query finds the token by the digest of the key and loads its user and the user's
    service-account row with it, so telling an integration token from a person costs nothing.
    Knox's own lookup loops over the candidates and the user's other tokens, deleting the
    expired ones, on every request; here an expired token is refused and left for ops to see.
    The token's last use is recorded at most once a minute.
    """

    def authenticate_credentials(self, key: bytes):
        try:
            digest = hash_token(key.decode("utf-8"))
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(NOT_VALID) from None
        try:
            token = ApiToken.objects.select_related("user", "user__service_account").get(
                digest=digest
            )
        except ApiToken.DoesNotExist:
            raise exceptions.AuthenticationFailed(NOT_VALID) from None
        if token.expiry is not None and token.expiry <= timezone.now():
            raise exceptions.AuthenticationFailed(
                f"This token expired on {timezone.localtime(token.expiry):%Y-%m-%d %H:%M %Z}. "
                "Ask revenue operations for a new one."
            )
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The user of this token is deactivated.")
        services.api_token_touch(token=token)
        return token.user, token
