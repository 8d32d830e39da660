"""The coverage table's rows, written in Python (AccountCoverageTable.rows_html), are the
markup django-tables2's stock template writes for the same table: rendered both ways and
compared, for names with markup, people with and without names, rows with and without gaps,
sorted, paged and empty."""

import re

import pytest
from django.test import RequestFactory
from django_tables2 import RequestConfig

from accounts_app.models import Account
from coverage.models import AccountCoverage
from coverage.selectors import snapshot_rows
from coverage.services import snapshot_take
from coverage.tables import AccountCoverageTable
from coverage.views import STAGE_RANK

STOCK = "django_tables2/bootstrap5-responsive.html"


@pytest.fixture
def taken(world, people):
    Account.objects.filter(name="Echo").update(name='Echo <b>&</b> "Sons"')
    people.sales_member.first_name = ""
    people.sales_member.last_name = ""
    people.sales_member.save()
    marketer = Account.objects.get(name="Acme").marketing_owner
    marketer.first_name = "<i>Sam</i>"
    marketer.save()
    return snapshot_take(cycle=world.cycle, as_of=world.as_of)


def both_ways(snapshot, user, query: str = "", per_page: int = 25, rows=None) -> tuple[str, str]:
    request = RequestFactory().get(f"/?{query}")
    request.user = user
    if rows is None:
        rows = snapshot_rows(snapshot=snapshot)
    rows = rows.select_related("account", "sales_owner", "marketing_owner").annotate(
        stage_rank=STAGE_RANK
    )
    html = []
    for template in (STOCK, None):
        table = AccountCoverageTable(rows, taken_on=snapshot.taken_on)
        if template:
            table.template_name = template
        RequestConfig(request, paginate=False).configure(table)
        table.paginate(page=request.GET.get("page", 1), per_page=per_page)
        html.append(_normal(table.as_html(request)))
    return html[0], html[1]


def _normal(html: str) -> str:
    """Whitespace between and inside tags aside (`<td >` and `<td>`), the same markup."""
    html = re.sub(r"\s+", " ", html)
    html = re.sub(r"\s*(<|>)\s*", r"\1", html)
    return re.sub(r"<(\w+) >", r"<\1>", html)


@pytest.mark.parametrize("query", ["", "sort=-coverage", "sort=stage", "sort=-sales_owner"])
def test_each_row_is_the_stock_templates(taken, people, query):
    stock, ours = both_ways(taken, people.marketing_member, query)
    assert stock == ours
    assert "Echo &lt;b&gt;&amp;&lt;/b&gt; &quot;Sons&quot;" in ours
    assert people.sales_member.username in ours  # no name: the username
    assert ours.count("<tr data-account=") == AccountCoverage.objects.filter(snapshot=taken).count()


def test_a_second_page_and_an_empty_table_are_the_stock_templates_too(taken, people):
    stock, ours = both_ways(taken, people.marketing_member, "page=2", per_page=4)
    assert stock == ours and ours.count("<tr data-account=") == 2
    stock, ours = both_ways(taken, people.marketing_member, rows=AccountCoverage.objects.none())
    assert stock == ours
    assert "No target account matches these filters." in ours


LOOP = (
    '{% for value, label in field.field.choices %}<option value="{{ value }}" {% if '
    "field.value|stringformat:'s' == value|stringformat:'s' %}selected{% endif %}>{{ label }}"
    "</option>{% endfor %}"
)
OPTION = re.compile(r'<option value="([^"]*)" ?(selected)?>([^<]*)</option>')


@pytest.mark.parametrize("query", ["", "tier=2&gap=missing_role", "sales_owner={seller}"])
def test_the_filters_options_are_the_template_loops(taken, people, query):
    """The filters' selects are written by workflow's select_options (hundreds of owners: a
    template loop was most of a first rendering of the table): the options, the one selected
    and the escaping are the loop's."""
    from django.template import Context, Template

    from coverage.filters import AccountCoverageFilter

    request = RequestFactory().get(f"/?{query.format(seller=people.sales_member.pk)}")
    filters = AccountCoverageFilter(
        request.GET, queryset=snapshot_rows(snapshot=taken), snapshot=taken, user=people.ops
    )
    loop = Template(LOOP)
    ours = Template("{% load accord %}{% select_options field.field.choices field.value %}")
    selects = [f for f in filters.form if f.field.widget.input_type == "select"]
    assert len(selects) >= 5
    for field in selects:
        expected = OPTION.findall(loop.render(Context({"field": field})))
        assert OPTION.findall(ours.render(Context({"field": field}))) == expected
    shown = "".join(ours.render(Context({"field": f})) for f in selects)
    assert "&lt;i&gt;Sam&lt;/i&gt;" in shown
    assert shown.count(" selected>") == len([p for p in request.GET if request.GET[p]])
