"""Shared pytest configuration: async tests run on asyncio through anyio."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """symbox runs on asyncio."""
    return "asyncio"
