"""``symbox report``: who had what access, when, approved by whom, for how long."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from symbox.cli import main as cli
from tests.fakes.clock import FakeClock
from tests.harness import harness

pytestmark = pytest.mark.anyio

DAY = 86400.0


async def report(
    capsys: pytest.CaptureFixture[str], data: Path, *args: str
) -> tuple[int, str, str]:
    """Run the command in a thread of its own (it starts its own event loop)."""
    argv = ["report", "--data-dir", str(data), *args]
    code = await anyio.to_thread.run_sync(cli.main, argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def test_the_report_shows_each_grant_with_its_approver_and_length(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    start = time.time() - 4 * DAY
    clock = FakeClock(start)
    async with harness(tmp_path, clock=clock) as h:
        old = await h.request(reason="old incident")
        await h.approve(old)
        await h.advance(600)
        await h.wait_status(old, "deescalated")
        clock.set(time.time() - 3600)
        used = await h.request(reason='=HYPERLINK("http://evil")')
        await h.approve(used)
        await h.call("POST", "/api/v1/events/deescalate", "carol@example.com", {"run_id": used})
        await h.wait_status(used, "deescalated")
        await h.advance(1)
        denied = await h.request()
        response = await h.call(
            "POST", "/api/v1/events/deny", "alice@example.com", {"run_id": denied}
        )
        assert response.status_code == 200, response.text
        await h.advance(1)
        active = await h.request(duration="1h")
        await h.approve(active, as_="bob@example.com")
    data = tmp_path / "data"

    code, out, _ = await report(capsys, data, "--since", "1d", "--format", "json")
    assert code == 0
    rows: list[dict[str, Any]] = json.loads(out)
    by_id = {row["run_id"]: row for row in rows}
    assert old not in by_id  # ended four days ago
    assert list(by_id) == [used, denied, active]
    assert by_id[used]["decision"] == "approve"
    assert by_id[used]["decided_by"] == "alice@example.com"
    assert by_id[used]["ended_by"] == "carol@example.com"
    assert by_id[used]["access_seconds"] == 0.0
    assert by_id[used]["requested_seconds"] == 600
    assert by_id[denied]["decision"] == "deny" and by_id[denied]["granted_at"] is None
    assert by_id[active]["decided_by"] == "bob@example.com"
    assert by_id[active]["grant_state"] == "active" and by_id[active]["ended_at"] is None
    assert by_id[active]["access_seconds"] > 3000  # still running, counted to now

    code, out, _ = await report(capsys, data, "--since", "7d")
    table = list(csv.DictReader(io.StringIO(out)))
    assert [row["run_id"] for row in table] == [old, used, denied, active]
    assert table[0]["access_seconds"] == "600.0"
    assert table[0]["ended_by"] == "system:symbox"
    # A requester's text never reaches a spreadsheet as a formula.
    assert table[1]["reason"].startswith("'=HYPERLINK")

    code, out, _ = await report(capsys, data, "--since", "7d", "--flow", "signoff")
    assert out.splitlines()[1:] == []


async def test_bad_windows_and_missing_databases_fail_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = await report(capsys, tmp_path, "--since", "30d")
    assert code == 1 and "no database" in err
    async with harness(tmp_path):
        pass
    code, _, err = await report(capsys, tmp_path / "data", "--since", "yesterday")
    assert code == 1 and "--since 'yesterday'" in err
