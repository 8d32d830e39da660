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


class InvalidRows(Invalid):
    """Several rows of a batch are wrong: `fields` maps `rows.<index>.<field>` to its messages,
    every bad row at once."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        count = len({name.split(".")[1] for name in fields if name.count(".") >= 1})
        super().__init__(
            f"{count or 'Some'} row(s) of the batch are not valid, so nothing was written: "
            "`fields` names each row and field at fault."
        )
        self.fields = fields


class NotAllowed(DomainError):
    """This person's role does not allow the action."""

    status = 403


class Conflict(DomainError):
    """The action is not possible in the current state (withdrawn, tier full, duplicate)."""

    status = 409
