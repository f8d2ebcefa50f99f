"""Fixtures for tests of the real symbox process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.configs import GRANT_SECRET
from tests.fakes.receiver import GrantReceiver


@pytest.fixture
def receiver() -> Iterator[GrantReceiver]:
    """A grant receiver on loopback, stopped after the test."""
    server = GrantReceiver(GRANT_SECRET).start()
    yield server
    server.stop()
