"""Number formats of the coverage pages, and the coverage panels that the account and
nomination pages include: those apps sit below coverage and never import it, so the panels
are coverage's own tags, reading coverage's selectors."""

from decimal import Decimal, InvalidOperation

from django import template
from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from coverage.dashboard import account_coverage_in, account_stage_history, gap_reasons
from coverage.models import Snapshot, Stage
from coverage.selectors import forget_latest_key, snapshot_latest_key

register = template.Library()

STAGE_LABELS = dict(Stage.choices)


@register.filter
def share(value):
    """0.4567 → "46%"; None → "—"."""
    if value is None or value == "":
        return "—"
    return f"{round(float(value) * 100)}%"


@register.filter
def money(value):
    """ "50000.00" → "50,000"."""
    try:
        return f"{Decimal(str(value)):,.0f}"
    except (InvalidOperation, ValueError):
        return "—"


@register.filter
def hours(value):
    if value is None:
        return "—"
    value = float(value)
    return f"{value / 24:.1f} d" if value >= 48 else f"{value:.0f} h"


@register.filter
def get_item(mapping, key):
    return (mapping or {}).get(key)


@register.filter
def stage_label(code):
    return STAGE_LABELS.get(code, code)


@register.simple_tag
def change(value, kind, good_up=True):
    """A change since an earlier snapshot, coloured by whether it is good news."""
    if value is None:
        return format_html('<span class="text-body-secondary">{}</span>', "—")
    number = Decimal(str(value))
    if kind == "share":
        text = f"{number * 100:+.0f} pts"
    elif kind == "money":
        text = f"{number:+,.0f}"
    else:
        text = f"{number:+,.0f}"
    if number == 0:
        css = "text-body-secondary"
        text = text.replace("+", "±")
    else:
        css = "text-success" if (number > 0) == bool(good_up) else "text-danger"
    return format_html('<span class="{}">{}</span>', css, text)


@register.inclusion_tag("coverage/_stage_history.html")
def account_stage_history_panel(account):
    return {"stays": account_stage_history(account_id=account.pk)}


NOMINATION_PANEL = "coverage/_nomination_coverage.html"
NOMINATION_PANEL_VERSION = 1
NOMINATION_PANEL_SECONDS = 60 * 60 * 24


@register.simple_tag
def nomination_coverage_panel(nomination, *, again: bool = True):
    """The latest snapshot's facts on the nomination's account. It shows nothing of its reader
    and a finished snapshot never changes, so it is rendered once per snapshot and account and
    kept: a query a page instead of three, and no rendering."""
    latest = snapshot_latest_key(cycle_id=nomination.cycle_id)
    if latest is None:
        return render_to_string(NOMINATION_PANEL, {"snapshot": None})
    snapshot_id, prefix = latest
    key = f"{prefix}:nomination-panel:v{NOMINATION_PANEL_VERSION}:{nomination.account_id}"
    html = cache.get(key)
    if html is None:
        # Not its aggregates (the dashboard's figures, kilobytes of JSON): the panel shows none.
        snapshot = Snapshot.objects.defer("aggregates").filter(pk=snapshot_id).first()
        if snapshot is None and again:  # replaced since the latest was read (a same-day retake)
            forget_latest_key(nomination.cycle_id)
            return nomination_coverage_panel(nomination, again=False)
        if snapshot is None:
            return render_to_string(NOMINATION_PANEL, {"snapshot": None})
        row = account_coverage_in(snapshot=snapshot, account_id=nomination.account_id)
        html = render_to_string(
            NOMINATION_PANEL,
            {
                "snapshot": snapshot,
                "row": row,
                "reasons": gap_reasons(row, snapshot.settings) if row is not None else [],
                "cycle_id": nomination.cycle_id,
            },
        )
        cache.set(key, html, NOMINATION_PANEL_SECONDS)
    # Safe: rendered by the (escaping) template above.
    return mark_safe(html)
