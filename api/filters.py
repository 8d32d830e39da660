"""Query filters of the list endpoints (django-filter). A value that is not valid, such as
an unknown state or a tier of 4, is a 400 that names the parameter."""

import django_filters
from django import forms
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from accounts_app.domains import normalise_domain
from accounts_app.models import Account
from api.serializers import TIER_CHOICES
from core.roles import Side
from workflow.models import Nomination, NominationKind, State

MAX_ID = 2**63 - 1


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.Filter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


@extend_schema_field(OpenApiTypes.INT)
class IntegerFilter(django_filters.Filter):
    field_class = forms.IntegerField


class AccountFilter(django_filters.FilterSet):
    domain = django_filters.CharFilter(
        method="filter_domain", max_length=2000, help_text="Exact domain, e.g. example.com."
    )
    industry = django_filters.CharFilter(lookup_expr="iexact", max_length=100)
    country = django_filters.CharFilter(
        lookup_expr="iexact", max_length=2, help_text="ISO 3166-1 alpha-2, e.g. DE."
    )
    min_fit_score = IntegerFilter(
        field_name="fit_score", lookup_expr="gte", min_value=0, max_value=100
    )
    on_list = IdFilter(
        method="filter_on_list", help_text="Only accounts on this cycle's agreed list now."
    )
    search = django_filters.CharFilter(
        method="filter_search", max_length=200, help_text="Part of the name or the domain."
    )

    class Meta:
        model = Account
        fields = []

    def filter_domain(self, queryset, name, value):
        return queryset.filter(domain=normalise_domain(value))

    def filter_on_list(self, queryset, name, value):
        return queryset.filter(targets__cycle_id=value, targets__removed_at__isnull=True)

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(domain__icontains=value.lower()))


class NominationFilter(django_filters.FilterSet):
    cycle = IdFilter(field_name="cycle_id")
    state = django_filters.ChoiceFilter(choices=State.choices)
    kind = django_filters.ChoiceFilter(choices=NominationKind.choices)
    tier = django_filters.TypedChoiceFilter(choices=TIER_CHOICES, coerce=int)
    side = django_filters.ChoiceFilter(
        field_name="proposer_side", choices=Side.choices, help_text="The proposer's side."
    )
    proposer = IdFilter(field_name="proposer_id", help_text="The proposer's user id.")
    account = IdFilter(field_name="account_id")

    class Meta:
        model = Nomination
        fields = []
