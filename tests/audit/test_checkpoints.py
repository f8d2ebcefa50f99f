"""Checkpoint records of the chain's head reach every destination, hourly, and only when due."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from symbox.audit.checkpoints import DEFAULT_CHECKPOINT_EVERY
from symbox.audit.verify import verify_file
from tests.harness import harness

pytestmark = pytest.mark.anyio


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def checkpoints(path: Path) -> list[dict[str, Any]]:
    return [record for record in records(path) if record["event"]["type"] == "checkpoint"]


async def test_a_checkpoint_names_the_head_and_an_idle_chain_gets_no_more(tmp_path: Path) -> None:
    audit = tmp_path / "data" / "audit.jsonl"
    async with harness(tmp_path) as h:
        await h.wait_for(lambda: audit.exists() and records(audit), "the config_load record")
        before = records(audit)[-1]
        await h.advance(DEFAULT_CHECKPOINT_EVERY - 1)
        await h.advance(1)
        await h.wait_for(lambda: checkpoints(audit), "a checkpoint")
        [checkpoint] = checkpoints(audit)
        assert checkpoint["type"] == "audit" and checkpoint["event"]["channel"] == "system"
        assert checkpoint["fields"] == {"head_seq": before["seq"], "head_hash": before["hash"]}
        assert checkpoint["seq"] == before["seq"] + 1

        # Nothing sealed since: the next period adds nothing.
        await h.advance(DEFAULT_CHECKPOINT_EVERY)
        assert await h.app.checkpoints.write() is None
        await h.request()
        await h.advance(DEFAULT_CHECKPOINT_EVERY)
        await h.wait_for(lambda: len(checkpoints(audit)) == 2, "a second checkpoint")
    assert verify_file(audit).ok
