"""Helpers of the export tests: a signed-in client and a downloaded CSV read back."""

import csv
import io

from django.test import Client
from django.urls import reverse

BOM = "\ufeff"


def client_of(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def url(name: str, cycle, **query) -> str:
    path = reverse(f"coverage_exports:{name}", args=[cycle.pk])
    if query:
        path += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return path


def body(response) -> str:
    return b"".join(response.streaming_content).decode("utf-8")


def table(response) -> list[dict]:
    """The rows of a downloaded CSV as dicts, after checking its byte order mark."""
    text = body(response)
    assert text.startswith(BOM)
    return list(csv.DictReader(io.StringIO(text[len(BOM) :], newline="")))
