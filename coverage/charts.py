"""The coverage charts: Vega-Altair specifications built from a stored snapshot (its aggregates,
its alignment, and the cycle's earlier snapshots for the lines over time), rendered by vl-convert
on the server: SVG for the pages, PNG for e-mail. Nothing is drawn by hand and nothing comes
from a CDN.

The charts are static: an SVG has no script, and each mark carries a `<title>` (the browser's
native tooltip), added from the mark's accessible label. That keeps pages working without
JavaScript, and lets an e-mail or a CSV-minded reader see the same numbers.

A snapshot never changes once done (a later run of the same day is a new snapshot with a new
id), so its SVGs are rendered once and cached by snapshot id and chart name.

    chart_specs(snapshot, history) -> {name: altair.Chart}
    to_svg(chart) -> str, to_png(chart, scale=2) -> bytes
    chart_svgs(snapshot) -> {name: svg}   (cached; what the dashboard shows)
    chart_pngs(snapshot) -> {name: png}   (for the digest)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

import altair as alt
from django.core.cache import cache

from coverage.models import Gap, Snapshot, Stage

# Raise when a chart's look changes, so cached SVGs of old snapshots are drawn again.
VERSION = 2
CACHE_SECONDS = 60 * 60 * 24 * 30

# name -> title, in the order the dashboard shows them.
CHARTS: dict[str, str] = {
    "coverage_by_tier": "Coverage by tier",
    "stage_funnel": "Journey stages",
    "engagement_over_time": "Engagement by side over time",
    "pipeline_by_tier": "Pipeline by tier",
    "gaps": "Gaps that need action",
    "alignment_over_time": "Alignment over time",
    "coverage_by_owner": "Coverage by sales owner",
}

SIDE_COLOURS = alt.Scale(domain=["Marketing", "Sales"], range=["#7048e8", "#0b7285"])
WIDTH = 320
HEIGHT = 180
MAX_OWNERS = 12
# Counts are whole numbers: no 0.5 accounts on an axis.
COUNT_AXIS = alt.Axis(tickMinStep=1, format="d")

SVG_NS = "http://www.w3.org/2000/svg"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")


def _base(values: list[dict], title: str) -> alt.Chart:
    return (
        alt.Chart(alt.Data(values=values))
        .properties(title=title, width=WIDTH, height=HEIGHT)
        .configure_view(stroke=None)
        .configure_axis(labelFontSize=11, titleFontSize=11, grid=True, gridColor="#eee")
        .configure_title(fontSize=13, anchor="start", fontWeight="bold")
        .configure_legend(orient="bottom", labelFontSize=11, title=None)
    )


def _percent(value) -> float:
    return round(float(value or 0) * 100, 1)


def _amount(value) -> float:
    return float(Decimal(value or "0"))


def coverage_by_tier(snapshot: Snapshot) -> alt.Chart:
    values = []
    for row in snapshot.aggregates.get("tiers", []):
        tier = f"Tier {row['tier']}"
        values.append(
            {
                "tier": tier,
                "measure": "Fully covered",
                "percent": _percent(row["fully_covered_share"]),
            }
        )
        values.append(
            {
                "tier": tier,
                "measure": "Engaged or further",
                "percent": _percent(row["engaged_or_further_share"]),
            }
        )
    return (
        _base(values, CHARTS["coverage_by_tier"])
        .mark_bar()
        .encode(
            x=alt.X("tier:N", title=None, axis=alt.Axis(labelAngle=0)),
            xOffset="measure:N",
            y=alt.Y("percent:Q", title="% of accounts", scale=alt.Scale(domain=[0, 100])),
            color=alt.Color("measure:N", scale=alt.Scale(range=["#2f9e44", "#1c7ed6"]), title=None),
            tooltip=["tier:N", "measure:N", alt.Tooltip("percent:Q", title="%")],
        )
    )


def stage_funnel(snapshot: Snapshot) -> alt.Chart:
    counts = snapshot.aggregates.get("stages", {}).get("accounts", {})
    values = [
        {"stage": label, "order": i, "accounts": counts.get(code, 0)}
        for i, (code, label) in enumerate(Stage.choices)
    ]
    return (
        _base(values, CHARTS["stage_funnel"])
        .mark_bar(color="#1c7ed6")
        .encode(
            y=alt.Y("stage:N", sort=[label for _, label in Stage.choices], title=None),
            x=alt.X("accounts:Q", title="Accounts", axis=COUNT_AXIS),
            tooltip=["stage:N", "accounts:Q"],
        )
    )


def engagement_over_time(history: list[dict]) -> alt.Chart:
    values = []
    for point in history:
        day = point["taken_on"].isoformat()
        values.append({"day": day, "side": "Marketing", "touches": point["marketing_touches_30d"]})
        values.append({"day": day, "side": "Sales", "touches": point["sales_touches_30d"]})
    return (
        _base(values, CHARTS["engagement_over_time"])
        .mark_line(point=True)
        .encode(
            x=alt.X("day:T", title=None, axis=alt.Axis(format="%d %b")),
            y=alt.Y("touches:Q", title="Touches, last 30 days", axis=COUNT_AXIS),
            color=alt.Color("side:N", scale=SIDE_COLOURS),
            tooltip=[alt.Tooltip("day:T", format="%d %b %Y"), "side:N", "touches:Q"],
        )
    )


def pipeline_by_tier(snapshot: Snapshot) -> alt.Chart:
    values = []
    for row in snapshot.aggregates.get("tiers", []):
        tier = f"Tier {row['tier']}"
        values.append({"tier": tier, "kind": "Open", "amount": _amount(row["open_pipeline"])})
        values.append({"tier": tier, "kind": "Won", "amount": _amount(row["won_amount"])})
    return (
        _base(values, CHARTS["pipeline_by_tier"])
        .mark_bar()
        .encode(
            x=alt.X("tier:N", title=None, axis=alt.Axis(labelAngle=0)),
            xOffset="kind:N",
            y=alt.Y("amount:Q", title="Amount", axis=alt.Axis(format="~s")),
            color=alt.Color("kind:N", scale=alt.Scale(range=["#f08c00", "#2f9e44"]), title=None),
            tooltip=["tier:N", "kind:N", alt.Tooltip("amount:Q", format=",.0f")],
        )
    )


def gaps(snapshot: Snapshot) -> alt.Chart:
    counts = snapshot.aggregates.get("cycle", {}).get("gaps", {})
    values = [{"gap": label, "accounts": counts.get(code, 0)} for code, label in Gap.choices]
    return (
        _base(values, CHARTS["gaps"])
        .mark_bar(color="#e03131")
        .encode(
            y=alt.Y("gap:N", sort=[label for _, label in Gap.choices], title=None),
            x=alt.X("accounts:Q", title="Accounts", axis=COUNT_AXIS),
            tooltip=["gap:N", "accounts:Q"],
        )
    )


def alignment_over_time(history: list[dict]) -> alt.Chart:
    measures = (
        ("approved_share", "Nominations agreed"),
        ("disputed_share", "Nominations disputed"),
    )
    values = []
    for point in history:
        day = point["taken_on"].isoformat()
        nominations = point["alignment"].get("nominations", {})
        for key, label in measures:
            values.append({"day": day, "measure": label, "percent": _percent(nominations.get(key))})
        values.append(
            {
                "day": day,
                "measure": "Both owners assigned",
                "percent": _percent(point["alignment"].get("both_owners_share")),
            }
        )
    return (
        _base(values, CHARTS["alignment_over_time"])
        .mark_line(point=True)
        .encode(
            x=alt.X("day:T", title=None, axis=alt.Axis(format="%d %b")),
            y=alt.Y("percent:Q", title="%", scale=alt.Scale(domain=[0, 100])),
            color=alt.Color("measure:N", title=None),
            tooltip=[alt.Tooltip("day:T", format="%d %b %Y"), "measure:N", "percent:Q"],
        )
    )


def coverage_by_owner(snapshot: Snapshot) -> alt.Chart:
    """The sales owners with the most accounts (people's names are user data: vl-convert
    escapes text, and `_with_titles` re-serialises through an XML parser)."""
    owners = sorted(snapshot.aggregates.get("sales_owners", []), key=lambda row: -row["accounts"])[
        :MAX_OWNERS
    ]
    values = [
        {
            "owner": row["owner"]["name"] if row["owner"] else "No sales owner",
            "percent": _percent(row["fully_covered_share"]),
            "accounts": row["accounts"],
        }
        for row in owners
    ]
    return (
        _base(values, CHARTS["coverage_by_owner"])
        .mark_bar(color="#2f9e44")
        .encode(
            y=alt.Y("owner:N", sort="-x", title=None),
            x=alt.X("percent:Q", title="% fully covered", scale=alt.Scale(domain=[0, 100])),
            tooltip=["owner:N", alt.Tooltip("percent:Q", title="% fully covered"), "accounts:Q"],
        )
    )


def chart_specs(snapshot: Snapshot, history: list[dict]) -> dict[str, alt.Chart]:
    """Every chart of one snapshot. `history` is `snapshot_history(snapshot=...)`: one point per
    done snapshot of the cycle up to this one, oldest first."""
    return {
        "coverage_by_tier": coverage_by_tier(snapshot),
        "stage_funnel": stage_funnel(snapshot),
        "engagement_over_time": engagement_over_time(history),
        "pipeline_by_tier": pipeline_by_tier(snapshot),
        "gaps": gaps(snapshot),
        "alignment_over_time": alignment_over_time(history),
        "coverage_by_owner": coverage_by_owner(snapshot),
    }


# --- Rendering ---------------------------------------------------------------------------------


def _tag(element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _with_titles(svg: str) -> str:
    """Give each mark a `<title>` from its aria-label (the tooltip fields), and drop anything
    that could run in a page. Parsing and re-serialising escapes every text node again."""
    root = ET.fromstring(svg)
    for parent in root.iter():
        for child in list(parent):
            if _tag(child) in {"script", "foreignObject"}:
                parent.remove(child)
                continue
            for name, value in list(child.attrib.items()):
                if name.lower().startswith("on") or value.strip().lower().startswith("javascript:"):
                    del child.attrib[name]
    marks = {"path", "rect", "circle", "line", "text"}
    for element in root.iter():
        label = element.get("aria-label")
        role = element.get("aria-roledescription")
        if label and role not in (None, "group mark container") and _tag(element) in marks:
            title = ET.Element(f"{{{SVG_NS}}}title")
            title.text = label
            element.insert(0, title)
    root.set("role", "img")
    root.set("class", "chart-svg")
    # Scale with the card: the viewBox keeps the proportions.
    root.attrib.pop("width", None)
    root.attrib.pop("height", None)
    return ET.tostring(root, encoding="unicode")


def to_svg(chart: alt.Chart) -> str:
    import vl_convert

    return _with_titles(vl_convert.vegalite_to_svg(chart.to_dict()))


def to_png(chart: alt.Chart, scale: float = 2) -> bytes:
    import vl_convert

    return vl_convert.vegalite_to_png(chart.to_dict(), scale=scale)


def _key(snapshot: Snapshot, name: str) -> str:
    # With its finish time: a snapshot id can come again (a test database rolled back).
    finished = snapshot.finished_at.timestamp() if snapshot.finished_at else 0
    return f"coverage:chart:v{VERSION}:{snapshot.pk}:{finished}:{name}"


def chart_svgs(snapshot: Snapshot) -> dict[str, str]:
    """The snapshot's charts as inline SVG, rendered on the first view and cached after."""
    keys = {name: _key(snapshot, name) for name in CHARTS}
    cached = cache.get_many(keys.values())
    if len(cached) == len(keys):
        return {name: cached[key] for name, key in keys.items()}
    from coverage.dashboard import snapshot_history

    specs = chart_specs(snapshot, snapshot_history(snapshot=snapshot))
    svgs = {name: cached.get(keys[name]) or to_svg(specs[name]) for name in CHARTS}
    cache.set_many({keys[name]: svg for name, svg in svgs.items()}, CACHE_SECONDS)
    return svgs


def chart_pngs(snapshot: Snapshot, scale: float = 2) -> dict[str, bytes]:
    """The snapshot's charts as PNG, for e-mail (not cached: the digest sends them once)."""
    from coverage.dashboard import snapshot_history

    specs = chart_specs(snapshot, snapshot_history(snapshot=snapshot))
    return {name: to_png(chart, scale=scale) for name, chart in specs.items()}
