"""Reading the coverage pages as a person would: the accounts a table lists, the links a
number carries."""

import html as htmllib
import re

from django.test import Client


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def table_accounts(html: str) -> list[str]:
    """The account names of the coverage table's rows, in order."""
    table = html[html.index('data-testid="coverage-table"') :]
    return [htmllib.unescape(name) for name in re.findall(r'<tr[^>]*data-account="([^"]*)"', table)]


def link_of(html: str, testid: str) -> str:
    """The href of the link marked with `testid`."""
    tag = re.search(rf'<a data-testid="{testid}"[^>]*href="([^"]*)"', html)
    assert tag, f"no link {testid}"
    return htmllib.unescape(tag.group(1))
