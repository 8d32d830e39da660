"""The nomination page's discussion and timeline, written in Python (`comment_rows` and
`timeline_rows` in workflow/templatetags/accord.py), are the markup the template loops wrote:
rendered both ways and compared, for names and texts with markup, a person with no name, ops
(no side), mentions, an edit's changes, notes, an event by Accord itself, in two time zones."""

import re

import pytest
from django.db.models import Prefetch
from django.template import Context, Template
from django.utils import timezone

from tests.factories import person
from workflow import selectors, services
from workflow.models import EventAction, NominationEvent, State

# The loops as the page's template wrote them before they moved to Python.
COMMENTS_LOOP = """{% load accord %}{% for c in comments %}
        <div class="comment side-{{ c.author_side|default:'ops' }}-border mb-3" id="comment-{{ c.pk }}">
          <div class="small"><strong>{{ c.author|person }}</strong> {% side_badge c.author_side %}
            <span class="text-body-secondary">· {{ c.created_at|date:"j M Y, H:i" }}</span></div>
          <div class="mt-1">{{ c|mentionize }}</div>
        </div>{% endfor %}"""  # noqa: E501 (the template's own lines)

TIMELINE_LOOP = """{% load accord %}{% for e in events %}
          <li class="ev-{{ e.action }}">
            <div class="small"><strong>{% if e.actor %}{{ e.actor|person }}{% else %}Accord{% endif %}</strong>
              {% side_badge e.actor_side %}
              {{ e.get_action_display|lower }}
              <span class="text-body-secondary">· round {{ e.round }} · {{ e.created_at|date:"j M Y, H:i:s" }}</span></div>
            <div class="small text-body-secondary">{% if e.from_state %}{{ e.get_from_state_display }} → {% endif %}{{ e.get_to_state_display }}</div>
            {% with lines=e.change_lines %}{% if lines %}<div class="small" data-testid="changes">Changed: {{ lines|join:"; " }}</div>{% endif %}{% endwith %}
            {% if e.note %}<div class="small fst-italic">“{{ e.note }}”</div>{% endif %}
          </li>{% endfor %}"""  # noqa: E501 (the template's own lines)


def _normal(html: str) -> str:
    """Whitespace between and inside tags aside, the same markup."""
    html = re.sub(r"\s+", " ", html)
    return re.sub(r"\s*(<|>)\s*", r"\1", html).strip()


@pytest.fixture
def discussed(people, in_review):
    """A nomination sent back, edited and resubmitted, discussed by people whose names hold
    markup, with mentions, by ops and by someone with no name; and an event by Accord."""
    people.marketing_approver.first_name = '<b>Milo</b> & "Co"'
    people.marketing_approver.save()
    nameless = person("nameless", side="sales")
    nameless.first_name = nameless.last_name = ""
    nameless.save()
    services.nomination_sign_off(
        nomination=in_review,
        by=people.sales_approver,
        decision="request_changes",
        note='Which <script>alert("x")</script> budget?',
    )
    services.nomination_resubmit(
        nomination=in_review,
        by=people.marketer,
        tier=2,
        rationale="Budget confirmed for Q3 & beyond.",
        evidence_links=["https://globex.example/q3"],
        note="Tier 2 <for now>",
    )
    for by, body in [
        (people.marketing_approver, "Agreed with @sam & @nobody-here: <i>go</i>\nnext line"),
        (people.ops, "Ops here; @milo owns it."),
        (nameless, "Plain words."),
    ]:
        services.comment_create(nomination=in_review, by=by, body=body)
    NominationEvent.objects.create(
        nomination=in_review,
        action=EventAction.REMINDED,
        to_state=State.IN_REVIEW,
        round=in_review.round,
        note="Waiting 3 days",
    )
    return in_review


def _comments(nomination):
    return (
        nomination.comments.select_related("author")
        .defer(*selectors.people_unshown("author"))
        .prefetch_related(Prefetch("mentions", selectors.people_named()))
    )


def _events(nomination):
    return nomination.events.select_related("actor").defer(*selectors.people_unshown("actor"))


@pytest.mark.parametrize("zone", ["Europe/Paris", "America/New_York"])
def test_the_discussion_is_the_template_loop(discussed, zone):
    with timezone.override(zone):
        comments = list(_comments(discussed))
        expected = Template(COMMENTS_LOOP).render(Context({"comments": comments}))
        written = Template("{% load accord %}{% comment_rows comments %}").render(
            Context({"comments": comments})
        )
    assert len(comments) == 3
    assert _normal(written) == _normal(expected)
    assert "&lt;b&gt;Milo&lt;/b&gt; &amp; &quot;Co&quot;" in written
    assert 'class="mention"' in written and "<br>" in written
    assert "side-ops-border" in written and ">nameless<" in written


@pytest.mark.parametrize("zone", ["Europe/Paris", "America/New_York"])
def test_the_timeline_is_the_template_loop(discussed, zone):
    with timezone.override(zone):
        events = list(_events(discussed))
        expected = Template(TIMELINE_LOOP).render(Context({"events": events}))
        written = Template("{% load accord %}{% timeline_rows events %}").render(
            Context({"events": events})
        )
    assert {e.action for e in events} >= {"created", "request_changes", "resubmitted", "reminded"}
    assert _normal(written) == _normal(expected)
    assert "&lt;script&gt;" in written and "<script>" not in written
    assert "Changed: Tier 1 → 2; rationale edited; evidence links:" in written
    assert "<strong>Accord</strong>" in written


def test_the_page_shows_both(discussed, as_, people):
    page = as_(people.sales_approver).get(f"/nominations/{discussed.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count('class="comment ') == 3
    assert html.count('<li class="ev-') == discussed.events.count()


def test_a_nomination_with_no_comment_says_so(in_review, as_, people):
    html = as_(people.sales_approver).get(f"/nominations/{in_review.pk}/").content.decode()
    assert "No comments yet." in html
    assert '<li class="ev-created">' in html
