"""Hooks use Slack through the host: destinations, messages, user lookups and groups."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.slack import BOT_TOKEN
from tests.slack.conftest import access_values, slack_rig

pytestmark = pytest.mark.anyio

HOOKS = """
from sym.sdk.exceptions import SlackError
from sym.sdk.integrations import slack
from sym.sdk.notifications import Notification
from sym.sdk.templates import ApprovalTemplate


def get_request_notifications(event):
    return [
        Notification(
            destinations=[slack.channel("#access-requests"), slack.user("bob@example.com")]
        )
    ]


def on_request(event):
    info = slack.get_user_info(event.user)
    if info["is_guest"]:
        return ApprovalTemplate.deny(reason="guests get nothing")
    if slack.is_user_in_group(event.user, "oncall"):
        slack.send_message(slack.channel("#audit"), "auto-approved " + event.user.email)
        return ApprovalTemplate.approve(reason="on call")
    try:
        slack.send_message(slack.user("nobody@example.com"), "never sent")
    except SlackError as error:
        slack.send_message(
            slack.fallback(slack.user("nobody@example.com"), slack.channel("#fallback")),
            "fell back: " + str(error),
        )
"""


async def test_sym_style_slack_hooks_run_against_slack(tmp_path: Path) -> None:
    async with slack_rig(tmp_path, hooks=HOOKS) as rig:
        rig.slack.state.groups["oncall"] = ["UALICE"]

        await rig.submit("access", access_values(), user="UCAROL")
        posts = await rig.calls("chat.postMessage", 2, lambda c: c.args.get("blocks") is not None)
        assert [call.args["channel"] for call in posts] == ["#access-requests", "UBOB"]
        [fallback] = await rig.calls(
            "chat.postMessage", 1, lambda c: c.args["channel"] == "#fallback"
        )
        assert fallback.args["text"] == "fell back: no Slack destination matches " + repr(
            {"type": "slack_user", "user": "nobody@example.com"}
        )
        run_id = posts[0].args["blocks"][-1]["elements"][0]["value"]
        assert (await rig.h.run(run_id))["status"] == "requested"

        await rig.submit("access", access_values(reason="paged"), user="UALICE")
        [audit] = await rig.calls("chat.postMessage", 1, lambda c: c.args["channel"] == "#audit")
        assert audit.args["text"] == "auto-approved alice@example.com"

        # Every Slack call the hooks made used the bot token, which no hook ever saw.
        assert all(
            call.token == BOT_TOKEN
            for call in rig.slack.state.calls
            if call.method != "apps.connections.open"
        )

        async def statuses() -> list[str]:
            runs = (await rig.h.call("GET", "/api/v1/runs", "reader")).json()["runs"]
            return sorted(run["status"] for run in runs)

        async def settled() -> bool:
            return await statuses() == ["escalated", "requested"]

        await rig.h.wait_for(settled, "alice's on-call request to be escalated")
