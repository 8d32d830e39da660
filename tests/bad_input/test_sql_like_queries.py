"""SQL-looking and wildcard strings (quotes, comments, `%`, `_`, backslashes, NUL) in every
search box and filter of the site, the admin and the API: a 200 with the right, usually empty,
result (or a 400 saying which filter is wrong), never a 500. `%`, `_` and `\\` are matched
literally: searching "%" finds the account whose name has a "%", not every account."""

import pytest
from django.contrib import admin
from django.urls import reverse

from coverage.services import snapshot_take
from tests.api.conftest import client_for
from tests.factories import AccountFactory
from tests.workflow.helpers import put_on_list
from workflow.services import person_set_role

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

NUL_CASES = ("\x00", "Glo\x00bex")  # refused with 400 (core.middleware): PostgreSQL cannot hold NUL
TOO_LONG = "%_" * 5000  # over the search box's 200 characters: the search is ignored

SQL_LIKE = {
    "or 1=1": "' OR 1=1 --",
    "drop table": '"; DROP TABLE accounts_app_account; --',
    "union": "' UNION SELECT username, password FROM auth_user --",
    "sleep": "'; SELECT pg_sleep(5); --",
    "percent": "%",
    "underscore": "_",
    "backslash": "\\",
    "escaped percent": "\\%",
    "quote only": "'",
    "double quote": '"',
    "semicolon": ";",
    "comment": "/* */ --",
    "NUL": "\x00",
    "NUL inside": "Glo\x00bex",
    "long": TOO_LONG,
}


@pytest.fixture
def accounts(people, the_cycle):
    """Accounts whose names hold the characters a LIKE pattern treats specially, each on the
    cycle's list, and a snapshot of the cycle's coverage."""
    made = {
        "plain": AccountFactory(name="Globex", domain="globex.example"),
        "percent": AccountFactory(name="100% Fun", domain="fun.example"),
        "underscore": AccountFactory(name="Under_score", domain="underscore.example"),
        "backslash": AccountFactory(name="Back\\slash", domain="backslash.example"),
        "quote": AccountFactory(name="O'Reilly", domain="oreilly.example"),
    }
    for account in made.values():
        put_on_list(people, the_cycle, account)
    snapshot_take(cycle=the_cycle)
    return made


EXPECTED = {  # search text → names found (for the cases with a non-empty answer)
    "%": ["100% Fun"],
    "_": ["Under_score"],
    "\\": ["Back\\slash"],
    "'": ["O'Reilly"],
}


def _names(page, key="page") -> list[str]:
    return sorted(a.name for a in page.context[key].object_list)


def expected_status(text: str) -> int:
    return 400 if text in NUL_CASES else 200


def test_the_account_search_finds_literally_what_was_typed(accounts, people, as_):
    for text in SQL_LIKE.values():
        response = as_(people.sales_member).get(reverse("accounts_app:accounts"), {"q": text})

        assert response.status_code == expected_status(text)
        if text in NUL_CASES:
            assert "NUL character" in response.content.decode()
        elif text != TOO_LONG:
            assert _names(response) == EXPECTED.get(text, [])


def test_the_cycle_page_search_and_filters_answer_200(accounts, people, the_cycle, as_):
    for text in SQL_LIKE.values():
        client = as_(people.sales_member)
        url = reverse("workflow:cycle", args=[the_cycle.pk])

        for view in ("list", "nominations"):
            response = client.get(url, {"view": view, "q": text})
            assert response.status_code == expected_status(text), view
            for name in ("tier", "owner", "state", "side", "page"):
                response = client.get(url, {"view": view, name: text})
                assert response.status_code == expected_status(text), name
        if text in EXPECTED:
            listed = client.get(url, {"q": text}).content.decode()
            for name in ("100% Fun", "Under_score", "Back\\slash", "Globex"):
                assert (f">{name}</a>" in listed) == (EXPECTED[text] == [name]), name


def test_the_nominate_search_finds_literally_what_was_typed(accounts, people, the_cycle, as_):
    for text in SQL_LIKE.values():
        response = as_(people.sales_member).get(
            reverse("workflow:nominate", args=[the_cycle.pk]), {"q": text}
        )

        assert response.status_code == expected_status(text)
        if response.status_code == 200 and text.strip():
            found = sorted(a.name for a in response.context["results"] or [])
            assert found == EXPECTED.get(text, [])


def test_the_coverage_table_and_its_export_search_literally(accounts, people, the_cycle, as_):
    for text in SQL_LIKE.values():
        client = as_(people.sales_member)

        table = client.get(reverse("coverage:accounts", args=[the_cycle.pk]), {"q": text})
        assert table.status_code in (200, 400)
        for name in ("tier", "stage", "gap", "sales_owner", "covered", "pipeline", "action"):
            assert client.get(
                reverse("coverage:accounts", args=[the_cycle.pk]), {name: text}
            ).status_code in (200, 400)
        export = client.get(
            reverse("coverage_exports:coverage_accounts", args=[the_cycle.pk]), {"q": text}
        )
        assert export.status_code in (200, 400)


