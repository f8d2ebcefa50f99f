"""A running symbox connected to a fake Slack, for the Slack journeys."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakes.clock import FakeClock
from tests.fakes.configs import access_config
from tests.fakes.slack import APP_TOKEN, BOT_TOKEN, Call, FakeSlack, SlackUser
from tests.harness import Harness, harness

USERS = [
    SlackUser("UCAROL", "carol@example.com", "carol"),
    SlackUser("UALICE", "alice@example.com", "alice"),
    SlackUser("UBOB", "bob@example.com", "bob"),
    SlackUser("UDAVE", "dave@example.com", "dave"),
    SlackUser("UGUEST", "guest@example.com", "guest", is_restricted=True),
    SlackUser("UGONE", "gone@example.com", "gone", deleted=True),
]


def slack_blocks(api_url: str) -> str:
    """The Slack integration and an error logger, pointed at the fake."""
    return f"""
resource "sym_integration" "slack" {{
  type        = "slack"
  name        = "slack"
  external_id = "T1"
  settings = {{
    bot_token     = env("SLACK_BOT_TOKEN")
    app_token     = env("SLACK_APP_TOKEN")
    base_url      = "{api_url}"
    ping_interval = "0.2"
  }}
}}

resource "sym_error_logger" "slack" {{
  integration_id = sym_integration.slack.id
  destination    = "#sym-errors"
}}
"""


@dataclass
class SlackRig:
    """symbox, its HTTP harness and the fake Slack it is connected to."""

    h: Harness
    slack: FakeSlack

    async def command(self, text: str, user: str = "UCAROL") -> dict[str, Any]:
        """Type ``/sym TEXT`` as ``user``; return the ack."""
        payload = {
            "command": "/sym",
            "text": text,
            "user_id": user,
            "trigger_id": f"trigger-{text}-{user}",
            "channel_id": "CGENERAL",
        }
        return await self.slack.ack(await self.slack.deliver("slash_commands", payload))

    async def submit(
        self, flow: str, values: dict[str, Any], user: str = "UCAROL"
    ) -> dict[str, Any]:
        """Submit ``flow``'s request modal with block values; return the ack."""
        payload = {
            "type": "view_submission",
            "user": {"id": user},
            "view": {
                "id": "V1",
                "callback_id": "symbox_request",
                "private_metadata": flow,
                "state": {"values": values},
            },
        }
        return await self.slack.ack(await self.slack.deliver("interactive", payload))

    async def click(self, action_id: str, run_id: str, user: str) -> dict[str, Any]:
        """Click a run's button as ``user``; return the ack."""
        payload = {
            "type": "block_actions",
            "trigger_id": f"trigger-{action_id}-{user}",
            "user": {"id": user},
            "channel": {"id": "DAPPROVER"},
            "actions": [{"action_id": action_id, "value": run_id, "type": "button"}],
        }
        return await self.slack.ack(await self.slack.deliver("interactive", payload))

    async def calls(
        self, method: str, count: int, where: Callable[[Call], bool] = lambda c: True
    ) -> list[Call]:
        """Wait until ``method`` was called ``count`` times (matching ``where``); return them."""
        found: list[Call] = []

        def enough() -> bool:
            nonlocal found
            found = [call for call in self.slack.state.called(method) if where(call)]
            return len(found) >= count

        await self.h.wait_for(enough, f"{count} {method} call(s)")
        return found


def access_values(
    reason: str = "incident", duration: str = "10m", target: str = "prod-db"
) -> dict[str, Any]:
    """Block values of the access flow's modal."""
    values: dict[str, Any] = {
        "target": {"target": {"type": "static_select", "selected_option": {"value": target}}},
        "duration": {"duration": {"type": "static_select", "selected_option": {"value": duration}}},
    }
    if reason:
        values["reason"] = {"reason": {"type": "plain_text_input", "value": reason}}
    return values


@asynccontextmanager
async def slack_rig(
    tmp_path: Path,
    hooks: str | None = None,
    params: str = "",
    *,
    slack: FakeSlack | None = None,
    clock: FakeClock | None = None,
    data_dir: Path | None = None,
    allow_duplicates: bool = True,
) -> AsyncIterator[SlackRig]:
    """Start the fake Slack (unless given one), then symbox connected to it (with ``hooks``,
    extra ``params``; on ``clock`` and ``data_dir`` to restart on the same data)."""
    with nullcontext(slack) if slack is not None else FakeSlack(USERS) as slack:

        def config(receiver_url: str) -> str:
            text = access_config(receiver_url, extra=slack_blocks(slack.api_url))
            text = text.replace(
                'name = "main"\n',
                'name = "main"\n  error_logger_id = sym_error_logger.slack.id\n',
                1,
            )
            if not allow_duplicates:
                text = text.replace("    allow_duplicate_requests = true\n", "", 1)
            anchor = "strategy_id = sym_strategy.grants.id"
            text = text.replace(anchor, f"{anchor}\n    {params}", 1)
            if hooks is None:
                return text
            (tmp_path / "impl.py").write_text(hooks)
            return text.replace(
                'implementation = "# no hooks"', 'implementation = file("impl.py")', 1
            )

        env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}
        async with harness(
            tmp_path, config_text=config, monkeypatch_env=env, clock=clock, data_dir=data_dir
        ) as h:
            await slack.wait_connected()
            yield SlackRig(h, slack)
