"""Fit score: how well an account matches an ideal customer profile, 0–100.

Each criterion that the profile sets carries a weight; the score is the weighted share of
criteria the account meets. A criterion whose account field is unknown counts as not met.
"""

import math
from decimal import Decimal

CRITERIA = ("industries", "employees", "revenue", "regions")


def validate_criteria(criteria: dict) -> list[str]:
    """Plain-language problems with a criteria dict; empty when it is usable."""
    problems = []
    if not isinstance(criteria, dict):
        return ["Criteria must be an object."]
    unknown = set(criteria) - set(CRITERIA)
    if unknown:
        problems.append(f"Unknown criteria: {', '.join(sorted(unknown))}.")
    total = 0
    for name in CRITERIA:
        crit = criteria.get(name)
        if crit is None:
            continue
        if not isinstance(crit, dict):
            problems.append(f"{name} must be an object.")
            continue
        weight = crit.get("weight", 0)
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or not math.isfinite(weight)
            or weight < 0
        ):
            problems.append(f"{name}: weight must be a number of 0 or more.")
            continue
        total += weight
        if name in ("industries", "regions"):
            if not isinstance(crit.get("values"), list) or not crit["values"]:
                problems.append(f"{name}: list at least one value.")
        else:
            low, high = crit.get("min"), crit.get("max")
            for bound in (low, high):
                if bound is not None and (
                    isinstance(bound, bool)
                    or not isinstance(bound, int | float)
                    or not math.isfinite(bound)
                    or bound < 0
                ):
                    problems.append(f"{name}: min and max must be numbers of 0 or more.")
                    break
            else:
                if low is not None and high is not None and low > high:
                    problems.append(f"{name}: min is larger than max.")
    if not problems and total <= 0:
        problems.append("Give at least one criterion a weight above 0.")
    return problems


def _in_range(value, crit: dict) -> bool:
    if value is None:
        return False
    value = Decimal(value)
    low, high = crit.get("min"), crit.get("max")
    return (low is None or value >= Decimal(str(low))) and (
        high is None or value <= Decimal(str(high))
    )


def _casefold_in(value: str, values: list) -> bool:
    return bool(value) and value.casefold() in {str(v).casefold() for v in values}


def fit_score(criteria: dict, account) -> int:
    total = matched = 0.0
    checks = {
        "industries": lambda c: _casefold_in(account.industry, c.get("values", [])),
        "employees": lambda c: _in_range(account.employee_count, c),
        "revenue": lambda c: _in_range(account.annual_revenue, c),
        "regions": lambda c: (
            _casefold_in(account.region, c.get("values", []))
            or _casefold_in(account.country, c.get("values", []))
        ),
    }
    for name, check in checks.items():
        crit = criteria.get(name)
        if not crit:
            continue
        weight = float(crit.get("weight", 0))
        total += weight
        if check(crit):
            matched += weight
    if total <= 0:
        return 0
    return round(100 * matched / total)
