"""Errors as JSON, mapped once: every error answer has the same body,
`{"detail": <a sentence>, "code": <a word>, "fields": {<field>: [<message>, ...]}}`
(`fields` only when particular fields are at fault).

core.errors.DomainError, raised by the services the API calls, maps by its type:
Invalid → 400, NotAllowed → 403, Conflict → 409, with the service's plain-language message.
"""

import logging

from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import Conflict, DomainError, Invalid, NotAllowed

logger = logging.getLogger(__name__)

_DOMAIN_CODES = {Invalid: "invalid", NotAllowed: "not_allowed", Conflict: "conflict"}


class DomainRefusal(exceptions.APIException):
    """A service's DomainError, carried through DRF's exception handling."""

    def __init__(self, error: DomainError) -> None:
        self.status_code = error.status
        self.field = error.field
        self.fields = getattr(error, "fields", None)  # InvalidRows: every row at fault
        code = next((c for t, c in _DOMAIN_CODES.items() if isinstance(error, t)), "invalid")
        super().__init__(detail=error.message, code=code)


class StateConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        "This Idempotency-Key was already used for a different request. Use a new key for a "
        "new request."
    )
    default_code = "idempotency_key_reused"


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested validation errors as {"field" or "field.0.sub": [messages]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            for name, messages in _flatten(
                value, f"{prefix}.{key}" if prefix else str(key)
            ).items():
                out.setdefault(name, []).extend(messages)
    elif isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        for index, value in enumerate(detail):
            if value:
                name = f"{prefix}.{index}" if prefix else str(index)
                for key, messages in _flatten(value, name).items():
                    out.setdefault(key, []).extend(messages)
    elif isinstance(detail, list):
        out.setdefault(prefix or "non_field_errors", []).extend(str(item) for item in detail)
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return out


def _summary(fields: dict[str, list[str]]) -> str:
    parts = [
        f"{' '.join(messages)}" if name == "non_field_errors" else f"{name}: {' '.join(messages)}"
        for name, messages in fields.items()
    ]
    return "Check the request. " + " ".join(parts)


def error_body(exc: exceptions.APIException) -> dict:
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        return {"detail": _summary(fields), "code": "invalid", "fields": fields}
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    body = {"detail": str(exc.detail), "code": code}
    if isinstance(exc, DomainRefusal) and exc.fields:
        body["fields"] = exc.fields
    elif isinstance(exc, DomainRefusal) and exc.field:
        body["fields"] = {exc.field: [str(exc.detail)]}
    return body


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        exc = DomainRefusal(exc)
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, IntegrityError):
        # The last line of defence: a database constraint the service did not foresee. The
        # statement was refused, so nothing changed; say so rather than answer 500.
        logger.warning("API request refused by a database constraint: %s", exc)
        exc = StateConflict("This conflicts with existing data, so nothing was changed.")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.APIException):
        response.data = error_body(exc)
    else:  # Http404 and Django's PermissionDenied, which DRF has converted already
        code = "not_found" if response.status_code == 404 else "permission_denied"
        response.data = {"detail": str(response.data.get("detail", "")), "code": code}
    return response
