"""The client's address for the login lockout (django-axes), behind a known number of proxies.

Each trusted proxy appends the address it saw to X-Forwarded-For, so with TRUSTED_PROXY_COUNT
proxies the client's address is that many entries from the right: the nearest proxy's own
address is REMOTE_ADDR, the outermost proxy wrote the client's. Everything further left was
written by the client and is never used, so a forged header can neither lock a colleague out
nor get its sender past the lockout. With no proxy (the default, 0) the header is ignored.
"""

from django.conf import settings
from ipware import get_client_ip


def client_ip(request) -> str | None:
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return request.META.get("REMOTE_ADDR")
    address, _ = get_client_ip(
        request,
        proxy_order="left-most",
        # ipware counts the proxies listed in the header: all but the nearest, whose address
        # is REMOTE_ADDR.
        proxy_count=proxies - 1,
        # Not strict: a header longer than the proxies wrote (the client's own entries on the
        # left) still gives the entry the outermost proxy wrote.
        strict=False,
        # The header alone: with REMOTE_ADDR in the list too, ipware would prefer whichever of
        # the two addresses looks more public, not the one the proxies vouch for.
        request_header_order=["HTTP_X_FORWARDED_FOR"],
    )
    # No usable entry there: the request did not come through the proxies.
    return address or request.META.get("REMOTE_ADDR")
