"""Request modals shaped by hooks: prefetched drop-downs and on_change redraws in Slack."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest

from symbox.config import load_config
from symbox.engine.forms import initial_form
from symbox.slack.blocks import request_form, unchanged_state
from tests.flowhooks.test_forms import CONFIG, FORM_FIELDS, IMPLEMENTATION, ON_CHANGE
from tests.slack.conftest import SlackRig, access_values, slack_rig

FIELDS = FORM_FIELDS

pytestmark = pytest.mark.anyio


def blocks_of(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {block["block_id"]: block for block in view["blocks"] if "block_id" in block}


def values(urgency: str, database: str | None = None, ticket: str | None = None) -> dict[str, Any]:
    found = access_values()
    found["urgency"] = {"urgency": {"type": "static_select", "selected_option": {"value": urgency}}}
    if database is not None:
        found["database"] = {
            "database": {"type": "external_select", "selected_option": {"value": database}}
        }
    if ticket is not None:
        found["ticket~1"] = {"ticket": {"type": "plain_text_input", "value": ticket}}
    return found


async def runs_made(rig: SlackRig) -> list[dict[str, Any]]:
    """The runs listed once Slack's work after an ack has made one."""
    made: list[dict[str, Any]] = []

    async def requested() -> bool:
        made[:] = (await rig.h.call("GET", "/api/v1/runs", "reader")).json()["runs"]
        return bool(made)

    await rig.h.wait_for(requested, "the run from Slack")
    return made


