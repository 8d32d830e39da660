"""The one error type services raise for things a person can cause.

The web layer shows the message next to the form; the API maps the subclass once:
Invalid → 400, NotAllowed → 403, Conflict → 409.
"""


class DomainError(Exception):
    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Invalid(DomainError):
    """The request itself is wrong (a missing tier, an unknown account)."""

    status = 400


class NotAllowed(DomainError):
    """This person's role does not allow the action."""

    status = 403


class Conflict(DomainError):
    """The action is not possible in the current state (withdrawn, tier full, duplicate)."""

    status = 409
