"""Extending an escalated run through the API: at once, or after an approval."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from symbox.audit.verify import verify_file
from tests.fakes.clock import FakeClock
from tests.fakes.configs import GRANT_SECRET, access_config
from tests.fakes.receiver import GrantReceiver
from tests.harness import Harness, harness

pytestmark = pytest.mark.anyio

GRANTED = {("prod-db", "carol@example.com")}


def extendable_config(receiver_url: str, *, implementation: str | None = None) -> str:
    """The access flow (1m, 10m or 1h) extending by up to 10m without approval."""
    anchor = "strategy_id = sym_strategy.grants.id"
    text = access_config(receiver_url).replace(
        anchor, f'{anchor}\n    extend_without_approval_up_to = "10m"', 1
    )
    if implementation is not None:
        text = text.replace('implementation = "# no hooks"', implementation, 1)
    return text


async def extend(
    h: Harness, run_id: str, duration: Any, as_: str = "carol@example.com", **extra: Any
) -> httpx.Response:
    """POST /api/v1/events/extend as ``as_``."""
    body = {"run_id": run_id, "duration": duration, **extra}
    return await h.call("POST", "/api/v1/events/extend", as_, body)


async def escalated(h: Harness, duration: str = "10m", as_: str = "carol@example.com") -> str:
    """An escalated run of the access flow."""
    run_id = await h.request(as_=as_, duration=duration)
    assert (await h.approve(run_id)).json()["status"] == "escalated"
    return run_id


def extend_events(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [event for event in run["events"] if event["name"].startswith("extend")]


async def still_granted_after(h: Harness, seconds: float) -> None:
    """Move the clock and give the timer time to act, if it wrongly would."""
    await h.advance(seconds)
    await anyio.sleep(0.2)


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_an_extension_within_the_limit_moves_the_expiry_at_once(tmp_path: Path) -> None:
    async with harness(tmp_path, config_text=extendable_config) as h:
        run_id = await escalated(h)
        started = (await h.run(run_id))["expires_at"]
        response = await extend(h, run_id, "10m", reason="still debugging")
        assert response.status_code == 200, response.text
        run = response.json()
        assert run["status"] == "escalated"
        assert run["expires_at"] != started
        assert run["extension"]["status"] == "approved"
        assert run["extension"]["duration"] == 600
        assert run["extension"]["reason"] == "still debugging"
        assert run["extension"]["requested_by"] == {"kind": "user", "id": "carol@example.com"}
        [event] = extend_events(await h.run(run_id))
        assert event["name"] == "extend"
        details = event["details"]
        assert details["approval"] == "automatic"
        assert details["new_expires_at"] - details["old_expires_at"] == 600
        # The timer is re-armed for the new expiry.
        assert h.app.schedule.next_due() == details["new_expires_at"]

        await still_granted_after(h, 700)
        assert (await h.run(run_id))["status"] == "escalated"
        assert h.receiver.state.granted == GRANTED
        await h.advance(600)
        await h.wait_status(run_id, "deescalated")
        assert h.receiver.state.granted == set()
    audit = tmp_path / "data" / "audit.jsonl"
    assert verify_file(audit).ok
    [record] = [r for r in audit_lines(audit) if r.get("event", {}).get("type") == "extend"]
    assert record["actor"] == {"kind": "user", "id": "carol@example.com"}
    assert record["details"]["duration"] == 600
    assert {"old_expires_at", "new_expires_at"} <= set(record["details"])


async def test_an_extension_past_the_limit_waits_for_an_approver(tmp_path: Path) -> None:
    async with harness(tmp_path, config_text=extendable_config) as h:
        run_id = await escalated(h)
        before = (await h.run(run_id))["expires_at"]
        response = await extend(h, run_id, 1800)
        assert response.status_code == 200, response.text
        run = response.json()
        assert run["expires_at"] == before
        assert run["extension"]["status"] == "pending"
        assert run["extension"]["duration"] == 1800
        again = await extend(h, run_id, "1m")
        assert again.status_code == 409
        # The requester cannot approve their own extension.
        own = await h.approve(run_id, as_="carol@example.com")
        assert own.status_code == 403

        approved = await h.approve(run_id, as_="alice@example.com")
        assert approved.status_code == 200, approved.text
        run = approved.json()
        assert run["status"] == "escalated"
        assert run["extension"]["status"] == "approved"
        assert run["extension"]["decided_by"] == {"kind": "user", "id": "alice@example.com"}
        [asked, moved] = extend_events(await h.run(run_id))
        assert asked["name"] == "extend_request"
        assert moved["name"] == "extend"
        assert moved["actor"] == {"kind": "user", "id": "alice@example.com"}
        assert moved["details"]["approval"] == "approved"
        assert moved["details"]["new_expires_at"] - moved["details"]["old_expires_at"] == 1800
        await still_granted_after(h, 1200)
        assert (await h.run(run_id))["status"] == "escalated"
        await h.advance(1200)
        await h.wait_status(run_id, "deescalated")


async def test_a_denied_extension_keeps_the_expiry(tmp_path: Path) -> None:
    async with harness(tmp_path, config_text=extendable_config) as h:
        run_id = await escalated(h)
        before = (await h.run(run_id))["expires_at"]
        assert (await extend(h, run_id, "1h")).json()["extension"]["status"] == "pending"
        denied = await h.call(
            "POST", "/api/v1/events/deny", "bob@example.com", {"run_id": run_id, "reason": "no"}
        )
        assert denied.status_code == 200, denied.text
        run = denied.json()
        assert run["expires_at"] == before
        assert run["extension"]["status"] == "denied"
        assert run["extension"]["decision_reason"] == "no"
        assert [event["name"] for event in extend_events(await h.run(run_id))] == [
            "extend_request",
            "extend_deny",
        ]
        await h.advance(600)
        await h.wait_status(run_id, "deescalated")


async def test_past_the_flows_maximum_an_extension_needs_approval(tmp_path: Path) -> None:
    async with harness(tmp_path, config_text=extendable_config) as h:
        run_id = await escalated(h, duration="1h")
        # 10m is within the limit, but 1h10m from the escalation passes the flow's 1h.
        run = (await extend(h, run_id, "10m")).json()
        assert run["extension"]["status"] == "pending"
        # Approved, it may go past the maximum.
        run = (await h.approve(run_id, as_="bob@example.com")).json()
        assert run["extension"]["status"] == "approved"
        await still_granted_after(h, 3700)
        assert (await h.run(run_id))["status"] == "escalated"


async def test_without_the_setting_every_extension_needs_approval(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        run_id = await escalated(h)
        assert (await extend(h, run_id, "1m")).json()["extension"]["status"] == "pending"


async def test_only_the_requester_or_its_submitting_bot_may_extend(tmp_path: Path) -> None:
    async with harness(tmp_path, config_text=extendable_config) as h:
        run_id = await escalated(h)
        # An approver may read the run, but not ask for more of someone else's access.
        assert (await extend(h, run_id, "1m", as_="alice@example.com")).status_code == 403
        # Someone who may not read it learns nothing about it.
        assert (await extend(h, run_id, "1m", as_="dave@example.com")).status_code == 404
        assert (await extend(h, run_id, "1m", as_="deploy")).status_code == 403

        response = await h.call(
            "POST",
            "/api/v1/events/request",
            "deploy",
            {
                "flow": "access",
                "user_email": "erin@example.com",
                "flow_inputs": {"reason": "ci", "duration": "10m", "target": "staging-db"},
            },
        )
        by_bot = response.json()["run_id"]
        assert (await h.approve(by_bot)).json()["status"] == "escalated"
        extended = await extend(h, by_bot, "5m", as_="deploy")
        assert extended.status_code == 200, extended.text
        assert extended.json()["extension"]["status"] == "approved"
        assert (await extend(h, by_bot, "1m", as_="erin@example.com")).status_code == 200


async def test_only_an_escalated_run_with_an_active_grant_is_extended(tmp_path: Path) -> None:
    async with harness(tmp_path, config_text=extendable_config) as h:
        waiting = await h.request()
        response = await extend(h, waiting, "1m")
        assert response.status_code == 409
        assert "not escalated" in response.json()["message"]
        run_id = await escalated(h)
        await h.call("POST", "/api/v1/events/deescalate", "carol@example.com", {"run_id": run_id})
        await h.wait_status(run_id, "deescalated")
        assert (await extend(h, run_id, "1m")).status_code == 409
        assert (await extend(h, "no-such-run", "1m")).status_code == 404


async def test_bad_durations_are_refused(tmp_path: Path) -> None:
    async with harness(tmp_path, config_text=extendable_config) as h:
        run_id = await escalated(h)
        for duration in ("soon", 0, -5, True, "400d"):
            response = await extend(h, run_id, duration)
            assert response.status_code == 400, duration
            assert response.json()["message"].startswith("duration: ")
        missing = await h.call(
            "POST", "/api/v1/events/extend", "carol@example.com", {"run_id": run_id}
        )
        assert missing.status_code == 400
        assert (await h.run(run_id))["extension"] is None


async def test_an_undecided_extension_lapses_with_the_grant(tmp_path: Path) -> None:
    async with harness(tmp_path, config_text=extendable_config) as h:
        run_id = await escalated(h)
        assert (await extend(h, run_id, "1h")).json()["extension"]["status"] == "pending"
        # The grant still ends at its current expiry while nobody decides.
        await h.advance(600)
        run = await h.wait_status(run_id, "deescalated")
        assert run["extension"]["status"] == "lapsed"
        assert run["events"][-1]["details"]["extension"] == "lapsed"
        late = await h.approve(run_id, as_="alice@example.com")
        assert late.status_code == 409
        assert h.receiver.state.granted == set()


async def test_a_restart_keeps_the_new_expiry(tmp_path: Path) -> None:
    clock = FakeClock()
    receiver = GrantReceiver(GRANT_SECRET).start()
    data = tmp_path / "data"
    options: dict[str, Any] = {"clock": clock, "receiver": receiver, "data_dir": data}
    try:
        async with harness(tmp_path, config_text=extendable_config, **options) as h:
            run_id = await escalated(h)
            assert (await extend(h, run_id, "10m")).json()["extension"]["status"] == "approved"
            pending = await escalated(h, as_="erin@example.com")
            assert (await extend(h, pending, "1h", as_="erin@example.com")).status_code == 200
        async with harness(tmp_path, config_text=extendable_config, **options) as h:
            assert (await h.run(pending))["extension"]["status"] == "pending"
            await still_granted_after(h, 700)
            assert (await h.run(run_id))["status"] == "escalated"
            await h.wait_status(pending, "deescalated")
            assert receiver.state.granted == GRANTED
            await h.advance(600)
            await h.wait_status(run_id, "deescalated")
            assert receiver.state.granted == set()
    finally:
        receiver.stop()
    assert verify_file(data / "audit.jsonl").ok


async def test_the_endpoint_is_described(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        document = (await h.http.get("/openapi.json")).json()
        extend_path = document["paths"]["/api/v1/events/extend"]["post"]
        schema = extend_path["requestBody"]["content"]["application/json"]["schema"]
        assert schema["required"] == ["run_id", "duration"]
        assert "extension" in document["components"]["schemas"]["Run"]["properties"]
        wrong = await h.call("GET", "/api/v1/events/extend", "reader")
        assert wrong.status_code == 405


EXTEND_HOOKS = """
from sym.sdk.exceptions import SymException
from sym.sdk.templates import ApprovalTemplate


