"""A request needing two approvers, decided from Slack's buttons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes.slack import Call
from tests.slack.conftest import SlackRig, access_values, slack_rig

pytestmark = pytest.mark.anyio


def _context(call: Call) -> str:
    """The request message's status line (its context block), or empty."""
    blocks: list[dict[str, Any]] = call.args.get("blocks") or []
    found = [block for block in blocks if block.get("type") == "context"]
    return str(found[0]["elements"][0]["text"]) if found else ""


def _buttons(call: Call) -> list[str]:
    blocks: list[dict[str, Any]] = call.args.get("blocks") or []
    actions = [block for block in blocks if block.get("type") == "actions"]
    return [element["action_id"] for block in actions for element in block["elements"]]


async def _requested(rig: SlackRig) -> str:
    """Carol's request from the modal; its run id, once the approvers got the message."""
    await rig.submit("access", access_values())
    posts = await rig.calls("chat.postMessage", 2, lambda c: c.args.get("blocks") is not None)
    return str(posts[0].args["blocks"][-1]["elements"][0]["value"])


async def test_one_of_two_then_the_second_approval_escalates(tmp_path: Path) -> None:
    async with slack_rig(tmp_path, params="approvals_required = 2") as rig:
        run_id = await _requested(rig)

        await rig.click("symbox_approve", run_id, "UALICE")
        partial = await rig.calls("chat.update", 2, lambda c: "(1 of 2)" in _context(c))
        for update in partial:
            assert _context(update) == "Approved by <@UALICE> (1 of 2)"
            # The others still have the buttons.
            assert _buttons(update) == ["symbox_approve", "symbox_deny"]
        dm = await rig.calls(
            "chat.postMessage",
            1,
            lambda c: c.args["channel"] == "UCAROL" and "1 of 2" in c.args["text"],
        )
        assert dm[0].args["text"] == (
            "Your access request was approved by alice@example.com (1 of 2); "
            "it waits for the others."
        )
        assert (await rig.h.run(run_id))["status"] == "requested"
        assert rig.h.receiver.state.calls("escalate") == []

        await rig.click("symbox_approve", run_id, "UALICE")
        [again] = await rig.calls("chat.postEphemeral", 1)
        assert again.args["user"] == "UALICE"
        assert "already approved" in again.args["text"] and "(1 of 2)" in again.args["text"]

        await rig.click("symbox_approve", run_id, "UBOB")
        run = await rig.h.wait_status(run_id, "escalated")
        assert [item["actor"]["id"] for item in run["approvals"]] == [
            "alice@example.com",
            "bob@example.com",
        ]
        assert len(rig.h.receiver.state.calls("escalate")) == 1
        final = await rig.calls("chat.update", 2, lambda c: "access granted" in _context(c))
        assert _context(final[-1]).startswith("Approved by <@UALICE>, <@UBOB> at ")
        assert _buttons(final[-1]) == ["symbox_revoke", "symbox_extend"]


async def test_a_deny_after_one_approval_ends_it_in_slack(tmp_path: Path) -> None:
    async with slack_rig(tmp_path, params="approvals_required = 2") as rig:
        run_id = await _requested(rig)
        await rig.click("symbox_approve", run_id, "UALICE")
        await rig.calls("chat.update", 2, lambda c: "(1 of 2)" in _context(c))
        # The requester's own click never counts toward the two.
        await rig.click("symbox_approve", run_id, "UCAROL")
        [own] = await rig.calls("chat.postEphemeral", 1)
        assert own.args["user"] == "UCAROL" and own.args["text"].startswith("You cannot do that:")

        await rig.click("symbox_deny", run_id, "UBOB")
        await rig.h.wait_status(run_id, "denied")
        final = await rig.calls("chat.update", 2, lambda c: "Denied by" in _context(c))
        assert _context(final[-1]).startswith("Denied by <@UBOB> at ")
        assert _buttons(final[-1]) == []
        dms = await rig.calls(
            "chat.postMessage",
            1,
            lambda c: c.args["channel"] == "UCAROL" and "denied" in c.args["text"],
        )
        assert "was denied by bob@example.com" in dms[0].args["text"]
        assert rig.h.receiver.state.calls("escalate") == []
