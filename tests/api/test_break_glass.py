"""Break-glass through the real server: granted at once by the requester, reviewed after."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from symbox.audit.verify import verify_file
from tests.fakes.configs import access_config
from tests.fakes.smtp import SmtpServer
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.harness import Harness, harness
from tests.notify.test_delivery import ENV, HOOK_SECRET, smtp, webhook

pytestmark = pytest.mark.anyio

REASON = "prod is down, paging did not reach anyone"
GRANTED = {("prod-db", "carol@example.com")}


def glass_config(receiver_url: str, *, implementation: str | None = None) -> str:
    """The access flow (1m, 10m or 1h) with break-glass up to 10m and a 20-character reason."""
    anchor = "strategy_id = sym_strategy.grants.id"
    text = access_config(receiver_url).replace(
        anchor,
        f'{anchor}\n    break_glass {{\n      max_duration = "10m"\n'
        "      reason_min_length = 20\n    }",
        1,
    )
    if implementation is not None:
        text = text.replace('implementation = "# no hooks"', implementation, 1)
    return text


async def break_glass(
    h: Harness,
    as_: str = "carol@example.com",
    reason: str = REASON,
    flow: str = "access",
    **inputs: Any,
) -> httpx.Response:
    """POST a break-glass request as ``as_``."""
    body = {
        "flow": flow,
        "break_glass": True,
        "reason": reason,
        "flow_inputs": {"duration": "10m", "target": "prod-db", **inputs},
    }
    return await h.call("POST", "/api/v1/events/request", as_, body)


async def review(h: Harness, run_id: str, as_: str, **extra: Any) -> httpx.Response:
    """POST /api/v1/events/review as ``as_``."""
    return await h.call("POST", "/api/v1/events/review", as_, {"run_id": run_id, **extra})


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_break_glass_grants_at_once_and_ends_on_time(tmp_path: Path) -> None:
    async with harness(tmp_path, config_text=glass_config) as h:
        response = await break_glass(h)
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "escalated"
        run_id = response.json()["run_id"]
        assert h.receiver.state.granted == GRANTED
        run = await h.run(run_id)
        assert run["break_glass"] is True
        assert run["review"] == {"state": "needs_review", "by": None, "at": None, "reason": None}
        [decision] = run["decisions"]
        assert decision["actor"] == {"kind": "user", "id": "carol@example.com"}
        assert decision["reason"] == REASON
        assert [event["name"] for event in run["events"]] == ["request", "break_glass", "escalate"]
        metrics = (await h.http.get("/metrics")).text
        assert 'symbox_break_glass_total{flow="access"} 1\n' in metrics
        # The timer ends it like any grant.
        await h.advance(600)
        await h.wait_status(run_id, "deescalated")
        assert h.receiver.state.granted == set()
        assert (await h.run(run_id))["review"]["state"] == "needs_review"
    audit = tmp_path / "data" / "audit.jsonl"
    assert verify_file(audit).ok
    [record] = [r for r in audit_lines(audit) if r.get("event", {}).get("type") == "break_glass"]
    assert record["actor"] == {"kind": "user", "id": "carol@example.com"}
    assert record["details"]["reason"] == REASON
    assert record["details"]["break_glass"] is True


async def test_break_glass_refusals_grant_nothing(tmp_path: Path) -> None:
    async with harness(tmp_path, config_text=glass_config) as h:
        short = await break_glass(h, reason="  it is broken  ")
        assert short.status_code == 400
        assert "at least 20 characters (got 12)" in short.json()["message"]
        long = await break_glass(h, duration="1h")
        assert long.status_code == 400
        assert "at most 10m (asked for 1h)" in long.json()["message"]
        # The approval-only flow has no break_glass block.
        other = await break_glass(h, flow="signoff")
        assert other.status_code == 403
        assert "no break_glass block" in other.json()["message"]
        # A bot may request for someone, but may not skip the approval for them.
        body = {
            "flow": "access",
            "user_email": "carol@example.com",
            "break_glass": True,
            "reason": REASON,
            "flow_inputs": {"duration": "10m", "target": "prod-db"},
        }
        bot = await h.call("POST", "/api/v1/events/request", "ci", body)
        assert bot.status_code == 403
        assert "not a bot" in bot.json()["message"]
        wrong = await h.call(
            "POST", "/api/v1/events/request", "carol@example.com", {**body, "break_glass": "yes"}
        )
        assert wrong.status_code == 400
        listed = await h.call("GET", "/api/v1/runs", "reader")
        assert listed.json()["runs"] == []
        assert h.receiver.state.granted == set()
        metrics = (await h.http.get("/metrics")).text
        assert "symbox_break_glass_total" not in metrics


async def test_an_approver_reviews_but_the_requester_may_not(tmp_path: Path) -> None:
    async with harness(tmp_path, config_text=glass_config) as h:
        run_id = (await break_glass(h)).json()["run_id"]
        own = await review(h, run_id, "carol@example.com")
        assert own.status_code == 403
        assert "may not review their own" in own.json()["message"]
        stranger = await review(h, run_id, "mallory@example.com")
        assert stranger.status_code == 404
        done = await review(h, run_id, "alice@example.com", reason="checked the incident")
        assert done.status_code == 200, done.text
        reviewed = done.json()["review"]
        assert reviewed["state"] == "reviewed"
        assert reviewed["by"] == {"kind": "user", "id": "alice@example.com"}
        assert reviewed["reason"] == "checked the incident"
        assert reviewed["at"] is not None
        # The review changes nothing about the grant.
        assert done.json()["status"] == "escalated"
        again = await review(h, run_id, "bob@example.com")
        assert again.status_code == 409
        assert "already reviewed by alice@example.com" in again.json()["message"]
        normal = await h.request()
        assert (await review(h, normal, "alice@example.com")).status_code == 409
    audit = tmp_path / "data" / "audit.jsonl"
    [record] = [r for r in audit_lines(audit) if r.get("event", {}).get("type") == "review"]
    assert record["actor"] == {"kind": "user", "id": "alice@example.com"}


HOOKS = """
from sym.sdk.templates import ApprovalTemplate


