"""``symbox report`` shows break-glass runs and lists those nobody reviewed yet."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest

from tests.api.test_break_glass import break_glass, glass_config, review
from tests.cli.test_report import DAY, report
from tests.fakes.clock import FakeClock
from tests.harness import harness

pytestmark = pytest.mark.anyio


async def test_report_lists_unreviewed_break_glass_runs_however_old(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = FakeClock(time.time() - 60 * DAY)
    async with harness(tmp_path, clock=clock, config_text=glass_config) as h:
        old = (await break_glass(h)).json()["run_id"]
        await h.advance(600)
        await h.wait_status(old, "deescalated")
        clock.set(time.time() - 3600)
        seen = (await break_glass(h, as_="dave@example.com")).json()["run_id"]
        assert (await review(h, seen, "alice@example.com")).status_code == 200
        await h.advance(1)
        normal = await h.request()
        await h.approve(normal)
    data = tmp_path / "data"

    code, out, err = await report(capsys, data, "--since", "1d")
    assert code == 0
    rows = {row["run_id"]: row for row in csv.DictReader(io.StringIO(out))}
    assert list(rows) == [seen, normal]
    assert (rows[seen]["break_glass"], rows[seen]["review"]) == ("True", "reviewed")
    assert rows[seen]["reviewed_by"] == "alice@example.com"
    assert rows[seen]["decided_by"] == "dave@example.com"
    assert (rows[normal]["break_glass"], rows[normal]["review"]) == ("False", "")
    # The run two months old is out of the window, but still said to need review.
    assert "1 break-glass run(s) need review (symbox report --unreviewed)" in err

    code, out, err = await report(capsys, data, "--unreviewed", "--format", "json")
    assert code == 0 and err == ""
    [row] = json.loads(out)
    assert (row["run_id"], row["review"], row["status"]) == (old, "needs_review", "deescalated")
    code, out, _ = await report(capsys, data, "--unreviewed", "--flow", "signoff")
    assert out.splitlines()[1:] == []
