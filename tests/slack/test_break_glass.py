"""Break-glass in Slack: the error logger channel hears of it, and approvers review it there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from symbox.slack.break_glass import REVIEW
from tests.api.test_break_glass import REASON, break_glass
from tests.slack.conftest import slack_rig

pytestmark = pytest.mark.anyio

PARAMS = 'break_glass {\n      max_duration = "10m"\n    }'


async def test_break_glass_alerts_the_error_channel_and_is_reviewed_from_slack(
    tmp_path: Path,
) -> None:
    async with slack_rig(tmp_path, params=PARAMS) as rig:
        h = rig.h
        response = await break_glass(h)
        assert response.status_code == 201, response.text
        run_id = response.json()["run_id"]
        [alert] = await rig.calls(
            "chat.postMessage", 1, lambda c: c.args["channel"] == "#sym-errors"
        )
        text = alert.args["text"]
        assert "BREAK-GLASS by carol@example.com" in text and run_id in text
        assert REASON in text
        buttons = [
            element
            for block in alert.args["blocks"]
            if block["type"] == "actions"
            for element in block["elements"]
        ]
        assert [(b["action_id"], b["value"]) for b in buttons] == [(REVIEW, run_id)]
        # The approvers see it where a request would reach them, with Review too.
        [shown] = await rig.calls("chat.postMessage", 1, lambda c: c.args["channel"] == "UALICE")
        assert REVIEW in json.dumps(shown.args["blocks"])
        assert "needs review" in json.dumps(shown.args["blocks"])
        # The requester hears it was granted, never that it was "sent" for a decision.
        await rig.calls(
            "chat.postMessage", 1, lambda c: "access is granted" in c.args.get("text", "")
        )
        assert not [
            c
            for c in rig.slack.state.called("chat.postMessage")
            if "was sent" in c.args.get("text", "")
        ]

        # The requester's own click is refused and told why; nothing changes.
        await rig.click(REVIEW, run_id, "UCAROL")
        await rig.calls(
            "chat.postEphemeral",
            1,
            lambda c: "may not review their own" in c.args.get("text", ""),
        )
        assert (await h.run(run_id))["review"]["state"] == "needs_review"

        await rig.click(REVIEW, run_id, "UALICE")

        async def reviewed() -> bool:
            return bool((await h.run(run_id))["review"]["state"] == "reviewed")

        await h.wait_for(reviewed, "the review")
        assert (await h.run(run_id))["review"]["by"] == {"kind": "user", "id": "alice@example.com"}
        # The alert loses its Review button once reviewed.
        [update] = await rig.calls(
            "chat.update",
            1,
            lambda c: (
                c.args.get("channel") == "#sym-errors"
                and "reviewed by alice@example.com" in json.dumps(c.args.get("blocks"))
            ),
        )
        assert REVIEW not in json.dumps(update.args["blocks"])
