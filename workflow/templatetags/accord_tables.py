"""The rows of the big tables (the cycle page's agreed list and nominations, the queue), built
in Python rather than in a template loop.

A row written as a template costs a few hundred variable lookups, filters and `{% url %}`
reversals; with 25 rows a page that was most of its CPU. Here each link is reversed once per
table and each value escaped as the template would (`conditional_escape`, datetimes in the
current time zone and locale), so the page reads the same. The markup is the one the templates
held: change it here.
"""

import functools
from datetime import datetime

from django import template
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.urls import reverse
from django.utils.formats import date_format, localize
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince
from django.utils.timezone import get_current_timezone_name, template_localtime
from django.utils.translation import get_language

from core.web import link_to
from workflow.models import State
from workflow.templatetags.accord import fit_badge, person, proposal, side_badge, state_badge

register = template.Library()


def text(value) -> str:
    """`{{ value }}`: datetimes in the current time zone and locale, then escaped."""
    if isinstance(value, datetime):
        return _formatted(value, None, get_current_timezone_name(), get_language())
    return conditional_escape(localize(value))


def _date(value, format_string: str) -> str:
    """`{{ value|date:format_string }}`."""
    if value in (None, ""):
        return ""
    return _formatted(value, format_string, get_current_timezone_name(), get_language())


@functools.lru_cache(maxsize=4096)
def _formatted(value, format_string, timezone_name, language) -> str:
    """A date or time as the template shows it: a pure function of its arguments (the time zone
    and language are the current ones, passed for the key), and the same rows' dates are shown
    to every reader, so they are formatted once (Django's formatting took a fifth of a table's
    time)."""
    value = template_localtime(value)
    if format_string is None:
        return conditional_escape(localize(value))
    return conditional_escape(date_format(value, format_string))


def _since(value) -> str:
    """`{{ value|timesince }}`."""
    return conditional_escape(timesince(value)) if value else ""


def _ago(value) -> str:
    """`{{ value|naturaltime }}`."""
    return conditional_escape(naturaltime(value))


def _who(user) -> str:
    """`{{ user|person }}`."""
    return conditional_escape(person(user))


def _account_cell(url: str, account) -> str:
    return (
        f'<td><a class="fw-semibold" href="{url}">{conditional_escape(account.name)}</a>'
        f'<div class="small text-body-secondary">{conditional_escape(account.domain)}</div></td>'
    )


@register.simple_tag
def agreed_list_rows(targets, cycle, can_nominate):
    """The <tr>s of a cycle's agreed list (targets with account and owners)."""
    account_url = link_to("accounts_app:account")
    nomination_url = link_to("workflow:nomination")
    nominate_url = reverse("workflow:nominate", args=[cycle.pk])
    rows = []
    for t in targets:
        changed = ""
        if t.last_nomination_id != t.nomination_id:
            changed = (
                ' <span class="small text-body-secondary">· changed by '
                f'<a href="{nomination_url(t.last_nomination_id)}">#{t.last_nomination_id}</a>'
                "</span>"
            )
        actions = ""
        if can_nominate:
            actions = (
                '<td class="text-end text-nowrap">'
                f'<a class="btn btn-sm btn-outline-secondary" href="{nominate_url}?account='
                f'{t.account_id}&amp;kind=change_tier">Change tier</a> '
                f'<a class="btn btn-sm btn-outline-danger" href="{nominate_url}?account='
                f'{t.account_id}&amp;kind=remove">Remove</a></td>'
            )
        rows.append(
            "<tr>"
            + _account_cell(account_url(t.account_id), t.account)
            + f'<td><span class="badge text-bg-dark">Tier {t.tier}</span></td>'
            f"<td>{_who(t.sales_owner)}</td>"
            f"<td>{_who(t.marketing_owner)}</td>"
            f'<td title="{text(t.added_at)}">{_date(t.added_at, "j M Y")}</td>'
            f'<td><a href="{nomination_url(t.nomination_id)}">#{t.nomination_id}</a>{changed}</td>'
            f"{actions}</tr>"
        )
    # Safe: every value above is escaped, every fragment built by format_html or here.
    return mark_safe("\n".join(rows))