def on_break_glass(event):
    why = event.payload.fields["break_glass_reason"]
    if "freeze" in why:
        return ApprovalTemplate.deny(reason="no break-glass during the freeze")
    if "crash" in why:
        raise ValueError("the hook broke")
"""


@pytest.fixture
def glass_hooks(tmp_path: Path) -> Path:
    (tmp_path / "impl.py").write_text(HOOKS)
    return tmp_path


def hooked_config(receiver_url: str) -> str:
    return glass_config(receiver_url, implementation='implementation = file("impl.py")')


async def test_on_break_glass_may_forbid_it(glass_hooks: Path) -> None:
    async with harness(glass_hooks, config_text=hooked_config) as h:
        denied = await break_glass(h, reason="urgent fix during the freeze week")
        assert denied.status_code == 403
        assert denied.json()["message"] == "no break-glass during the freeze"
        # A hook that fails grants nothing either.
        failed = await break_glass(h, reason="the database may crash any minute")
        assert failed.status_code == 403
        assert "on_break_glass failed, so no access was granted" in failed.json()["message"]
        assert "the hook broke" in failed.json()["message"]
        assert h.receiver.state.granted == set()
        assert (await h.call("GET", "/api/v1/runs", "reader")).json()["runs"] == []
        allowed = await break_glass(h)
        assert allowed.status_code == 201, allowed.text
        assert allowed.json()["status"] == "escalated"


async def test_break_glass_reaches_every_webhook_and_email(tmp_path: Path) -> None:
    with WebhookReceiver(HOOK_SECRET) as hook, SmtpServer() as mail:
        integrations = webhook("ops", hook.url + "/ops") + smtp(mail.port)
        notify = "sym_integration.ops.id, sym_integration.mail.id"

        def config(receiver_url: str) -> str:
            return (
                glass_config(receiver_url).replace(
                    'request_ttl = "1h"', f'request_ttl = "1h"\n    notify_ids = [{notify}]', 1
                )
                + integrations
            )

        async with harness(tmp_path, config_text=config, monkeypatch_env=ENV) as h:
            run_id = (await break_glass(h)).json()["run_id"]
            await h.wait_for(lambda: hook.state.accepted() and len(mail.mails()) == 2, "both")
            [post] = hook.state.accepted()
            body = post.body
            assert body["type"] == "symbox.break_glass"
            assert body["event"] == "break_glass"
            assert body["break_glass_reason"] == REASON
            assert body["commands"] == {"review": f"symbox review {run_id}"}
            mails = mail.mails()
            assert sorted(to for item in mails for to in item.rcpt_tos) == [
                "alice@example.com",
                "bob@example.com",
            ]
            message = mails[0].message
            assert message["Subject"] == "BREAK-GLASS: access access taken by carol@example.com"
            plain = message.get_body(("plain",))
            assert plain is not None
            lines = plain.get_content().splitlines()
            assert lines[-2:] == ["To review:", f"  symbox review {run_id}"]
