"""Hooks around symbox's own steps (escalate, de-escalate, request expiry) and routing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.test_hooks import hooked_config
from tests.fakes.configs import access_config
from tests.harness import harness

pytestmark = pytest.mark.anyio

LIFECYCLE = """
from sym.sdk.exceptions import SymException
from sym.sdk.templates import ApprovalTemplate


def on_escalate(event):
    reason = event.payload.fields["reason"]
    if reason == "refuse":
        raise SymException("change freeze in effect")
    if reason == "template":
        return ApprovalTemplate.deny(reason="no")


def on_deescalate(event):
    if event.payload.fields["reason"] == "noisy":
        raise SymException("could not page the owner")


def after_deescalate(event):
    if event.payload.fields["reason"] == "noisy":
        raise SymException("could not post the revocation")


def on_request_expire(event):
    raise SymException("could not tell the requester")


def after_request_expire(event):
    raise SymException("could not close the ticket")
"""


@pytest.fixture
def lifecycle(tmp_path: Path) -> Path:
    (tmp_path / "impl.py").write_text(LIFECYCLE)
    return tmp_path


async def test_on_escalate_failure_errors_the_run_before_anything_is_granted(
    lifecycle: Path,
) -> None:
    async with harness(lifecycle, config_text=hooked_config) as h:
        run_id = await h.request(reason="refuse")
        body = (await h.approve(run_id)).json()
        assert body["status"] == "errored"
        assert body["error"].startswith("on_escalate: ")
        assert "impl.py:9:" in body["error"] and "change freeze in effect" in body["error"]
        assert h.receiver.state.calls("escalate") == []
        assert h.receiver.state.granted == set()


async def test_on_escalate_cannot_redirect_the_escalation(lifecycle: Path) -> None:
    async with harness(lifecycle, config_text=hooked_config) as h:
        run_id = await h.request(reason="template")
        body = (await h.approve(run_id)).json()
        assert body["status"] == "errored"
        assert "on_escalate returned ApprovalTemplate.deny" in body["error"]
        assert h.receiver.state.calls("escalate") == []


async def test_on_deescalate_failure_is_recorded_and_access_is_still_revoked(
    lifecycle: Path,
) -> None:
    async with harness(lifecycle, config_text=hooked_config) as h:
        run_id = await h.request(reason="noisy")
        assert (await h.approve(run_id)).json()["status"] == "escalated"
        await h.advance(600)
        run = await h.wait_status(run_id, "deescalated")
        await h.wait_for(lambda: not h.receiver.state.granted, "the revocation")

        async def both_recorded() -> bool:
            return len((await h.run(run_id))["errors"]) == 2

        # after_deescalate runs once the revocation is committed: wait for its record too.
        await h.wait_for(both_recorded, "both hook errors")
        run = await h.run(run_id)
        names = [event["name"] for event in run["events"]]
        # In the order things happened: on_deescalate ran before the revocation.
        assert names == ["request", "approve", "escalate", "hook_error", "deescalate", "hook_error"]
        hooks = [run["events"][i]["details"]["hook"] for i in (3, 5)]
        assert hooks == ["on_deescalate", "after_deescalate"]
        assert "could not page the owner" in run["errors"][0]
        assert "could not post the revocation" in run["errors"][1]


async def test_request_expiry_runs_its_hooks_and_still_expires(lifecycle: Path) -> None:
    def short_ttl(receiver_url: str) -> str:
        return hooked_config(receiver_url).replace('request_ttl = "1h"', 'request_ttl = "5m"')

    async with harness(lifecycle, config_text=short_ttl) as h:
        run_id = await h.request()
        await h.advance(300)
        await h.wait_status(run_id, "expired")

        async def both_recorded() -> bool:
            return len((await h.run(run_id))["errors"]) == 2

        await h.wait_for(both_recorded, "both hook errors")
        run = await h.run(run_id)
        names = [event["name"] for event in run["events"]]
        assert names == ["request", "hook_error", "request_expire", "hook_error"]
        hooks = [run["events"][i]["details"]["hook"] for i in (1, 3)]
        assert hooks == ["on_request_expire", "after_request_expire"]


ROUTING = """
from sym.sdk.annotations import reducer
from sym.sdk.exceptions import SymException
from sym.sdk.notifications import Notification


