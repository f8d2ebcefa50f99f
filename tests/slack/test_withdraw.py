"""A request withdrawn from the client shows as withdrawn where Slack posted it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.slack.conftest import access_values, slack_rig

pytestmark = pytest.mark.anyio


async def test_a_withdrawn_request_updates_its_slack_messages(tmp_path: Path) -> None:
    async with slack_rig(tmp_path) as rig:
        await rig.submit("access", access_values())
        posts = await rig.calls("chat.postMessage", 2, lambda c: c.args.get("blocks") is not None)
        run_id = posts[0].args["blocks"][-1]["elements"][0]["value"]
        response = await rig.h.call(
            "POST", "/api/v1/events/withdraw", "carol@example.com", {"run_id": run_id}
        )
        assert response.json()["status"] == "withdrawn", response.text
        updates = await rig.calls("chat.update", 2)
        assert sorted(call.args["channel"] for call in updates) == ["UALICE", "UBOB"]
        for call in updates:
            blocks = call.args["blocks"]
            assert blocks[1]["elements"][0]["text"] == "withdrawn by the requester"
            # No buttons are left to click.
            assert all(block["type"] != "actions" for block in blocks)