def submission(view: dict[str, Any], view_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """Carol's view_submission of a drawn ``view`` with block ``values``."""
    return {
        "type": "view_submission",
        "user": {"id": "UCAROL"},
        "view": {
            "id": view_id,
            "callback_id": "symbox_request",
            "private_metadata": "access",
            "blocks": view["blocks"],
            "state": {"values": values},
        },
    }


async def options_for(rig: SlackRig, view_id: str, query: str, user: str = "UCAROL") -> list[str]:
    """The drop-down's options once the modal's form is prepared (Slack asks again as the
    requester types, so an early empty answer is followed by the options)."""
    found: list[str] = []

    async def ready() -> bool:
        found[:] = await suggest(rig, view_id, query, user)
        return bool(found)

    await rig.h.wait_for(ready, "the prefetched options")
    return found


async def suggest(rig: SlackRig, view_id: str, query: str, user: str = "UCAROL") -> list[str]:
    payload = {
        "type": "block_suggestion",
        "user": {"id": user},
        "action_id": "database",
        "block_id": "database",
        "value": query,
        "view": {"id": view_id, "callback_id": "symbox_request", "private_metadata": "access"},
    }
    ack = await rig.slack.ack(await rig.slack.deliver("interactive", payload))
    return [option["text"]["text"] for option in ack["payload"]["options"]]


async def test_prefetched_options_and_on_change_shape_the_modal(tmp_path: Path) -> None:
    (tmp_path / "on_change.py").write_text(ON_CHANGE)
    async with slack_rig(tmp_path, hooks=IMPLEMENTATION, params=FIELDS) as rig:
        await rig.command("req access")
        [opened] = await rig.calls("views.open", 1)
        view_id = "V1"  # the fake Slack's first view
        shown = blocks_of(opened.args["view"])
        assert shown["database"]["element"]["type"] == "external_select"
        assert shown["urgency"]["dispatch_action"] is True
        assert "ticket" not in shown  # hidden until on_change shows it

        # The drop-down's options come from the prefetch reducer, for the one asking.
        assert await options_for(rig, view_id, "") == ["ORDERS", "BILLING", "PROD"]
        assert await suggest(rig, view_id, "bil") == ["BILLING"]

        # Choosing High runs on_change: the ticket field appears, required.
        change = {
            "type": "block_actions",
            "user": {"id": "UCAROL"},
            "view": {
                "id": view_id,
                "hash": "h1",
                "callback_id": "symbox_request",
                "private_metadata": "access",
                "state": {"values": values("High", "prod")},
            },
            "actions": [
                {
                    "action_id": "urgency",
                    "block_id": "urgency",
                    "type": "static_select",
                    "selected_option": {"value": "High"},
                }
            ],
        }
        await rig.slack.ack(await rig.slack.deliver("interactive", change))
        [updated] = await rig.calls("views.update", 1)
        assert updated.args["view_id"] == view_id
        assert updated.args["hash"] == "h1"
        redrawn = blocks_of(updated.args["view"])
        assert redrawn["ticket"]["optional"] is False
        chosen = redrawn["database"]["element"]["initial_option"]
        assert chosen == {"text": {"type": "plain_text", "text": "PROD"}, "value": "prod"}

        # Submitting without the ticket now shows the error next to it; nothing is made.
        submitted = submission(updated.args["view"], view_id, values("High", "prod"))
        ack = await rig.slack.ack(await rig.slack.deliver("interactive", submitted))
        assert ack["payload"] == {"response_action": "errors", "errors": {"ticket": "required"}}
        # The modal stays open with its errors: nothing is requested, nobody is told twice.
        await anyio.sleep(0.5)
        listed = await rig.h.call("GET", "/api/v1/runs", "reader")
        assert listed.json()["runs"] == []
        assert not [
            c for c in rig.slack.state.called("chat.postMessage") if "not made" in str(c.args)
        ]

        # Values the modal's state was not built from (typed without a change event) are
        # checked against the config; the run service then builds the form from them.
        submitted = submission(updated.args["view"], view_id, values("Low", "orders"))
        ack = await rig.slack.ack(await rig.slack.deliver("interactive", submitted))
        assert "payload" not in ack
        await runs_made(rig)


async def test_a_request_from_slack_is_checked_against_the_shaped_form(tmp_path: Path) -> None:
    (tmp_path / "on_change.py").write_text(ON_CHANGE)
    async with slack_rig(tmp_path, hooks=IMPLEMENTATION, params=FIELDS) as rig:
        # bob is not offered prod: the service refuses it even if the modal sent it.
        await rig.submit("access", values("High", "prod", ticket="T-9"), user="UBOB")
        [told] = await rig.calls("chat.postMessage", 1, lambda c: c.args["channel"] == "UBOB")
        assert "database: 'prod' is not allowed" in told.args["text"]
        ack = await rig.submit("access", values("High", "orders", ticket="T-9"), user="UBOB")
        assert "payload" not in ack
        run = await rig.h.run((await runs_made(rig))[0]["run_id"])
        assert (run["requester"], run["fields"]["database"]) == ("bob@example.com", "orders")
        assert run["fields"]["ticket"] == "T-9"


async def test_defaults_shape_the_form_as_it_opens_and_after_a_restart(tmp_path: Path) -> None:
    (tmp_path / "on_change.py").write_text(ON_CHANGE)
    fields = FIELDS.replace(
        'allowed_values = ["Low", "High"]',
        'allowed_values = ["Low", "High"]\n      default = "Low"',
    )
    async with slack_rig(tmp_path, hooks=IMPLEMENTATION, params=fields) as rig:
        # urgency starts as Low, so its on_change has already narrowed the databases.
        await rig.command("req access")
        await rig.calls("views.open", 1)
        assert await options_for(rig, "V1", "") == ["ORDERS", "BILLING"]
        # A modal symbox has no state for (opened before a restart) is prepared after the
        # first drop-down request, which no hook delays.
        assert await options_for(rig, "V-before-restart", "") == ["ORDERS", "BILLING"]


async def test_a_form_its_defaults_reshape_is_redrawn_as_it_opens(tmp_path: Path) -> None:
    (tmp_path / "on_change.py").write_text(ON_CHANGE)
    fields = FIELDS.replace(
        'allowed_values = ["Low", "High"]',
        'allowed_values = ["Low", "High"]\n      default = "High"',
    )
    async with slack_rig(tmp_path, hooks=IMPLEMENTATION, params=fields) as rig:
        await rig.command("req access")
        [opened] = await rig.calls("views.open", 1)
        assert "ticket" not in blocks_of(opened.args["view"])
        # urgency opens as High, so its on_change shows the ticket field, required.
        [updated] = await rig.calls("views.update", 1)
        assert blocks_of(updated.args["view"])["ticket"]["optional"] is False
        # Submitted as drawn, the modal is checked against that form: the ticket is missing.
        drawn = updated.args["view"]
        submitted = submission(drawn, updated.args["view_id"], unchanged_state(drawn))
        errors: dict[str, str] = {}

        async def checked() -> bool:
            # Until the redraw's answer is in, symbox checks leniently; a refused
            # submission changes nothing, so asking again is harmless.
            ack = await rig.slack.ack(await rig.slack.deliver("interactive", submitted))
            errors.update(ack["payload"]["errors"])
            return "ticket" in errors

        await rig.h.wait_for(checked, "the drawn form to judge the submission")
        assert errors["ticket"] == "required"


async def test_the_ack_leaves_to_the_service_what_only_hooks_can_decide(
    tmp_path: Path,
) -> None:
    (tmp_path / "on_change.py").write_text(ON_CHANGE)
    # The config requires a ticket; urgency's on_change makes it optional unless High.
    fields = FIELDS.replace("required = false\n      visible  = false", "required = true")
    async with slack_rig(tmp_path, hooks=IMPLEMENTATION, params=fields) as rig:
        await rig.command("req access")
        await rig.calls("views.open", 1)
        # Values symbox has not built a form from (no change event): no "required" here.
        ack = await rig.submit("access", values("Low", "orders"))
        assert "payload" not in ack
        await runs_made(rig)


def test_options_narrowed_to_nothing_and_list_values_render_as_slack_takes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lists = (
        FIELDS
        + """
    prompt_field {
      name    = "teams"
      type    = "str_list"
      default = ["red", "blue"]
    }
"""
    )
    (tmp_path / "on_change.py").write_text(ON_CHANGE)
    (tmp_path / "impl.py").write_text(IMPLEMENTATION)
    config_text = CONFIG.replace(FORM_FIELDS, lists)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.hcl").write_text(config_text)
    config = load_config("config.hcl", environ={})
    flow = config.flows["access"]
    state = initial_form(flow, {}, {"database": ()})
    urgency = state.field("urgency")
    assert urgency is not None
    state = state.with_field(replace(urgency, current=()))
    shown = blocks_of(request_form(config, flow, state))
    # Slack refuses a static select without options; an external one asks and gets none.
    assert shown["urgency"]["element"]["type"] == "external_select"
    assert shown["teams"]["element"]["initial_value"] == "red, blue"
