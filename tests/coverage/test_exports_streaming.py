"""The exports are streamed, in a number of queries that does not grow with the rows: 10
accounts or 3,000 (more than one chunk of the response)."""

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext

from coverage.exports import CHUNK_ROWS
from coverage.services import snapshot_take
from tests.coverage.exports import client_of, table, url
from tests.coverage.test_query_counts import grow_list

EXPORTS = ["coverage_accounts", "coverage_aggregates", "agreed_list"]


def _download(client, path):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
        assert isinstance(response, StreamingHttpResponse)
        pieces = list(response.streaming_content)
    return len(queries), pieces


@pytest.mark.parametrize("export", EXPORTS)
def test_the_query_count_does_not_grow_with_the_rows(people, the_cycle, export):
    client = client_of(people.ops)
    path = url(export, the_cycle)
    grow_list(people, the_cycle, 10)
    snapshot_take(cycle=the_cycle)
    client.get(path)  # the session, once
    small, _ = _download(client, path)
    grow_list(people, the_cycle, 3000)
    snapshot_take(cycle=the_cycle)
    large, pieces = _download(client, path)
    assert large == small
    if export != "coverage_aggregates":
        assert len(pieces) > 1  # sent as it is read, not built whole first
        assert len(table(client.get(path))) == 3011
    else:
        assert len(pieces) == 1


def test_a_chunk_holds_a_bounded_number_of_rows(people, the_cycle):
    grow_list(people, the_cycle, CHUNK_ROWS + 5)
    response = client_of(people.ops).get(url("agreed_list", the_cycle))
    pieces = list(response.streaming_content)
    lines = [piece.decode().count("\r\n") for piece in pieces]
    assert lines == [CHUNK_ROWS + 1, 6]  # the header, then the rest
