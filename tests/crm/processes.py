"""ops/processes.py's redis-server as the tests start it: where redis-server is not installed,
the test is skipped (failed in CI). Each test stops what it started (its whole process group)."""

from __future__ import annotations

import pytest

from ops import processes
from tests.conftest import running_in_ci


class RedisServer(processes.RedisServer):
    def __init__(self, port: int | None = None):
        try:
            super().__init__(port=port)
        except processes.NotInstalled as missing:
            if running_in_ci():
                pytest.fail(str(missing))
            pytest.skip(str(missing))
