"""The fit score: the weighted share of the profile's criteria an account meets, 0–100."""

from decimal import Decimal
from types import SimpleNamespace

import pytest

from accounts_app.scoring import fit_score, validate_criteria

PROFILE = {
    "industries": {"values": ["Software", "Fintech"], "weight": 40},
    "employees": {"min": 200, "max": 5000, "weight": 30},
    "revenue": {"min": 10_000_000, "max": None, "weight": 10},
    "regions": {"values": ["EMEA"], "weight": 20},
}


def company(**kw):
    fields = {
        "industry": "Software",
        "employee_count": 1000,
        "annual_revenue": Decimal("25000000"),
        "country": "DE",
        "region": "EMEA",
    }
    return SimpleNamespace(**{**fields, **kw})


def test_it_scores_a_perfect_fit_100():
    assert fit_score(PROFILE, company()) == 100


def test_it_weighs_the_criteria_met():
    assert fit_score(PROFILE, company(industry="Retail")) == 60
    assert fit_score(PROFILE, company(industry="Retail", region="NA", country="US")) == 40
    assert fit_score(PROFILE, company(employee_count=50, annual_revenue=Decimal(1))) == 60


def test_it_counts_an_unknown_field_as_not_met():
    assert fit_score(PROFILE, company(employee_count=None, annual_revenue=None)) == 60
    assert fit_score(PROFILE, company(industry="")) == 60


def test_it_includes_both_ends_of_a_range():
    size = {"employees": {"min": 200, "max": 5000, "weight": 1}}

    assert fit_score(size, company(employee_count=200)) == 100
    assert fit_score(size, company(employee_count=5000)) == 100
    assert fit_score(size, company(employee_count=199)) == 0
    assert fit_score(size, company(employee_count=5001)) == 0


def test_it_matches_industries_and_regions_ignoring_case():
    assert fit_score(PROFILE, company(industry="fintech", region="emea")) == 100


def test_it_matches_a_region_criterion_by_country_too():
    profile = {"regions": {"values": ["DE", "FR"], "weight": 5}}

    assert fit_score(profile, company(region="")) == 100
    assert fit_score(profile, company(region="", country="US")) == 0


def test_it_ignores_criteria_the_profile_leaves_out():
    assert fit_score({"industries": {"values": ["Software"], "weight": 3}}, company()) == 100


def test_it_accepts_a_complete_profile():
    assert validate_criteria(PROFILE) == []


@pytest.mark.parametrize(
    "criteria,problem",
    [
        ([], "Criteria must be an object."),
        ({"colour": {"values": ["red"], "weight": 1}}, "Unknown criteria: colour."),
        ({"industries": "Software"}, "industries must be an object."),
        ({"industries": {"values": [], "weight": 1}}, "industries: list at least one value."),
        ({"regions": {"weight": 1}}, "regions: list at least one value."),
        ({"employees": {"min": -1, "weight": 1}}, "min and max must be numbers of 0 or more"),
        ({"employees": {"min": "ten", "weight": 1}}, "min and max must be numbers of 0 or more"),
        ({"revenue": {"min": 10, "max": 5, "weight": 1}}, "revenue: min is larger than max."),
        ({"employees": {"min": 1, "weight": -5}}, "weight must be a number of 0 or more"),
        ({"employees": {"min": 1, "weight": True}}, "weight must be a number of 0 or more"),
        ({"employees": {"min": 1, "weight": float("nan")}}, "weight must be a number"),
        ({"employees": {"min": 1, "weight": float("inf")}}, "weight must be a number"),
        ({"employees": {"min": 1, "weight": 0}}, "Give at least one criterion a weight above 0."),
    ],
)
def test_it_explains_what_is_wrong_with_a_profile(criteria, problem):
    problems = validate_criteria(criteria)

    assert any(problem in p for p in problems), problems
