"""The outbox monitor's alarm and the new metrics: labelled histograms and hook calls."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from symbox.audit.outbox import OutboxLimits, OutboxMonitor, slack_report
from symbox.metrics import Metrics
from symbox.sandbox.errors import HookTimeout
from symbox.sandbox.hooks import HookRunner
from symbox.sandbox.pool import HookPool
from symbox.store.handle import open_store
from symbox.store.txn import WriteTxn

pytestmark = pytest.mark.anyio


def append(entry: dict[str, Any], txn: WriteTxn) -> int:
    """Seal one record into the outbox."""
    return txn.append_audit(entry)


class Behind:
    """A destination stuck at a cursor."""

    name = "http:siem"

    def __init__(self, cursor: int) -> None:
        self.cursor = cursor


class Posts:
    """Records chat_postMessage calls; the first fails."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.calls = 0

    async def __call__(self, *, channel: str, text: str) -> None:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("Slack is down too")
        self.sent.append((channel, text))


async def test_the_alarm_posts_to_error_channels_repeats_and_clears(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    now = [0.0]
    posts = Posts()
    async with open_store(tmp_path / "symbox.db") as store:
        for number in range(10):
            await store.writer.submit(partial(append, {"id": f"r{number}", "type": "event"}))
        behind = Behind(0)
        monitor = OutboxMonitor(
            store.reader,
            store.writer,
            [behind],
            limits=OutboxLimits(limit=10, alarm_fraction=0.5, repeat_every=60.0),
            report=slack_report(posts, ["#sym-errors", "#security"]),
            monotonic=lambda: now[0],
        )
        await monitor.check()
        assert monitor.full and monitor.refusal() is not None
        assert "audit outbox is full (10 records, limit 10)" in (monitor.refusal() or "")
        # The first post failed (logged), the second channel still heard it.
        assert [channel for channel, _ in posts.sent] == ["#security"]
        assert "behind: http:siem" in posts.sent[0][1]
        await monitor.check()
        assert len(posts.sent) == 1  # not again before repeat_every
        now[0] = 61.0
        await monitor.check()
        assert [channel for channel, _ in posts.sent][-2:] == ["#sym-errors", "#security"]

        behind.cursor = 6  # pruned up to 6; 4 remain: still above the clearing level (4)
        await monitor.check()
        assert monitor.size == 4 and monitor.alarm and not monitor.full
        behind.cursor = 10
        await monitor.check()
        assert monitor.size == 1 and not monitor.alarm
        assert await store.reader.audit_span() == (10, 10)
        # The chain goes on from the record kept.
        seq = await store.writer.submit(lambda txn: txn.append_audit({"id": "next"}))
        assert seq == 11
    messages = [record.getMessage() for record in caplog.records]
    assert "reporting the audit outbox alarm failed" in messages
    assert "audit outbox is below its alarm level again" in messages


def test_histograms_carry_labels() -> None:
    metrics = Metrics()
    metrics.observe("h", "Help.", 0.2, (0.1, 1.0), action="escalate")
    metrics.observe("h", "Help.", 2.0, (0.1, 1.0), action="deescalate")
    metrics.observe("plain", "Help.", 0.05, (0.1,))
    text = metrics.render()
    assert 'h_bucket{action="escalate",le="1"} 1' in text
    assert 'h_bucket{action="deescalate",le="+Inf"} 1' in text
    assert 'h_count{action="deescalate"} 1' in text
    assert 'plain_bucket{le="0.1"} 1' in text and "plain_sum 0.05" in text
    assert text.count("# TYPE h histogram") == 1


async def test_hook_calls_and_timeouts_are_counted() -> None:
    metrics = Metrics()
    source = (
        "def on_request(event):\n    return None\n\n"
        "def on_approve(event):\n    while True:\n        pass\n"
    )
    async with HookPool(size=1) as pool:
        runner = HookRunner(pool, timeout=0.5, metrics=metrics)
        event = {"name": "request", "user": {"email": "a@x.com"}, "run": {"id": "r"}}
        await runner.run_hook(source, "impl.py", "request", "on", event)
        with pytest.raises(HookTimeout):
            await runner.run_hook(source, "impl.py", "approve", "on", event)
    count = metrics.counter_value
    assert count("symbox_hook_calls_total", hook="on_request", outcome="ok") == 1
    assert count("symbox_hook_calls_total", hook="on_approve", outcome="timeout") == 1
