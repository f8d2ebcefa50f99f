"""Request messages go to Slack from the notification outbox: retried, and kept over a restart."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.clock import FakeClock
from tests.fakes.slack import FakeSlack
from tests.slack.conftest import USERS, SlackRig, slack_rig

pytestmark = pytest.mark.anyio


async def posts_of(rig: SlackRig, run_id: str) -> list[dict[str, Any]]:
    """The run's request-message rows (one per destination; event rows name nobody)."""
    rows = await rig.h.app.reader.run_notifications(run_id)
    return [row for row in rows if row["recipient"]]


async def test_a_request_message_slack_refuses_for_now_is_posted_later(tmp_path: Path) -> None:
    async with slack_rig(tmp_path) as rig:
        with rig.slack.state.lock:
            rig.slack.state.failing["chat.postMessage"] = "ratelimited"
        run_id = await rig.h.request()
        await rig.calls("chat.postMessage", 2, lambda c: c.args.get("blocks") is not None)
        rows = await rig.h.app.reader.run_notifications(run_id)
        await rig.h.wait_for(
            lambda: (
                all(row["attempts"] for row in rows) or rig.h.app.reader.run_notifications(run_id)
            ),
            "the attempts to be recorded",
        )

        async def retrying() -> bool:
            rows = await posts_of(rig, run_id)
            return len(rows) == 2 and all(row["attempts"] == 1 for row in rows)

        await rig.h.wait_for(retrying, "both posts to wait for a retry")
        with rig.slack.state.lock:
            rig.slack.state.failing.clear()
        await rig.h.advance(20)
        posts = await rig.calls(
            "chat.postMessage",
            2,
            lambda c: c.args.get("blocks") is not None and c.args["channel"] in ("UALICE", "UBOB"),
        )
        assert len(posts) >= 2

        async def delivered() -> bool:
            rows = await rig.h.app.reader.run_notifications(run_id)
            return all(row["delivered_at"] for row in rows)

        await rig.h.wait_for(delivered, "the posts to be recorded")
        metrics = (await rig.h.http.get("/metrics")).text.splitlines()
        assert 'symbox_notifications_total{kind="slack",outcome="retried"} 2' in metrics
        # The two posts, and the event told once (its refused DM was logged, not retried).
        assert 'symbox_notifications_total{kind="slack",outcome="delivered"} 3' in metrics
        assert 'symbox_notifications_pending{kind="slack"} 0' in metrics
        # The posted messages are updated when the request is decided.
        assert (await rig.h.approve(run_id)).status_code == 200
        updates = await rig.calls("chat.update", 2)
        assert sorted(call.args["channel"] for call in updates[:2]) == ["UALICE", "UBOB"]


async def test_a_request_message_due_when_symbox_stops_is_posted_after_it_starts(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    with FakeSlack(USERS) as slack:

        def start() -> AbstractAsyncContextManager[SlackRig]:
            return slack_rig(tmp_path, slack=slack, clock=clock, data_dir=tmp_path / "data")

        async with start() as rig:
            with slack.state.lock:
                slack.state.failing["chat.postMessage"] = "service_unavailable"
            run_id = await rig.h.request()

            async def tried() -> bool:
                rows = await posts_of(rig, run_id)
                return len(rows) == 2 and all(row["attempts"] == 1 for row in rows)

            await rig.h.wait_for(tried, "both posts to be tried")
        with slack.state.lock:
            slack.state.failing.clear()
            slack.state.calls.clear()
        clock.advance(60)
        async with start() as rig:
            posts = await rig.calls(
                "chat.postMessage", 2, lambda c: c.args.get("blocks") is not None
            )
            assert sorted(call.args["channel"] for call in posts) == ["UALICE", "UBOB"]
            assert all(run_id in str(call.args["blocks"]) for call in posts)
