"""Which notifications a committed change queues: decided by the config and the run alone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from symbox.config import load_config
from symbox.config.model import Config
from symbox.engine.model import Actor, Run, RunEvent, RunStatus
from symbox.notify.plan import NotificationPlan, channel_of
from tests.fakes.configs import access_config, write_config
from tests.notify.test_delivery import ENV, smtp, webhook

RUN = Run(
    id="r1",
    flow="access",
    requester="carol@example.com",
    submitted_by=Actor.user("carol@example.com"),
    channel="api",
    fields={"reason": "x", "duration": 60, "target": "prod-db"},
    strategy="grants",
    target="prod-db",
    status=RunStatus.REQUESTED,
    created_at=1.0,
    request_expires_at=3601.0,
)


def event(name: str, status: RunStatus = RunStatus.REQUESTED) -> RunEvent:
    return RunEvent("e1", "r1", name, Actor.user("carol@example.com"), 1.0, "api", status)


def config(tmp_path: Path, notify: str) -> Config:
    text = access_config(
        "http://127.0.0.1:1/grants",
        extra=webhook("ops", "https://hooks.example.com/ops") + smtp(2525),
    ).replace('request_ttl = "1h"', f'request_ttl = "1h"\n    notify_ids = [{notify}]', 1)
    return load_config(write_config(tmp_path, text), {"SYMBOX_GRANT_SECRET": "s", **ENV})


def test_destinations_for_other_channels_are_recognised() -> None:
    assert channel_of("webhook:ops") == ("webhook", "ops")
    assert channel_of("email:dana@example.com") == ("email", "dana@example.com")
    assert channel_of("#ops") is None
    assert channel_of({"type": "slack_channel", "channel": "#ops"}) is None


def test_a_request_goes_to_the_flow_webhooks_and_emails_its_approvers(tmp_path: Path) -> None:
    plan = NotificationPlan(
        config(tmp_path, "sym_integration.ops.id, sym_integration.mail.id"), slack="slack"
    )
    queued = plan(RUN, [event("request")])
    assert [(item.kind, item.integration, item.recipient) for item in queued] == [
        ("slack", "slack", "alice@example.com"),
        ("slack", "slack", "bob@example.com"),
        # Then the event itself, for Slack's DM to the requester.
        ("slack", "slack", ""),
        ("webhook", "ops", ""),
        ("email", "mail", "alice@example.com"),
        ("email", "mail", "bob@example.com"),
    ]
    assert queued[2].message["action"] == "tell" and queued[2].message["event"] == "request"
    webhook_message = queued[3].message
    assert webhook_message["run_id"] == "r1"
    assert webhook_message["target_label"] == "prod-db"
    assert "target" not in webhook_message["fields"]
    # Other steps are only Slack's to tell, and steps it does not tell queue nothing.
    (told,) = plan(RUN, [event("approve")])
    assert (told.kind, told.message["event"]) == ("slack", "approve")
    assert plan(RUN, [event("deescalate_requested")]) == []


def test_a_request_decided_at_once_only_shows_in_slack(tmp_path: Path) -> None:
    plan = NotificationPlan(config(tmp_path, "sym_integration.ops.id"), slack="slack")
    approved = replace(RUN, status=RunStatus.APPROVED)
    queued = plan(approved, [event("request"), event("approve", RunStatus.APPROVED)])
    assert {item.kind for item in queued} == {"slack"}
    assert [item.message["action"] for item in queued] == ["post", "post", "tell", "tell"]


def test_a_forward_goes_to_the_next_notification_only(tmp_path: Path) -> None:
    plan = NotificationPlan(config(tmp_path, "sym_integration.ops.id"))
    routed = replace(
        RUN,
        notifications=(
            {"destinations": ["webhook:ops"], "timeout": 60},
            {"destinations": ["email:dana@example.com", "webhook:nowhere", "email:not-an-address"]},
        ),
        notified=1,
    )
    queued = plan(routed, [event("request_forward")])
    # The flow-level webhook is told at the request only; an unknown webhook is skipped,
    # and "email:" uses the config's only smtp integration.
    assert [(item.kind, item.integration, item.recipient) for item in queued] == [
        ("email", "mail", "dana@example.com")
    ]
