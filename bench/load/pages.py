"""One name per kind of request, used by the locustfile (locust's `name=`) and by run.py for
the worker CPU each kind costs (from the gunicorn hooks' log), so the two tables line up."""

import re
from urllib.parse import urlsplit

# (method, path pattern, name). The first match wins.
ROUTES = [
    ("GET", r"/login/", "GET sign-in form"),
    ("POST", r"/login/", "POST sign-in"),
    ("POST", r"/logout/", "POST sign-out"),
    ("GET", r"/", "GET queue"),
    ("GET", r"/cycles/\d+/", "GET cycle page"),
    ("GET", r"/cycles/\d+/nominate/", "GET nominate form"),
    ("POST", r"/cycles/\d+/nominate/", "POST nominate"),
    ("GET", r"/nominations/\d+/", "GET nomination page"),
    ("POST", r"/nominations/\d+/decide/", "POST sign-off"),
    ("POST", r"/nominations/\d+/comments/", "POST comment"),
    ("GET", r"/cycles/\d+/coverage/", "GET coverage dashboard"),
    ("GET", r"/cycles/\d+/coverage/accounts/", "GET coverage table"),
    ("GET", r"/api/v1/cycles/\d+/target-accounts/", "GET API agreed list"),
]
_COMPILED = [(method, re.compile(pattern + r"\Z"), name) for method, pattern, name in ROUTES]

# What each target of the issue applies to (the sign-in is slow on purpose and has none).
READS = {name for method, _, name in ROUTES if method == "GET" and name != "GET sign-in form"}
READS |= {"GET API agreed list (200)", "GET API agreed list (304)"}
SIGN_OFFS = {"POST sign-off"}
SIGN_INS = {"GET sign-in form", "POST sign-in"}


def name_of(method: str, path: str, status: int | None = None) -> str:
    """The name of a request (a path, or a URL with its query); the agreed list is split by
    its answer (a 304 costs far less)."""
    path = urlsplit(path).path
    for route_method, pattern, name in _COMPILED:
        if route_method == method and pattern.match(path):
            if name == "GET API agreed list" and status in (200, 304):
                return f"{name} ({status})"
            return name
    return f"{method} other"