def on_extend(event):
    why = event.payload.fields["extend_reason"]
    if why == "deny":
        return ApprovalTemplate.deny(reason="not during the freeze")
    if why == "approve":
        return ApprovalTemplate.approve(reason="on call")
    if why == "ignore":
        return ApprovalTemplate.ignore(message="ask in #access")
    if why == "raise":
        raise SymException("the pager is down")


def after_extend(event):
    fields = event.payload.fields
    raise SymException(f"after_extend: {event.user.email} +{fields['extend_by']}s")
"""


def hooked_extendable(receiver_url: str) -> str:
    return extendable_config(receiver_url, implementation='implementation = file("impl.py")')


@pytest.fixture
def extend_hooks(tmp_path: Path) -> Path:
    (tmp_path / "impl.py").write_text(EXTEND_HOOKS)
    return tmp_path


async def test_on_extend_may_deny_approve_or_ignore(extend_hooks: Path) -> None:
    async with harness(extend_hooks, config_text=hooked_extendable) as h:
        run_id = await escalated(h)
        before = (await h.run(run_id))["expires_at"]

        ignored = await extend(h, run_id, "1m", reason="ignore")
        assert ignored.status_code == 403
        assert ignored.json()["message"] == "ask in #access"
        assert (await h.run(run_id))["extension"] is None

        denied = (await extend(h, run_id, "1m", reason="deny")).json()
        assert denied["extension"]["status"] == "denied"
        assert denied["extension"]["decided_by"] == {"kind": "hook", "id": "on_extend"}
        assert denied["extension"]["decision_reason"] == "not during the freeze"
        assert denied["expires_at"] == before

        # The hook's approval applies at once, even past the limit without approval.
        approved = (await extend(h, run_id, "1h", reason="approve")).json()
        assert approved["extension"]["status"] == "approved"
        assert approved["extension"]["decided_by"] == {"kind": "hook", "id": "on_extend"}
        assert approved["expires_at"] != before
        # after_extend ran once the expiry moved; event.user is who acted (the hook).
        [error] = approved["errors"]
        assert "after_extend: " in error and "+3600s" in error
        events = (await h.run(run_id))["events"]
        assert [event["name"] for event in events[-3:]] == ["extend_deny", "extend", "hook_error"]
        assert events[-2]["details"]["approval"] == "hook"
        assert events[-2]["details"]["requested_by"] == {"kind": "user", "id": "carol@example.com"}


async def test_a_failing_on_extend_denies_the_extension(extend_hooks: Path) -> None:
    async with harness(extend_hooks, config_text=hooked_extendable) as h:
        run_id = await escalated(h)
        run = (await extend(h, run_id, "1m", reason="raise")).json()
        assert run["status"] == "escalated"
        assert run["extension"]["status"] == "denied"
        assert "the pager is down" in run["extension"]["decision_reason"]
        assert "the pager is down" in run["error"]
        await h.advance(600)
        await h.wait_status(run_id, "deescalated")


async def test_after_extend_runs_as_the_approver(extend_hooks: Path) -> None:
    async with harness(extend_hooks, config_text=hooked_extendable) as h:
        run_id = await escalated(h)
        assert (await extend(h, run_id, "30m")).json()["extension"]["status"] == "pending"
        run = (await h.approve(run_id, as_="bob@example.com")).json()
        assert run["extension"]["status"] == "approved"
        assert any("after_extend: bob@example.com +1800s" in error for error in run["errors"])
