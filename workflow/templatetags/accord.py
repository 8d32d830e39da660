"""Small presentation helpers shared by Accord's templates."""

import functools
import html

from django import template
from django.template.defaultfilters import date as date_filter
from django.templatetags.static import static
from django.urls import get_script_prefix, reverse
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django.utils.timezone import template_localtime

from core.text import is_web_address
from workflow.services import MENTION

register = template.Library()

STATE_CLASSES = {
    "draft": "text-bg-secondary",
    "in_review": "text-bg-primary",
    "changes_requested": "text-bg-warning",
    "approved": "text-bg-success",
    "rejected": "text-bg-danger",
    "withdrawn": "text-bg-light border",
}


@register.simple_tag
def state_badge(nomination_or_state, label=None):
    state = getattr(nomination_or_state, "state", nomination_or_state)
    if label is None:
        label = (
            nomination_or_state.get_state_display()
            if hasattr(nomination_or_state, "get_state_display")
            else str(state).replace("_", " ").capitalize()
        )
    return _state_badge(conditional_escape(state), conditional_escape(label))


# The badges are pure functions of a few values, shown on every row of the big tables: each is
# built once (format_html escapes every argument each time). Keyed by the escaped values, so
# that a text and the same text marked safe are never taken for one another.
@functools.lru_cache(maxsize=256)
def _state_badge(state, label):
    return format_html(
        '<span class="badge rounded-pill {}" data-state="{}">{}</span>',
        STATE_CLASSES.get(state, "text-bg-secondary"),
        state,
        label,
    )


@register.simple_tag
def side_badge(side):
    if not side:
        return ""
    side = str(side)
    return _SIDE_BADGES.get(side) or _side_badge(side)


def _side_badge(side: str):
    return format_html('<span class="badge side-badge side-{}">{}</span>', side, side.capitalize())


_SIDE_BADGES = {side: _side_badge(side) for side in ("marketing", "sales")}


@register.simple_tag
def fit_badge(score):
    if score is None or type(score) is int:
        return _fit_badge(score)
    return _fit_badge.__wrapped__(score)  # not cached: 50.0 would be taken for 50


@functools.lru_cache(maxsize=256)
def _fit_badge(score):
    if score is None:
        return format_html(
            '<span class="badge text-bg-light border" title="{}">not scored</span>',
            "No effective ideal customer profile scored this account yet.",
        )
    level = "high" if score >= 70 else "mid" if score >= 40 else "low"
    return format_html('<span class="badge fit-badge fit-{}">{} / 100</span>', level, score)


@register.filter
def person(user):
    """A person's full name, or their username; "—" for nobody."""
    if user is None or user == "":
        return "—"
    if not hasattr(user, "get_full_name"):
        return str(user)
    return user.get_full_name() or user.username


@register.filter
def evidence_link(link):
    """A link that opens in a new tab if it is a web address, else the text alone: a link stored
    before the service checked them (or written around it) is never a clickable javascript:."""
    if not is_web_address(link):
        return format_html('<span class="text-break">{}</span>', link)
    return format_html(
        '<a href="{}" rel="noopener noreferrer nofollow" target="_blank">{}</a>', link, link
    )


@register.filter
def mentionize(comment):
    """The comment's body, escaped, with each @username of a person it mentions highlighted.
    Expects `mentions` prefetched."""
    known = {u.username: u for u in comment.mentions.all()}
    body = str(comment.body)
    out, last = [], 0
    for match in MENTION.finditer(body):
        user = known.get(match.group(1))
        if user is None:
            continue
        out.append(conditional_escape(body[last : match.start()]))
        out.append(
            format_html(
                '<span class="mention" title="{}">@{}</span>',
                user.get_full_name() or user.username,
                user.username,
            )
        )
        last = match.end()
    out.append(conditional_escape(body[last:]))
    html = "".join(str(part) for part in out).replace("\n", "<br>")
    # Safe: every part above is escaped or built by format_html.
    return mark_safe(html)


def _when(moment, fmt: str) -> str:
    """`{{ moment|date:fmt }}` as a template writes it: in the current time zone, escaped."""
    return conditional_escape(date_filter(template_localtime(moment), fmt))


# The nomination page's discussion and timeline are its longest loops (a row per comment and
# per event, a few filters and tags each); written here, as the coverage table's rows are, they
# cost a fraction of the template's time. The markup is the template loop's, tested against it.


@register.simple_tag
def comment_rows(comments):
    """The discussion's comments: author, side and time, then the body with its mentions.
    Expects `author` selected and `mentions` prefetched."""
    out = []
    for c in comments:
        side = conditional_escape(c.author_side or "ops")
        out.append(
            f'<div class="comment side-{side}-border mb-3" id="comment-{c.pk}">'
            f'<div class="small"><strong>{conditional_escape(person(c.author))}</strong> '
            f"{side_badge(c.author_side)} "
            f'<span class="text-body-secondary">· {_when(c.created_at, "j M Y, H:i")}</span></div>'
            f'<div class="mt-1">{mentionize(c)}</div></div>'
        )
    return mark_safe("".join(out))  # every value above is escaped or built by format_html


