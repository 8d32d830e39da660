"""Text that reaches an e-mail header, an HTTP header or a file name must be one line.

A name with a line break ("Evil Corp\\r\\nBcc: attacker@evil.example") would make every e-mail
about it fail (Django refuses header injection with BadHeaderError) or, elsewhere, split a
header. People's input is refused with a clear message (`single_line`); text from outside that
nobody can correct on the spot (a CRM's company name, a person's display name) is flattened
(`flatten`).

Text that reaches a spreadsheet cell must not run as a formula (`neutralise_formula`): every CSV
Accord writes (the admin's account export, the coverage exports) passes its cells through it.
"""

import re
import unicodedata

from core.errors import Invalid

# C0 and C1 control characters, DEL, and the Unicode line and paragraph separators: each ends a
# line somewhere (mail headers, CSV readers, terminals).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def has_control_characters(value: str) -> bool:
    return bool(_CONTROL.search(value or ""))


def single_line(value, *, field: str | None = None, what: str = "This") -> str:
    """`value` stripped; Invalid if it holds a line break, a tab or another control character."""
    text = str(value or "").strip()
    if has_control_characters(text):
        raise Invalid(
            f"{what} must be on one line: remove the line breaks, tabs and other control "
            "characters.",
            field=field,
        )
    return text


def flatten(value, *, limit: int | None = None) -> str:
    """`value` on one line: every run of control characters and spaces becomes one space."""
    text = _CONTROL.sub(" ", unicodedata.normalize("NFC", str(value or "")))
    text = " ".join(text.split())
    return text[:limit] if limit is not None else text


# What a spreadsheet reads as the start of a formula (or, tab and CR, as a way to hide one).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value):
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe; other values
    (numbers, dates, None) are returned as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_row(values) -> list:
    """`neutralise_formula` of each value of a CSV row, written out so that an export of tens of
    thousands of rows does not pay a function call per cell."""
    starts = FORMULA_STARTS
    return ["'" + v if v.__class__ is str and v.startswith(starts) else v for v in values]


# The longest free text a person may write (a rationale, a note, a comment), everywhere: the web
# forms, the API and the services share it.
MAX_TEXT = 10_000
MAX_LINK = 2_000


def bounded(value, *, field: str | None = None, limit: int = MAX_TEXT, what: str = "This") -> str:
    """`value` stripped; Invalid if it is longer than `limit` characters."""
    text = str(value or "").strip()
    if len(text) > limit:
        raise Invalid(
            f"{what} is {len(text):,} characters long; at most {limit:,} fit.", field=field
        )
    return text


_WEB_ADDRESS = re.compile(r"^https?://[^\s/$.?#].[^\s]*$", re.IGNORECASE)


def is_web_address(value) -> bool:
    """Whether `value` is an http:// or https:// address: the only links Accord stores and the
    only ones a page makes clickable (never javascript:, data: or vbscript:)."""
    return isinstance(value, str) and bool(_WEB_ADDRESS.match(value))
