"""``symbox request --break-glass`` and ``symbox review`` against a real server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.test_break_glass import REASON, glass_config
from tests.client.driver import client
from tests.harness import harness

pytestmark = pytest.mark.anyio

CAROL, ALICE = "carol@example.com", "alice@example.com"
ASK = ("--duration", "10m", "--target", "prod-db")


async def test_break_glass_from_the_terminal_then_review(tmp_path: Path) -> None:
    async with harness(tmp_path, config_text=glass_config) as h:
        missing = await client(h, CAROL, "request", "access", *ASK, "--break-glass")
        assert missing.code == 2 and "--break-glass needs --reason" in missing.err
        short = await client(
            h, CAROL, "request", "access", *ASK, "--break-glass", "--reason", "urgent"
        )
        assert short.code == 1 and "(HTTP 400)" in short.err and "at least 20" in short.err
        granted = await client(
            h, CAROL, "request", "access", *ASK, "--break-glass", "--reason", REASON, "--quiet"
        )
        assert granted.code == 0, granted.err
        run_id = granted.out.strip()
        assert h.receiver.state.granted == {("prod-db", CAROL)}
        own = await client(h, CAROL, "review", run_id)
        assert own.code == 1 and "(HTTP 403)" in own.err
        reviewed = await client(h, ALICE, "review", run_id, "--reason", "seen the incident")
        assert reviewed.code == 0, reviewed.err
        assert reviewed.out.startswith(f"run {run_id} escalated")
        assert reviewed.out.splitlines()[-1] == f"review: reviewed by {ALICE}"
        again = await client(h, ALICE, "review", run_id, "--output", "json")
        assert again.code == 1 and "(HTTP 409)" in again.err
        assert "already reviewed" in again.err
        assert (await h.run(run_id))["review"]["reason"] == "seen the incident"
