"""The rows built in Python (workflow/templatetags/accord_tables.py) show values as the
template did: datetimes in the reader's time zone and language, even once formatted for
another reader, and every value escaped; the badges, built once for each value, too."""

from datetime import UTC, datetime

from django.template import Context, Template
from django.utils import timezone, translation
from django.utils.safestring import mark_safe

from workflow.templatetags.accord import fit_badge, side_badge, state_badge
from workflow.templatetags.accord_tables import _date, text

WHEN = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 1:30 in Paris, 20:30 the day before in New York


def as_template(source: str, value) -> str:
    return Template(source).render(Context({"v": value}))


def test_a_datetime_reads_as_in_the_template_in_each_time_zone():
    for zone in ("Europe/Paris", "America/New_York", "Europe/Paris"):
        with timezone.override(zone):
            assert text(WHEN) == as_template("{{ v }}", WHEN)
            assert _date(WHEN, "j M Y") == as_template('{{ v|date:"j M Y" }}', WHEN)
    with timezone.override("America/New_York"):
        assert _date(WHEN, "j M Y") == "28 Mar 2026"


def test_a_datetime_reads_as_in_the_template_in_another_language():
    with translation.override("fr"):
        assert text(WHEN) == as_template("{{ v }}", WHEN)
    assert text(WHEN) == as_template("{{ v }}", WHEN)


def test_other_values_are_escaped():
    markup = '<b>"x"</b>'
    assert text(markup) == as_template("{{ v }}", markup) == "&lt;b&gt;&quot;x&quot;&lt;/b&gt;"
    assert text(None) == as_template("{{ v }}", None)
    assert _date(None, "j M Y") == as_template('{{ v|date:"j M Y" }}', None)


def test_a_badge_escapes_a_text_even_once_the_same_text_marked_safe_was_shown():
    assert "<b>x</b>" in state_badge("approved", mark_safe("<b>x</b>"))
    assert "&lt;b&gt;x&lt;/b&gt;" in state_badge("approved", "<b>x</b>")
    assert "&lt;i&gt;" in side_badge("<i>")
    assert "50 / 100" in fit_badge(50)
    assert "50.0 / 100" in fit_badge(50.0)
