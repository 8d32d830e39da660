"""`Idempotency-Key` on POST: a repeat of a request is answered with the first answer.

    @idempotent
    def post(self, request, ...): ...

1. No header: the request simply runs.
2. The key (1–255 visible ASCII characters) is scoped to the caller. A fingerprint of the
   method, path and body tells a repeat from a different request: the same key with a
   different request is a 422.
3. The key's row is inserted before the action runs, in the same transaction, under a unique
   (user, key) constraint. A concurrent repeat blocks on that insert until the first request
   commits, then replays its stored answer; so the action runs once however the repeats
   interleave.
4. Only an answer that acted (2xx) is kept. A refusal (4xx) changed nothing, so its key is
   released: the client may fix the request and send it again with the same key. A server
   error rolls everything back, the key included.
5. Answers are replayed with the header `Idempotent-Replayed: true`. Keys expire after
   API_IDEMPOTENCY_TTL_HOURS (24); an expired key is treated as new and then deleted by
   api.tasks.expire_idempotency_keys.
6. `@idempotent(secret_fields=("token",))`: those fields of the answer are not stored and are
   replayed as null, so a secret shown once (an API token) is never written to the database.
"""

import functools
import hashlib
import json
import re
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from api.exceptions import IdempotencyKeyReused
from api.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_KEPT_HEADERS = ("Location",)


def ttl() -> timedelta:
    return timedelta(hours=settings.API_IDEMPOTENCY_TTL_HOURS)


def _fingerprint(request) -> str:
    body = json.dumps(
        request.data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    raw = "\n".join((request.method, request.get_full_path(), body))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _replay(record: IdempotencyKey) -> Response:
    headers = {**record.response_headers, REPLAYED_HEADER: "true"}
    return Response(record.response_body, status=record.status_code, headers=headers)


def _run(view, request, handler, args, kwargs) -> Response:
    """The handler's answer, refusals included; its writes are rolled back if it raised."""
    try:
        with transaction.atomic():
            return handler(view, request, *args, **kwargs)
    except Exception as exc:  # unknown errors are re-raised by handle_exception
        return view.handle_exception(exc)


def idempotent(handler=None, *, secret_fields: tuple[str, ...] = ()):
    if handler is None:
        return functools.partial(idempotent, secret_fields=secret_fields)

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        if not _VALID_KEY.match(key):
            raise ValidationError({HEADER: ["Use 1 to 255 visible ASCII characters, e.g. a UUID."]})
        fingerprint = _fingerprint(request)
        user = request.user
        with transaction.atomic():
            IdempotencyKey.objects.filter(
                user=user, key=key, created_at__lt=timezone.now() - ttl()
            ).delete()
            try:
                with transaction.atomic():
                    record = IdempotencyKey.objects.create(
                        user=user, key=key, fingerprint=fingerprint
                    )
            except IntegrityError:
                # Another request with this key committed first (we waited for it here).
                earlier = IdempotencyKey.objects.get(user=user, key=key)
                if earlier.fingerprint != fingerprint:
                    raise IdempotencyKeyReused() from None
                return _replay(earlier)
            response = _run(view, request, handler, args, kwargs)
            if not 200 <= response.status_code < 300:
                record.delete()
                return response
            record.status_code = response.status_code
            record.response_body = (
                None if response.data is None else json.loads(JSONRenderer().render(response.data))
            )
            if isinstance(record.response_body, dict):
                record.response_body.update(
                    {name: None for name in secret_fields if name in record.response_body}
                )
            record.response_headers = {h: response[h] for h in _KEPT_HEADERS if h in response}
            record.save(update_fields=["status_code", "response_body", "response_headers"])
        return response

    return wrapper
