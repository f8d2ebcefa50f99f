"""Extending access from Slack: the Extend button, its modal, and approvers' buttons."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.slack import Call
from tests.slack.conftest import SlackRig, access_values, slack_rig

pytestmark = pytest.mark.anyio

LIMIT = 'extend_without_approval_up_to = "10m"'


def _actions(call: Call) -> list[str]:
    return [
        element["action_id"]
        for block in call.args.get("blocks") or ()
        if block["type"] == "actions"
        for element in block["elements"]
    ]


async def _escalated(rig: SlackRig) -> str:
    """A run requested in Slack by carol and approved by alice."""
    await rig.submit("access", access_values())
    posts = await rig.calls("chat.postMessage", 2, lambda c: c.args.get("blocks") is not None)
    run_id = str(posts[0].args["blocks"][-1]["elements"][0]["value"])
    await rig.click("symbox_approve", run_id, "UALICE")
    await rig.h.wait_status(run_id, "escalated")
    return run_id


async def _submit_extension(
    rig: SlackRig, run_id: str, duration: str, reason: str = "", user: str = "UCAROL"
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "duration": {"duration": {"type": "static_select", "selected_option": {"value": duration}}}
    }
    if reason:
        values["reason"] = {"reason": {"type": "plain_text_input", "value": reason}}
    payload = {
        "type": "view_submission",
        "user": {"id": user},
        "view": {
            "id": "VEXT",
            "callback_id": "symbox_extend_form",
            "private_metadata": json.dumps({"run_id": run_id}),
            "state": {"values": values},
        },
    }
    return await rig.slack.ack(await rig.slack.deliver("interactive", payload))


def _to(channel: str) -> Any:
    return lambda call: call.args.get("channel") == channel


async def test_extend_from_the_dm_and_approve_from_the_request(tmp_path: Path) -> None:
    async with slack_rig(tmp_path, params=LIMIT) as rig:
        run_id = await _escalated(rig)
        dms = await rig.calls("chat.postMessage", 3, _to("UCAROL"))
        granted = dms[2]
        assert "access is granted until" in granted.args["text"]
        assert _actions(granted) == ["symbox_revoke", "symbox_extend"]
        # The request message shows the Extend button too.
        await rig.calls("chat.update", 1, lambda c: "symbox_extend" in _actions(c))

        await rig.click("symbox_extend", run_id, "UCAROL")
        [opened] = await rig.calls("views.open", 1)
        view = opened.args["view"]
        assert view["callback_id"] == "symbox_extend_form"
        durations = view["blocks"][1]["element"]["options"]
        assert [option["value"] for option in durations] == ["1m", "10m", "1h"]

        before = (await rig.h.run(run_id))["expires_at"]
        ack = await _submit_extension(rig, run_id, "1h", reason="the migration runs long")
        assert ack.get("payload") is None
        # Past the limit: approvers are asked, with the extension's buttons.
        asks = await rig.calls(
            "chat.postMessage", 2, lambda c: "symbox_extend_approve" in _actions(c)
        )
        assert sorted(call.args["channel"] for call in asks) == ["UALICE", "UBOB"]
        shown = json.dumps(asks[0].args["blocks"])
        assert "+1h asked by carol@example.com" in shown
        assert "the migration runs long" in shown
        dms = await rig.calls("chat.postMessage", 4, _to("UCAROL"))
        assert "sent for approval" in dms[3].args["text"]
        assert (await rig.h.run(run_id))["extension"]["status"] == "pending"

        await rig.click("symbox_extend_approve", run_id, "UBOB")
        dms = await rig.calls("chat.postMessage", 5, _to("UCAROL"))
        assert "access is extended by 1h until" in dms[4].args["text"]
        run = await rig.h.run(run_id)
        assert run["extension"]["status"] == "approved"
        assert run["extension"]["decided_by"] == {"kind": "user", "id": "bob@example.com"}
        assert run["expires_at"] != before
        assert run["events"][-1]["channel"] == "slack"


async def test_a_short_extension_applies_at_once(tmp_path: Path) -> None:
    async with slack_rig(tmp_path, params=LIMIT) as rig:
        run_id = await _escalated(rig)
        await _submit_extension(rig, run_id, "10m")
        dms = await rig.calls(
            "chat.postMessage", 1, lambda c: "access is extended by 10m" in c.args["text"]
        )
        assert dms[0].args["channel"] == "UCAROL"
        run = await rig.h.run(run_id)
        assert run["extension"]["status"] == "approved"
        assert run["extension"]["requested_by"] == {"kind": "user", "id": "carol@example.com"}


async def test_refusals_and_a_denied_extension(tmp_path: Path) -> None:
    async with slack_rig(tmp_path, params=LIMIT) as rig:
        run_id = await _escalated(rig)
        # Only the requester may extend: an approver's click opens nothing.
        await rig.click("symbox_extend", run_id, "UALICE")
        [refused] = await rig.calls("chat.postEphemeral", 1)
        assert refused.args["user"] == "UALICE"
        assert refused.args["text"].startswith("You cannot do that: only the requester")
        assert rig.slack.state.called("views.open") == []

        ack = await _submit_extension(rig, run_id, "soon")
        assert ack["payload"]["response_action"] == "errors"
        assert set(ack["payload"]["errors"]) == {"duration"}

        await _submit_extension(rig, run_id, "1h")
        await rig.calls("chat.postMessage", 2, lambda c: "symbox_extend_approve" in _actions(c))
        # The requester may not approve their own extension.
        await rig.click("symbox_extend_approve", run_id, "UCAROL")
        own = await rig.calls("chat.postEphemeral", 2)
        assert own[-1].args["text"].startswith("You cannot do that:")
        await rig.click("symbox_extend_deny", run_id, "UALICE")
        dms = await rig.calls(
            "chat.postMessage", 1, lambda c: "was denied by alice@example.com" in c.args["text"]
        )
        assert dms[0].args["channel"] == "UCAROL"
        assert (await rig.h.run(run_id))["extension"]["status"] == "denied"
        # A second decision finds nothing to decide.
        await rig.click("symbox_extend_approve", run_id, "UBOB")
        late = await rig.calls("chat.postEphemeral", 3)
        assert late[-1].args["text"].startswith("Nothing changed:")


async def test_extensions_come_only_from_the_flows_sources(tmp_path: Path) -> None:
    params = f'{LIMIT}\n    allowed_sources = ["slack"]'
    async with slack_rig(tmp_path, params=params) as rig:
        run_id = await _escalated(rig)
        body = {"run_id": run_id, "duration": "1m"}
        response = await rig.h.call("POST", "/api/v1/events/extend", "carol@example.com", body)
        assert response.status_code == 403
        assert "does not accept requests from api" in response.json()["message"]
        await _submit_extension(rig, run_id, "1m")
        await rig.calls("chat.postMessage", 1, lambda c: "extended by 1m" in c.args["text"])
