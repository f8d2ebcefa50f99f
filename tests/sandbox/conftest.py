"""Fixtures shared by the sandbox tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from symbox.sandbox.pool import HookPool


@pytest.fixture
async def one_worker() -> AsyncIterator[HookPool]:
    """A pool of one real worker process, stopped after the test."""
    async with HookPool(size=1) as running:
        yield running
