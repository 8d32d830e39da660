"""Country codes: ISO 3166-1 alpha-2, from the `pycountry` package's list (kept up to date by
its maintainers), so the web form, the admin, the API, the CSV import and the CRM pull accept
exactly the same codes: every caller uses `country_code` (or, for the CRM pull, its lenient
`country_code_or_blank`)."""

from functools import cache

import pycountry

from core.errors import Invalid


@cache
def country_codes() -> frozenset[str]:
    return frozenset(country.alpha_2 for country in pycountry.countries)


def country_code(value, *, field: str | None = "country") -> str:
    """The code in upper case, "" for an empty value; anything else raises Invalid."""
    code = str(value or "").strip().upper()
    if code and code not in country_codes():
        raise Invalid(
            f"'{value}' is not a two-letter country code (ISO 3166-1), e.g. DE or US.",
            field=field,
        )
    return code


def country_code_or_blank(value) -> str:
    """Lenient, for what a CRM sends: the code, or "" when the value is not one (a CRM that
    spells the country out is left out rather than refused)."""
    try:
        return country_code(value, field=None)
    except Invalid:
        return ""
