"""The coverage table (django-tables2): one row per target account of a snapshot. Every cell
is escaped (format_html); account and people's names are user data."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from coverage.models import AccountCoverage, Gap

GAP_LABELS = dict(Gap.choices)


def _person(user) -> str:
    if user is None:
        return "—"
    return user.get_full_name() or user.username


class AccountCoverageTable(tables.Table):
    account = tables.Column(
        accessor="account__name",
        verbose_name="Account",
        linkify=lambda record: reverse("accounts_app:account", args=[record.account_id]),
        attrs={"td": {"class": "fw-semibold"}},
    )
    tier = tables.Column(verbose_name="Tier")
    coverage = tables.Column(verbose_name="Coverage")
    stage = tables.Column(verbose_name="Stage", order_by=("stage_rank", "account__name"))
    days_in_stage = tables.Column(
        verbose_name="Days in stage", empty_values=(), order_by=("-stage_since", "account__name")
    )
    marketing = tables.Column(
        verbose_name="Marketing 30/90 d",
        accessor="marketing_touches_30d",
        order_by=("marketing_touches_30d", "marketing_touches_90d"),
    )
    sales = tables.Column(
        verbose_name="Sales 30/90 d",
        accessor="sales_touches_30d",
        order_by=("sales_touches_30d", "sales_touches_90d"),
    )
    open_pipeline = tables.Column(verbose_name="Open pipeline", attrs={"td": {"class": "text-end"}})
    sales_owner = tables.Column(verbose_name="Sales owner", order_by=("sales_owner__username",))
    marketing_owner = tables.Column(
        verbose_name="Marketing owner", order_by=("marketing_owner__username",)
    )
    gaps = tables.Column(verbose_name="Gaps", empty_values=(), orderable=False)

    class Meta:
        model = AccountCoverage
        fields = ()
        sequence = (
            "account",
            "tier",
            "coverage",
            "stage",
            "days_in_stage",
            "marketing",
            "sales",
            "open_pipeline",
            "sales_owner",
            "marketing_owner",
            "gaps",
        )
        template_name = "django_tables2/bootstrap5-responsive.html"
        attrs = {
            "class": "table table-hover align-middle table-card",
            "data-testid": "coverage-table",
        }
        row_attrs = {"data-account": lambda record: record.account.name}
        empty_text = "No target account matches these filters."
        orderable = True

    def __init__(self, *args, taken_on, **kwargs):
        super().__init__(*args, **kwargs)
        self.taken_on = taken_on

    def render_coverage(self, value, record):
        return format_html(
            '<span title="{}">{}%</span>',
            f"{len(record.covered_roles)} of {len(record.required_roles)} required roles",
            round(value * 100),
        )

    def render_stage(self, record):
        return record.get_stage_display()

    def render_days_in_stage(self, record):
        return (self.taken_on - record.stage_since).days

    def render_marketing(self, record):
        return f"{record.marketing_touches_30d} / {record.marketing_touches_90d}"

    def render_sales(self, record):
        return f"{record.sales_touches_30d} / {record.sales_touches_90d}"

    def render_open_pipeline(self, value):
        return f"{value:,.0f}"

    def render_sales_owner(self, value):
        return _person(value)

    def render_marketing_owner(self, value):
        return _person(value)

    def render_gaps(self, record):
        if not record.gaps:
            return "—"
        return format_html_join(
            " ",
            '<span class="badge gap-badge gap-{}">{}</span>',
            ((code, GAP_LABELS[code]) for code in record.gaps),
        )
