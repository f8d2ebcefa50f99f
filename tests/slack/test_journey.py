"""Whole journeys in Slack: /sym, the modal, the request message, buttons and DMs."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from symbox.audit.outbox import OutboxLimits
from tests.fakes.slack import Call
from tests.slack.conftest import access_values, slack_rig

pytestmark = pytest.mark.anyio


def _texts(calls: list) -> list[str]:  # type: ignore[type-arg]
    return [str(call.args.get("text")) for call in calls]


async def test_request_approve_grant_and_revoke_from_slack(tmp_path: Path) -> None:
    async with slack_rig(tmp_path) as rig:
        ack = await rig.command("req access")
        assert ack.get("payload") is None
        [opened] = await rig.calls("views.open", 1)
        assert opened.args["trigger_id"] == "trigger-req access-UCAROL"
        assert opened.args["view"]["private_metadata"] == "access"
        blocks = [block["block_id"] for block in opened.args["view"]["blocks"]]
        assert blocks == ["target", "reason", "duration"]

        ack = await rig.submit("access", access_values())
        assert ack.get("payload") is None  # the modal closes
        # Without a notification reducer the request goes to each approver by DM.
        posts = await rig.calls("chat.postMessage", 2, lambda c: c.args.get("blocks") is not None)
        assert sorted(call.args["channel"] for call in posts) == ["UALICE", "UBOB"]
        buttons = posts[0].args["blocks"][-1]["elements"]
        assert [button["action_id"] for button in buttons] == ["symbox_approve", "symbox_deny"]
        run_id = buttons[0]["value"]
        assert (await rig.h.run(run_id))["status"] == "requested"
        assert (await rig.h.run(run_id))["channel"] == "slack"
        dm = await rig.calls("chat.postMessage", 1, lambda c: c.args["channel"] == "UCAROL")
        assert _texts(dm) == ["Your request for access was sent."]

        await rig.click("symbox_approve", run_id, "UALICE")
        run = await rig.h.wait_status(run_id, "escalated")
        assert run["decisions"][0]["actor"] == {"kind": "user", "id": "alice@example.com"}
        assert rig.h.receiver.state.granted == {("prod-db", "carol@example.com")}
        updates = await rig.calls("chat.update", 4)
        final = updates[-1].args["blocks"]
        assert "Approved by" in final[1]["elements"][0]["text"]
        assert final[-1]["elements"][0]["action_id"] == "symbox_revoke"
        dms = await rig.calls("chat.postMessage", 3, lambda c: c.args["channel"] == "UCAROL")
        assert "was approved by alice@example.com" in _texts(dms)[1]
        assert "access is granted until" in _texts(dms)[2]

        await rig.h.advance(600)
        await rig.h.wait_status(run_id, "deescalated")
        dms = await rig.calls("chat.postMessage", 4, lambda c: c.args["channel"] == "UCAROL")
        assert _texts(dms)[3] == "Your access access was revoked."


async def test_refused_clicks_change_nothing_and_say_why(tmp_path: Path) -> None:
    async with slack_rig(tmp_path) as rig:
        await rig.submit("access", access_values())
        posts = await rig.calls("chat.postMessage", 2, lambda c: c.args.get("blocks") is not None)
        run_id = posts[0].args["blocks"][-1]["elements"][0]["value"]

        await rig.click("symbox_approve", run_id, "UCAROL")  # self-approval
        await rig.click("symbox_approve", run_id, "UGUEST")
        await rig.click("symbox_approve", run_id, "UGONE")
        await rig.click("symbox_approve", run_id, "UNOBODY")
        refusals = await rig.calls("chat.postEphemeral", 4)
        by_user = {call.args["user"]: call.args["text"] for call in refusals}
        assert by_user["UCAROL"].startswith("You cannot do that:")
        assert by_user["UGUEST"] == "Guests cannot use the access flow."
        assert by_user["UGONE"] == "Your Slack account cannot use symbox."
        assert by_user["UNOBODY"] == "Your Slack account cannot use symbox."
        assert (await rig.h.run(run_id))["status"] == "requested"

        await rig.click("symbox_deny", run_id, "UBOB")
        await rig.h.wait_status(run_id, "denied")
        await rig.click("symbox_approve", run_id, "UALICE")  # too late
        late = await rig.calls("chat.postEphemeral", 5)
        assert late[-1].args["user"] == "UALICE"
        assert late[-1].args["text"].startswith("Nothing changed:")
        assert (await rig.h.run(run_id))["status"] == "denied"
        assert rig.h.receiver.state.calls("escalate") == []


async def test_modal_errors_are_shown_next_to_their_fields(tmp_path: Path) -> None:
    async with slack_rig(tmp_path) as rig:
        ack = await rig.submit("access", access_values(reason="", duration="2h"))
        payload = ack["payload"]
        assert payload["response_action"] == "errors"
        assert set(payload["errors"]) == {"reason", "duration"}
        assert payload["errors"]["reason"] == "required"
        listed = await rig.h.call("GET", "/api/v1/runs", "reader")
        assert listed.json()["runs"] == []


async def test_a_reason_of_only_spaces_is_no_reason(tmp_path: Path) -> None:
    async with slack_rig(tmp_path) as rig:
        ack = await rig.submit("access", access_values(reason="  \n "))
        assert ack["payload"] == {"response_action": "errors", "errors": {"reason": "required"}}
        listed = await rig.h.call("GET", "/api/v1/runs", "reader")
        assert listed.json()["runs"] == []


async def test_sym_without_a_flow_opens_the_chooser_and_unknown_flows_are_listed(
    tmp_path: Path,
) -> None:
    async with slack_rig(tmp_path) as rig:
        await rig.command("")
        [opened] = await rig.calls("views.open", 1)
        options = opened.args["view"]["blocks"][0]["element"]["options"]
        assert [option["value"] for option in options] == ["access", "signoff"]

        ack = await rig.command("req nope")
        assert ack["payload"]["response_type"] == "ephemeral"
        assert ack["payload"]["text"] == (
            "There is no flow `nope` you can request here. Flows: `access`, `signoff`."
        )
        ack = await rig.command("gibberish words")
        assert "Use `/sym`" in ack["payload"]["text"]


async def test_redeliveries_are_acked_and_done_once(tmp_path: Path) -> None:
    async with slack_rig(tmp_path) as rig:
        values = access_values()
        payload = {
            "type": "view_submission",
            "user": {"id": "UCAROL"},
            "view": {
                "callback_id": "symbox_request",
                "private_metadata": "access",
                "state": {"values": values},
            },
        }
        first = await rig.slack.deliver("interactive", payload, envelope_id="env-same")
        await rig.slack.ack(first)
        rig.slack.state.acks.pop("env-same")
        await rig.slack.deliver("interactive", payload, envelope_id="env-same")
        await rig.calls("chat.postMessage", 2, lambda c: c.args.get("blocks") is not None)
        listed = await rig.h.call("GET", "/api/v1/runs", "reader")
        assert len(listed.json()["runs"]) == 1


async def test_a_disconnect_is_survived(tmp_path: Path) -> None:
    async with slack_rig(tmp_path) as rig:
        assert "symbox_slack_connected 1" in (await rig.h.http.get("/metrics")).text
        await rig.slack.disconnect()
        await rig.slack.wait_connected()
        await rig.command("req access")
        await rig.calls("views.open", 1)
        await rig.slack.drop()
        await rig.slack.wait_connected()
        await rig.command("req signoff")
        await rig.calls("views.open", 2)
        assert rig.slack.state.connections >= 3


ROUTING = """
from sym.sdk.notifications import Notification


