"""A token's last use is recorded, to the minute, and shown by ``tokens list``."""

from __future__ import annotations

from pathlib import Path

import pytest

from symbox.api.auth import USE_GRANULARITY
from tests.harness import Harness, harness

pytestmark = pytest.mark.anyio


async def _last_used(h: Harness, subject: str) -> float | None:
    tokens = await h.app.reader.list_tokens()
    (token,) = [token for token in tokens if token.subject == subject]
    return token.last_used_at


async def test_last_use_is_written_once_a_minute(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.token("carol@example.com")
        assert await _last_used(h, "carol@example.com") is None
        first = h.clock.now()
        assert (await h.call("GET", "/api/v1/flows", "carol@example.com")).status_code == 200
        assert await _last_used(h, "carol@example.com") == first
        await h.advance(USE_GRANULARITY / 2)
        assert (await h.call("GET", "/api/v1/flows", "carol@example.com")).status_code == 200
        # Within the minute: the recorded use stays the first one (no write per call).
        assert await _last_used(h, "carol@example.com") == first
        await h.advance(USE_GRANULARITY)
        later = h.clock.now()
        assert (await h.call("GET", "/api/v1/flows", "carol@example.com")).status_code == 200
        assert await _last_used(h, "carol@example.com") == later


async def test_refused_calls_are_not_uses(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.token("carol@example.com")
        headers = {"Authorization": "Bearer sbx_not-a-token"}
        assert (await h.http.get("/api/v1/flows", headers=headers)).status_code == 401
        assert await _last_used(h, "carol@example.com") is None
