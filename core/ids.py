"""Ids that come from a URL or a form: whole numbers within the database's integer range.

A larger number (`/api/v1/cycles/99999999999999999999/`) matches no row, so it is answered as
"not found" before it reaches the database (SQLite cannot even bind it).
"""

MAX_ID = 2**63 - 1  # a 64-bit signed integer column, the widest primary key Django creates
MAX_INT = 2_147_483_647  # an integer column's upper bound on every database Django supports


def parse_id(value) -> int | None:
    """The id in `value`, or None when it is not a whole number from 1 to MAX_ID."""
    text = str(value if value is not None else "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


class IdConverter:
    """`<id:pk>` in URL patterns: like `<int:pk>`, but a number out of range does not match."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = parse_id(value)
        if number is None:
            raise ValueError(f"{value} is not an id")
        return number

    def to_url(self, value) -> str:
        return str(int(value))
