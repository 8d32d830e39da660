"""Account names and people's names are user data: the table, the charts and the pages show
them as text, never as markup."""

from django.urls import reverse

from coverage.services import snapshot_take
from tests.coverage.dashboard_helpers import client_for, html_of
from tests.factories import AccountFactory, person
from tests.workflow.helpers import put_on_list

EVIL = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
EVIL_PERSON = "<img src=x onerror=alert(2)>"


def test_names_are_escaped_in_the_table_the_charts_and_the_pages(people, the_cycle):
    the_cycle.tiers.update(required_roles=["decision_maker"])
    owner = person("eve", side="sales", first_name=EVIL_PERSON, last_name="Doe")
    account = AccountFactory(name=EVIL, domain="evil.example", sales_owner=owner)
    target = put_on_list(people, the_cycle, account, tier=1)
    snapshot_take(cycle=the_cycle)

    client = client_for(owner)
    pages = {
        "dashboard": reverse("coverage:dashboard", args=[the_cycle.pk]),
        "table": reverse("coverage:accounts", args=[the_cycle.pk]),
        "account": reverse("accounts_app:account", args=[account.pk]),
        "nomination": reverse("workflow:nomination", args=[target.nomination_id]),
    }
    for name, url in pages.items():
        html = html_of(client.get(url))
        assert EVIL not in html, name
        assert "<img src=x" not in html, name
        assert ESCAPED in html, name

    dashboard = html_of(client.get(pages["dashboard"]))
    charts = dashboard[
        dashboard.index('data-testid="charts"') : dashboard.index('data-testid="tiers"')
    ]
    # The owner's name is a label of the coverage-by-owner chart, as text.
    assert "&lt;img src=x onerror=alert(2)&gt; Doe" in charts
    assert "<script" not in charts and "onerror=" not in charts.replace(
        "&lt;img src=x onerror=", ""
    )
    my_actions = dashboard[dashboard.index('data-testid="my-actions"') :]
    assert ESCAPED in my_actions[:5000]