def get_request_notifications(event):
    return [
        Notification(destinations=["#first-line", "alice@example.com"], timeout=300),
        Notification(destinations=["#second-line"]),
    ]
"""


async def test_requests_go_where_the_flow_routes_them_and_are_forwarded(tmp_path: Path) -> None:
    async with slack_rig(tmp_path, hooks=ROUTING) as rig:
        await rig.submit("access", access_values())
        first = await rig.calls("chat.postMessage", 2, lambda c: c.args.get("blocks") is not None)
        assert [call.args["channel"] for call in first] == ["#first-line", "UALICE"]
        run_id = first[0].args["blocks"][-1]["elements"][0]["value"]

        await rig.h.advance(300)
        posts = await rig.calls("chat.postMessage", 3, lambda c: c.args.get("blocks") is not None)
        assert posts[2].args["channel"] == "#second-line"

        await rig.click("symbox_deny", run_id, "UBOB")
        await rig.h.wait_status(run_id, "denied")
        updates = await rig.calls("chat.update", 3)
        assert sorted(call.args["channel"] for call in updates) == [
            "#first-line",
            "#second-line",
            "UALICE",
        ]
        assert all("Denied by" in call.args["blocks"][1]["elements"][0]["text"] for call in updates)


async def test_a_decision_message_is_asked_for_and_kept(tmp_path: Path) -> None:
    async with slack_rig(tmp_path, params="include_decision_message = true") as rig:
        await rig.submit("access", access_values())
        posts = await rig.calls("chat.postMessage", 2, lambda c: c.args.get("blocks") is not None)
        run_id = posts[0].args["blocks"][-1]["elements"][0]["value"]

        await rig.click("symbox_approve", run_id, "UALICE")
        [opened] = await rig.calls("views.open", 1)
        view = opened.args["view"]
        assert opened.args["trigger_id"] == "trigger-symbox_approve-UALICE"
        assert view["callback_id"] == "symbox_decision"
        assert (await rig.h.run(run_id))["status"] == "requested"

        def submission(user: str) -> dict[str, object]:
            return {
                "type": "view_submission",
                "user": {"id": user},
                "view": {
                    "callback_id": "symbox_decision",
                    "private_metadata": view["private_metadata"],
                    "state": {"values": {"message": {"message": {"value": "  go ahead  "}}}},
                },
            }

        # The modal is no way around the rules: the requester's own submission is refused.
        await rig.slack.ack(await rig.slack.deliver("interactive", submission("UCAROL")))
        [refusal] = await rig.calls(
            "chat.postMessage", 1, lambda c: str(c.args.get("text")).startswith("You cannot")
        )
        assert refusal.args["channel"] == "UCAROL"
        assert (await rig.h.run(run_id))["status"] == "requested"

        await rig.slack.ack(await rig.slack.deliver("interactive", submission("UALICE")))
        run = await rig.h.wait_status(run_id, "escalated")
        assert run["decisions"][0]["reason"] == "go ahead"
        dms = await rig.calls("chat.postMessage", 3, lambda c: c.args["channel"] == "UCAROL")
        assert any(
            text.endswith("approved by alice@example.com: go ahead.") for text in _texts(dms)
        )


async def test_odd_envelopes_get_clear_replies_and_never_break_the_connection(
    tmp_path: Path,
) -> None:
    async with slack_rig(tmp_path) as rig:
        odd: list[tuple[str, dict[str, Any]]] = [
            ("interactive", {}),
            ("interactive", {"type": "block_actions", "actions": "nope", "user": {"id": 3}}),
            ("interactive", {"type": "view_submission", "view": {"callback_id": 7}}),
            ("slash_commands", {"text": None}),
            ("events_api", {"event": {"type": "app_mention"}}),
        ]
        for kind, payload in odd:
            await rig.slack.ack(await rig.slack.deliver(kind, payload))

        # A deactivated user's /sym is answered in place, and no modal opens.
        await rig.command("req access", user="UGONE")
        [reply] = await rig.calls("chat.postEphemeral", 1)
        assert reply.args["user"] == "UGONE" and "email" in reply.args["text"]

        # A submission naming a flow Slack may not use (a forged view) changes nothing.
        await rig.submit("no-such-flow", access_values())
        [told] = await rig.calls("chat.postMessage", 1, lambda c: c.args["channel"] == "UCAROL")
        assert told.args["text"] == "That flow cannot be requested from Slack."

        # /sym in a DM with the bot works like anywhere else, and the connection is fine.
        in_dm = {"command": "/sym", "text": "req access", "user_id": "UCAROL"}
        in_dm |= {
            "trigger_id": "trigger-dm",
            "channel_id": "DCAROL",
            "channel_name": "directmessage",
        }
        await rig.slack.ack(await rig.slack.deliver("slash_commands", in_dm))
        [opened] = await rig.calls("views.open", 1)
        assert opened.args["trigger_id"] == "trigger-dm"
        listed = await rig.h.call("GET", "/api/v1/runs", "reader")
        assert listed.json()["runs"] == []


async def test_failures_reach_the_error_logger_channel_once_they_matter(tmp_path: Path) -> None:
    async with slack_rig(tmp_path) as rig:
        h = rig.h
        await rig.submit("access", access_values(duration="10m"))
        posts = await rig.calls("chat.postMessage", 2, lambda c: c.args.get("blocks") is not None)
        run_id = posts[0].args["blocks"][-1]["elements"][0]["value"]
        await rig.click("symbox_approve", run_id, "UALICE")
        await h.wait_status(run_id, "escalated")

        h.receiver.state.fail_with = [503, 503, 503, 503]
        await h.advance(600)

        def errors_posted() -> list[Call]:
            return rig.slack.state.called("chat.postMessage")

        async def attempts(count: int) -> bool:
            return bool((await h.run(run_id))["grant"]["attempts"] >= count)

        await h.wait_for(lambda: attempts(1), "the first revoke attempt")
        assert not [c for c in errors_posted() if c.args["channel"] == "#sym-errors"]
        for count in (2, 3):
            await h.advance(3.1)
            await h.wait_for(partial(attempts, count), f"revoke attempt {count}")
        assert (await h.run(run_id))["grant"]["state"] == "failing"
        [alarm] = await rig.calls(
            "chat.postMessage", 1, lambda c: c.args["channel"] == "#sym-errors"
        )
        assert run_id in alarm.args["text"] and "HTTP 503" in alarm.args["text"]
        assert "test-grant-secret" not in alarm.args["text"]


async def test_what_requesters_type_cannot_ping_or_link_in_the_request_message(
    tmp_path: Path,
) -> None:
    async with slack_rig(tmp_path) as rig:
        await rig.submit(
            "access", access_values(reason="<!channel> see <https://evil.example|docs> & go")
        )
        posts = await rig.calls("chat.postMessage", 2, lambda c: c.args.get("blocks") is not None)
        text = posts[0].args["blocks"][0]["text"]["text"]
        assert "*Reason:* &lt;!channel&gt; see &lt;https://evil.example|docs&gt; &amp; go" in text


async def test_a_full_audit_outbox_is_explained_in_slack(tmp_path: Path) -> None:
    async with slack_rig(tmp_path) as rig:
        # Every audit record must be kept until its destinations have it: a tiny bound
        # stands in for a destination that has been down for days.
        rig.h.app.outbox.limits = OutboxLimits(limit=1)
        await rig.h.wait_for(lambda: rig.h.app.outbox.full, "the outbox to count as full")
        await rig.submit("access", access_values())
        [told] = await rig.calls(
            "chat.postMessage", 1, lambda c: str(c.args.get("text")).startswith("Your request")
        )
        assert told.args["channel"] == "UCAROL"
        assert "the audit outbox is full" in told.args["text"]


async def test_a_reconnect_mid_journey_and_failing_slack_calls_lose_no_decision(
    tmp_path: Path,
) -> None:
    async with slack_rig(tmp_path) as rig:
        await rig.submit("access", access_values())
        posts = await rig.calls("chat.postMessage", 2, lambda c: c.args.get("blocks") is not None)
        run_id = posts[0].args["blocks"][-1]["elements"][0]["value"]

        # The connection drops between the request and the approval.
        await rig.slack.drop()
        await rig.slack.wait_connected()
        # And Slack refuses message updates for a while, and answers DMs slowly.
        with rig.slack.state.lock:
            rig.slack.state.failing["chat.update"] = "ratelimited"
            rig.slack.state.slow["chat.postMessage"] = 0.3
        await rig.click("symbox_approve", run_id, "UALICE")
        await rig.h.wait_status(run_id, "escalated")
        # The DMs still arrive; the refused updates are logged, not retried forever.
        dms = await rig.calls("chat.postMessage", 3, lambda c: c.args["channel"] == "UCAROL")
        assert "access is granted until" in str(dms[-1].args["text"])
        assert rig.slack.state.called("chat.update")
        with rig.slack.state.lock:
            rig.slack.state.failing.clear()
            rig.slack.state.slow.clear()
        # Later steps update the messages again once Slack takes them.
        await rig.h.advance(600)
        await rig.h.wait_status(run_id, "deescalated")
        await rig.calls(
            "chat.update",
            1,
            lambda c: "access revoked" in str(c.args["blocks"][1]["elements"][0]["text"]),
        )


async def test_a_grant_being_retried_shows_on_the_request_message(tmp_path: Path) -> None:
    async with slack_rig(tmp_path) as rig:
        rig.h.receiver.state.fail_with = [503]
        await rig.submit("access", access_values())
        posts = await rig.calls("chat.postMessage", 2, lambda c: c.args.get("blocks") is not None)
        run_id = posts[0].args["blocks"][-1]["elements"][0]["value"]
        await rig.click("symbox_approve", run_id, "UALICE")

        def retrying(call: Call) -> bool:
            return "granting access failed (1 attempt, trying again at" in json.dumps(
                call.args["blocks"]
            )

        [shown, *_] = await rig.calls("chat.update", 1, retrying)
        assert "HTTP 503" in json.dumps(shown.args["blocks"])
        # Not an error yet: the error channel and the requester hear nothing of it.
        assert not [
            c
            for c in rig.slack.state.called("chat.postMessage")
            if c.args["channel"] == "#sym-errors" or "went wrong" in c.args.get("text", "")
        ]
        await rig.h.advance(1.5)
        await rig.h.wait_status(run_id, "escalated")
        await rig.calls(
            "chat.update", 1, lambda c: "access granted until" in json.dumps(c.args["blocks"])
        )


async def test_a_duplicate_request_from_slack_links_the_open_one(tmp_path: Path) -> None:
    async with slack_rig(tmp_path, allow_duplicates=False) as rig:
        await rig.submit("access", access_values())
        posts = await rig.calls("chat.postMessage", 2, lambda c: c.args.get("blocks") is not None)
        run_id = posts[0].args["blocks"][-1]["elements"][0]["value"]
        await rig.submit("access", access_values())
        [told] = await rig.calls(
            "chat.postMessage", 1, lambda c: "was not made" in c.args.get("text", "")
        )
        text = told.args["text"]
        assert told.args["channel"] == "UCAROL"
        assert f"you already have an open request for prod-db in flow access: run {run_id}" in text
        assert "|Open it>" in text and "https://fake.slack.test/archives/" in text
        listed = await rig.h.call("GET", "/api/v1/runs", "reader")
        assert [run["run_id"] for run in listed.json()["runs"]] == [run_id]