@register.simple_tag
def timeline_rows(events):
    """The timeline's <li>s: who did what in which round and when, the states it went between,
    what an edit changed and the note. Expects `actor` selected."""
    out = []
    for e in events:
        who = conditional_escape(person(e.actor)) if e.actor else "Accord"
        states = conditional_escape(e.get_to_state_display())
        if e.from_state:
            states = f"{conditional_escape(e.get_from_state_display())} → {states}"
        lines = e.change_lines()
        note = conditional_escape(e.note)
        out.append(
            f'<li class="ev-{conditional_escape(e.action)}">'
            f'<div class="small"><strong>{who}</strong> {side_badge(e.actor_side)} '
            f"{conditional_escape(e.get_action_display().lower())} "
            f'<span class="text-body-secondary">· round {conditional_escape(e.round)} · '
            f"{_when(e.created_at, 'j M Y, H:i:s')}</span></div>"
            f'<div class="small text-body-secondary">{states}</div>'
            + (
                f'<div class="small" data-testid="changes">Changed: '
                f"{'; '.join(conditional_escape(line) for line in lines)}</div>"
                if lines
                else ""
            )
            + (f'<div class="small fst-italic">“{note}”</div>' if note else "")
            + "</li>"
        )
    return mark_safe("".join(out))  # every value above is escaped or built by format_html


@register.simple_tag
def asset(path: str) -> str:
    """`{% static path %}`, looked up once per process: the base template's five assets cost a
    tenth of its time looked up in the manifest on every page."""
    return _asset(path)


@functools.lru_cache(maxsize=64)
def _asset(path: str) -> str:
    return conditional_escape(static(path))


# The main navigation's links: (the page, its label, the pages under which it shows as active).
MAIN_LINKS = (
    ("workflow:queue", "My queue", ("workflow:queue",)),
    (
        "workflow:cycles",
        "Cycles",
        (
            "workflow:cycles",
            "workflow:cycle",
            "workflow:nominate",
            "workflow:versions",
            "workflow:version",
            "workflow:nomination",
        ),
    ),
    ("coverage:index", "Coverage", ("coverage:index", "coverage:dashboard", "coverage:accounts")),
    ("accounts_app:accounts", "Accounts", ("accounts_app:accounts", "accounts_app:account")),
    ("icp:list", "Ideal customer profile", ("icp:list",)),
    ("crm:sync", "Sync", ("crm:sync", "crm:run")),
)


@register.simple_tag(takes_context=True)
def main_links(context):
    """The <li>s of the main navigation for this reader and page: the links for people on a
    side and ops, the admin's for ops and staff, the current section's marked active. The same
    few strings on every page, so each is built once per process (reversing seven URLs and
    testing six sections was two thirds of the base template's time)."""
    match = getattr(context.get("request"), "resolver_match", None)
    user = context.get("user")
    return _main_links(
        get_script_prefix(),
        match.view_name if match else None,
        bool(context.get("my_side") or context.get("i_am_ops")),
        bool(context.get("i_am_ops") or getattr(user, "is_staff", False)),
    )


@functools.lru_cache(maxsize=512)
def _main_links(prefix: str, view_name: str | None, member: bool, admin: bool) -> str:
    # `prefix` is the script prefix reverse() uses now: part of the key, not read here.
    if not member:
        return ""
    items = [
        format_html(
            '<li class="nav-item"><a class="nav-link {}" href="{}">{}</a></li>',
            "active" if view_name in under else "",
            reverse(name),
            label,
        )
        for name, label, under in MAIN_LINKS
    ]
    if admin:
        items.append(
            format_html(
                '<li class="nav-item"><a class="nav-link" href="{}">Admin</a></li>',
                reverse("admin:index"),
            )
        )
    return mark_safe("".join(items))


@register.simple_tag
def proposal(nomination):
    """A nomination's change in a few words: "Add · Tier 2", "Move to Tier 1", "Remove"."""
    return _proposal(str(nomination.kind), nomination.tier)


@functools.lru_cache(maxsize=64)
def _proposal(kind: str, tier):
    if kind == "add":
        return format_html("Add · <strong>Tier {}</strong>", tier)
    if kind == "change_tier":
        return format_html("Move to <strong>Tier {}</strong>", tier)
    return "Remove"


@register.simple_tag
def select_options(choices, selected):
    """The <option>s of a select, `selected` (a value or a field's value) marked. In Python, not
    a template loop: an owner picker lists every person of both sides, and the loop took most of
    a cycle page's time with a few hundred of them."""
    chosen = None if selected is None else str(selected)
    # html.escape (quotes too) rather than format_html: a few microseconds an option, not tens.
    return mark_safe(
        "".join(
            f'<option value="{html.escape(str(value))}"'
            f"{' selected' if str(value) == chosen else ''}>{html.escape(str(label))}</option>"
            for value, label in choices
        )
    )