def _owners_cell(account) -> str:
    parts = []
    if account.sales_owner:
        parts.append(f"S: {_who(account.sales_owner)}<br>")
    if account.marketing_owner:
        parts.append(f"M: {_who(account.marketing_owner)}")
    return f'<td class="small">{"".join(parts)}</td>'


@register.simple_tag
def cycle_nomination_rows(nominations):
    """The <tr>s of a cycle page's nominations (as selectors.nominations_for_list)."""
    nomination_url = link_to("workflow:nomination")
    rows = []
    for n in nominations:
        rows.append(
            f'<tr><td class="text-body-secondary">{n.pk}</td>'
            + _account_cell(nomination_url(n.pk), n.account)
            + f'<td class="text-nowrap">{proposal(n)}</td>'
            f"<td>{state_badge(n)}</td>"
            f"<td>{_who(n.proposer)} {side_badge(n.proposer_side)}</td>"
            + _owners_cell(n.account)
            + f"<td>{n.round}</td>"
            f'<td class="small" title="{text(n.updated_at)}">{_ago(n.updated_at)}</td></tr>'
        )
    # Safe: as agreed_list_rows.
    return mark_safe("\n".join(rows))


def _wait_cells(n, ops_only: bool, edit_url) -> str:
    if n.state == State.IN_REVIEW:
        detail = (
            '<div class="text-body-secondary">reminder after '
            f"{n.cycle.reminder_after_hours} h</div>"
        )
        if n.overdue:
            detail += (
                '<span class="badge text-bg-warning" data-testid="overdue">'
                "Past the reminder delay</span>"
            )
    else:
        detail = '<div class="text-body-secondary">since changes were asked</div>'
    if n.act == "decide":
        act = '<span class="badge text-bg-primary">Your decision</span>'
    elif n.act == "resubmit":
        act = (
            f'<a class="btn btn-sm btn-outline-primary" href="{edit_url(n.pk)}">'
            "Edit and resubmit</a>"
        )
    elif ops_only:
        act = (
            '<span class="badge text-bg-light border" title="Revenue operations follows '
            'nominations but does not sign off">View only</span>'
        )
    else:
        act = (
            '<span class="badge text-bg-light border" title="Only approvers sign off; you can '
            'join the discussion">Approvers only</span>'
        )
    return (
        f'<td class="small text-nowrap" title="since {text(n.waited_from)}" data-field="waited">'
        f"{_since(n.waited_from)}{detail}</td>"
        f'<td class="small" data-field="act">{act}</td>'
    )


@register.simple_tag
def queue_rows(nominations, tab, ops_only):
    """The <tr>s of the queue's nomination tabs (rows marked by workflow.views._mark_waits)."""
    nomination_url = link_to("workflow:nomination")
    edit_url = link_to("workflow:edit")
    rows = []
    for n in nominations:
        if tab == "waiting":
            last = _wait_cells(n, ops_only, edit_url)
        else:
            last = (
                f"<td>{state_badge(n)}</td><td>{n.round}</td>"
                f'<td title="{text(n.updated_at)}">{_ago(n.updated_at)}</td>'
            )
        rows.append(
            f'<tr data-nomination="{n.pk}"><td class="text-body-secondary">{n.pk}</td>'
            + _account_cell(nomination_url(n.pk), n.account)
            + f'<td class="text-nowrap">{proposal(n)}</td>'
            f"<td>{fit_badge(n.account.fit_score)}</td>"
            f"<td>{_who(n.proposer)} {side_badge(n.proposer_side)}</td>"
            f"<td>{conditional_escape(n.cycle.name)}</td>{last}</tr>"
        )
    # Safe: as agreed_list_rows.
    return mark_safe("\n".join(rows))
