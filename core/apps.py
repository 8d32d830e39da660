from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The small shared kernel every app may import and that imports no app: the domain
    error, sides and roles, one-line text and ids, and the sign-off of agreed definitions."""

    name = "core"
    verbose_name = "Accord core"
