"""The log tells a run's story: one line per API call and per committed event, by run_id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from symbox import logs
from tests.harness import harness


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Every record symbox logs, as the JSON lines `run` writes."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


def test_bound_fields_reach_every_line_and_note_reaches_enclosing_contexts() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    log = logging.getLogger("symbox.test_logs")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        with logs.bound(path="/x"):
            with logs.bound(run_id="r1"):
                logs.note(flow="access")
                log.info("inner", extra={"status": 200})
            log.info("outer")
        log.info("outside")
    finally:
        log.removeHandler(handler)
    inner, outer, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert {k: inner[k] for k in ("path", "run_id", "flow", "status")} == {
        "path": "/x",
        "run_id": "r1",
        "flow": "access",
        "status": 200,
    }
    assert outer["flow"] == "access" and "run_id" not in outer
    assert "path" not in outside and "flow" not in outside


def test_text_format_for_people() -> None:
    record = logging.makeLogRecord(
        {"name": "symbox.api", "levelname": "INFO", "msg": "api call", "status": 201}
    )
    with logs.bound(path="/api/v1/events/request", actor="carol@example.com"):
        line = logs.TextFormatter().format(record)
    assert line.endswith(
        "INFO    symbox.api: api call  path=/api/v1/events/request actor=carol@example.com "
        "status=201"
    )
    coloured = logs.TextFormatter(colour=True).format(record)
    assert "\x1b[32mINFO   \x1b[0m" in coloured


@pytest.mark.anyio
async def test_a_runs_whole_life_can_be_read_by_its_run_id(
    tmp_path: Path, json_log: io.StringIO
) -> None:
    async with harness(tmp_path) as h:
        run_id = await h.request()
        approved = await h.approve(run_id)
        assert approved.json()["status"] == "escalated"
        await h.advance(600)
        await h.wait_status(run_id, "deescalated")
        secrets = list(h.tokens.values())
    lines = _lines(json_log)
    calls = [line for line in lines if line["message"] == "api call"]
    request, approve = calls[0], calls[1]
    assert request["method"] == "POST" and request["path"] == "/api/v1/events/request"
    assert request["status"] == 201 and request["actor"] == "carol@example.com"
    assert request["run_id"] == run_id and request["duration_ms"] >= 0
    assert approve["actor"] == "alice@example.com" and approve["run_id"] == run_id
    story = [line["event"] for line in lines if line.get("run_id") == run_id and "event" in line]
    assert story == ["request", "approve", "escalate", "deescalate"]
    for line in lines:
        assert not any(secret in json.dumps(line) for secret in secrets)
