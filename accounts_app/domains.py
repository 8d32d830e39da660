import re

from core.errors import Invalid

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalise_domain(value: str) -> str:
    """`https://WWW.Example.com/about` → `example.com`. Raises Invalid for anything that is not
    a host name with at least one dot."""
    raw = (value or "").strip().lower()
    if not raw:
        raise Invalid("Enter the company's web domain, e.g. example.com.", field="domain")
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", raw)
    host = host.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    host = host.rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".")
    if host.startswith("www.") and "." in host[4:]:
        host = host[4:]
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise Invalid(f"“{value}” is not a valid domain.", field="domain") from None
    labels = host.split(".")
    if len(labels) < 2 or len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise Invalid(f"“{value}” is not a valid domain, e.g. example.com.", field="domain")
    if labels[-1].isdigit():
        raise Invalid(f"“{value}” is an address, not a domain.", field="domain")
    return host
