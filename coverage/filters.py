"""The filters of the coverage table (django-filter). The owner choices come from the
snapshot's stored aggregates, so the form costs no query however many people there are."""

import django_filters
from django.db.models import Q
from rest_framework import serializers

from core.ids import MAX_INT
from coverage.dashboard import ENGAGED_OR_FURTHER, needs_action_q
from coverage.models import AccountCoverage, Gap, Snapshot, Stage, gap_field
from workflow.models import TIERS

TIER_CHOICES = [(n, f"Tier {n}") for n in TIERS]


def _owner_choices(snapshot: Snapshot, side: str) -> list[tuple[str, str]]:
    groups = snapshot.aggregates.get(f"{side}_owners", [])
    return [(str(g["owner"]["id"]), g["owner"]["name"]) for g in groups if g["owner"]]


class AccountCoverageFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Search")
    tier = django_filters.ChoiceFilter(choices=TIER_CHOICES)
    stage = django_filters.ChoiceFilter(choices=Stage.choices)
    gap = django_filters.ChoiceFilter(label="Gap", choices=Gap.choices, method="filter_gap")
    sales_owner = django_filters.ChoiceFilter(field_name="sales_owner_id", label="Sales owner")
    marketing_owner = django_filters.ChoiceFilter(
        field_name="marketing_owner_id", label="Marketing owner"
    )
    covered = django_filters.ChoiceFilter(
        label="Coverage",
        choices=[("full", "Fully covered"), ("partial", "Partly covered"), ("none", "None")],
        method="filter_covered",
    )
    further = django_filters.ChoiceFilter(
        label="Engagement",
        choices=[("engaged", "Engaged or further")],
        method="filter_further",
    )
    pipeline = django_filters.ChoiceFilter(
        label="Pipeline",
        choices=[("open", "Has open pipeline"), ("won", "Has won deals")],
        method="filter_pipeline",
    )
    action = django_filters.ChoiceFilter(
        label="Action", choices=[("me", "Needs my action")], method="filter_action"
    )

    class Meta:
        model = AccountCoverage
        fields: list[str] = []

    def __init__(self, *args, snapshot: Snapshot, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.filters["sales_owner"].extra["choices"] = _owner_choices(snapshot, "sales")
        self.filters["marketing_owner"].extra["choices"] = _owner_choices(snapshot, "marketing")
        for f in self.filters.values():
            if isinstance(f, django_filters.ChoiceFilter):
                f.extra["empty_label"] = "Any"

    def filter_q(self, queryset, name, value):
        return queryset.filter(
            Q(account__name__icontains=value) | Q(account__domain__icontains=value)
        )

    def filter_gap(self, queryset, name, value):
        return queryset.filter(**{gap_field(value): True})

    def filter_covered(self, queryset, name, value):
        if value == "full":
            return queryset.filter(coverage__gte=1)
        if value == "partial":
            return queryset.filter(coverage__gt=0, coverage__lt=1)
        return queryset.filter(coverage__lte=0)

    def filter_further(self, queryset, name, value):
        return queryset.filter(stage__in=ENGAGED_OR_FURTHER)

    def filter_pipeline(self, queryset, name, value):
        if value == "won":
            return queryset.filter(won_amount__gt=0)
        return queryset.filter(open_opportunities__gt=0)

    def filter_action(self, queryset, name, value):
        return queryset.filter(needs_action_q(self.user))


class CoverageAccountQuery(serializers.Serializer):
    """The filters of `GET /api/v1/cycles/{id}/coverage/accounts/` and of its CSV download,
    with the same rules."""

    tier = serializers.ChoiceField(choices=TIER_CHOICES, required=False)
    sales_owner = serializers.IntegerField(
        min_value=1, max_value=MAX_INT, required=False, help_text="A sales owner's user id."
    )
    marketing_owner = serializers.IntegerField(
        min_value=1, max_value=MAX_INT, required=False, help_text="A marketing owner's user id."
    )
    stage = serializers.ChoiceField(choices=Stage.choices, required=False)
    gap = serializers.ChoiceField(choices=Gap.choices, required=False, help_text="Has this gap.")