def test_the_other_pages_query_parameters_answer_cleanly(accounts, people, the_cycle, as_):
    for text in SQL_LIKE.values():
        client = as_(people.ops)
        for url, params in (
            (reverse("workflow:queue"), {"tab": text, "page": text}),
            (reverse("workflow:cycles"), {"page": text}),
            (reverse("crm:sync"), {"kind": text, "page": text}),
            (reverse("crm:progress"), {"id": text}),
            (reverse("workflow:version_compare", args=[the_cycle.pk]), {"old": text, "new": text}),
            (reverse("accounts_app:accounts"), {"page": text}),
        ):
            assert client.get(url, params).status_code in (200, 302, 400), url


def _searchable_admins():
    """The project's models whose admin list has a search box (those of the libraries it uses,
    such as Celery beat's, are for superusers)."""
    ours = {"accounts_app", "workflow", "crm", "coverage", "api", "auth"}
    return [
        (model._meta.app_label, model._meta.model_name)
        for model, model_admin in admin.site._registry.items()
        if model_admin.search_fields and model._meta.app_label in ours
    ]


# Every payload on the account list; the four that differ most on every admin list (each list
# costs a request, and there are two dozen).
EVERY_ADMIN = ("' OR 1=1 --", "%", "\\", "\x00")


def test_every_admin_search_answers_200(accounts, as_):
    ops_user, _ = person_set_role(username="opal", role="ops")
    client = as_(ops_user)
    for text in SQL_LIKE.values():
        for app, model in _searchable_admins() if text in EVERY_ADMIN else []:
            response = client.get(reverse(f"admin:{app}_{model}_changelist"), {"q": text})
            if response.status_code == 403:
                continue  # a model ops may not open (superusers only): refused, not crashed
            assert response.status_code == expected_status(text), (app, model, text)
        accounts_page = client.get(reverse("admin:accounts_app_account_changelist"), {"q": text})
        assert accounts_page.status_code == expected_status(text), text
        # A quote is the admin's phrase quoting ("'" alone is the empty phrase: every row).
        if text in EXPECTED and text != "'":
            assert sorted(a.name for a in accounts_page.context["cl"].result_list) == EXPECTED[text]


def test_the_admins_list_filters_answer_without_a_server_error(accounts, as_):
    for text in SQL_LIKE.values():
        ops_user, _ = person_set_role(username="opal", role="ops")
        client = as_(ops_user)
        for app, model, param in (
            ("workflow", "nomination", "state"),
            ("workflow", "nomination", "cycle__id__exact"),
            ("accounts_app", "account", "source"),
            ("accounts_app", "activity", "kind"),
        ):
            response = client.get(reverse(f"admin:{app}_{model}_changelist"), {param: text})
            # The admin sends an unknown filter value back to the list with ?e=1.
            assert response.status_code in ((400,) if text in NUL_CASES else (200, 302)), param


def test_the_api_filters_answer_200_or_a_400_in_json(accounts, people, the_cycle):
    for text in SQL_LIKE.values():
        client = client_for(people.sales_member)
        search = client.get("/api/v1/accounts/", {"search": text})
        assert search.status_code in (200, 400)
        if search.status_code == 200 and text in EXPECTED:
            assert sorted(a["name"] for a in search.json()["results"]) == EXPECTED[text]
        for url, params in (
            ("/api/v1/accounts/", {"domain": text}),
            ("/api/v1/accounts/", {"industry": text}),
            ("/api/v1/accounts/", {"country": text}),
            ("/api/v1/accounts/", {"min_fit_score": text}),
            ("/api/v1/accounts/", {"on_list": text}),
            ("/api/v1/nominations/", {"state": text, "kind": text}),
            ("/api/v1/nominations/", {"cycle": text}),
            ("/api/v1/nominations/", {"account": text, "proposer": text}),
            ("/api/v1/sync-runs/", {"kind": text, "state": text}),
            (f"/api/v1/cycles/{the_cycle.pk}/target-accounts/", {"updated_since": text}),
            (f"/api/v1/cycles/{the_cycle.pk}/target-accounts/", {"tier": text}),
            (f"/api/v1/cycles/{the_cycle.pk}/coverage/accounts/", {"gap": text, "stage": text}),
            ("/api/v1/accounts/", {"page": text, "page_size": text}),
        ):
            response = client.get(url, params)
            assert response.status_code in (200, 400, 404), (url, params)
            assert response["Content-Type"].startswith("application/json")
