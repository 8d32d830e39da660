from rest_framework import authentication, exceptions


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, with tokens from `manage.py accord_user ... --token` or
    `manage.py accord_service_account`. Loads the user's service-account row in the same query,
    so telling an integration token from a person costs nothing."""

    def authenticate_credentials(self, key):
        model = self.get_model()
        try:
            token = model.objects.select_related("user", "user__service_account").get(key=key)
        except (model.DoesNotExist, ValueError):
            raise exceptions.AuthenticationFailed(
                "This token is not valid: it may have been revoked. Ask revenue operations "
                "for a new one."
            ) from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The user of this token is deactivated.")
        return token.user, token