@reducer
def get_request_notifications(event):
    if event.payload.fields["reason"] == "lost":
        raise SymException("no channel for this team")
    return [
        Notification(destinations=[event.flow.vars["request_channel"]], timeout=600),
        Notification(destinations=[event.user, "#access-backup"]),
    ]
"""


def routed_config(receiver_url: str) -> str:
    approvers = 'approvers = "alice@example.com,bob@example.com,bot:ci"'
    return hooked_config(receiver_url).replace(
        approvers, f'{approvers}\n    request_channel = "#access-requests"', 1
    )


async def test_request_notifications_are_stored_with_the_request(tmp_path: Path) -> None:
    (tmp_path / "impl.py").write_text(ROUTING)
    async with harness(tmp_path, config_text=routed_config) as h:
        run_id = await h.request()
        run = await h.run(run_id)
        expected = [
            {"destinations": ["#access-requests"], "timeout": 600.0},
            {"destinations": ["carol@example.com", "#access-backup"], "timeout": None},
        ]
        assert run["status"] == "requested"
        assert run["notifications"] == expected
        assert run["events"][0]["details"] == {"notifications": expected}

        lost = await h.request(reason="lost")
        run = await h.run(lost)
        assert run["status"] == "errored"
        assert "get_request_notifications" in run["error"] or "no channel" in run["error"]
        assert "impl.py:10:" in run["error"]
        assert run["notifications"] == []


GET_APPROVERS = """
def get_approvers(event):
    return "#approvers"
"""


async def test_get_approvers_is_the_older_spelling(tmp_path: Path) -> None:
    (tmp_path / "impl.py").write_text(GET_APPROVERS)
    async with harness(tmp_path, config_text=hooked_config) as h:
        run = await h.run(await h.request())
        assert run["notifications"] == [{"destinations": ["#approvers"], "timeout": None}]


async def test_flows_without_reducers_store_no_notifications(tmp_path: Path) -> None:
    async with harness(tmp_path, config_text=access_config) as h:
        run = await h.run(await h.request())
        assert run["notifications"] == []


FORWARDING = """
from sym.sdk.notifications import Notification


def get_request_notifications(event):
    return [
        Notification(destinations=["#first-line"], timeout=300),
        Notification(destinations=["#second-line"], timeout=600),
    ]


def after_request_forward(event):
    return None
"""


async def test_an_undecided_request_is_forwarded_then_expires(tmp_path: Path) -> None:
    (tmp_path / "impl.py").write_text(FORWARDING)
    async with harness(tmp_path, config_text=hooked_config) as h:
        run_id = await h.request()
        await h.advance(299)
        assert (await h.run(run_id))["status"] == "requested"
        await h.advance(1)

        async def forwarded() -> bool:
            events = (await h.run(run_id))["events"]
            return [event["name"] for event in events] == ["request", "request_forward"]

        await h.wait_for(forwarded, "the request to be forwarded")
        forward = (await h.run(run_id))["events"][1]
        assert forward["details"] == {"notification": 1, "destinations": ["#second-line"]}
        # The second line's 600 s run from the forward; the last timeout expires the request.
        await h.advance(599)
        assert (await h.run(run_id))["status"] == "requested"
        await h.advance(1)
        run = await h.wait_status(run_id, "expired")
        assert [event["name"] for event in run["events"]] == [
            "request",
            "request_forward",
            "request_expire",
        ]


async def test_a_decision_stops_the_forwarding(tmp_path: Path) -> None:
    (tmp_path / "impl.py").write_text(FORWARDING)
    async with harness(tmp_path, config_text=hooked_config) as h:
        run_id = await h.request()
        assert (await h.approve(run_id)).json()["status"] == "escalated"
        await h.advance(300)
        await h.advance(600)
        run = await h.run(run_id)
        assert "request_forward" not in [event["name"] for event in run["events"]]
