"""Sym's public example hooks run unmodified through real workers via HookRunner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from symbox.sandbox.errors import HookCompileError, HookError
from symbox.sandbox.hooks import HookOutcome, HookRunner, NotificationSpec, Permission
from symbox.sandbox.pool import HookPool

pytestmark = pytest.mark.anyio

FILE = "hooks/impl.py"


def make_event(**overrides: Any) -> dict[str, Any]:
    """The plain event dict the host sends, shaped as documented."""
    event: dict[str, Any] = {
        "name": "approve",
        "user": {"email": "alice@x.com", "username": "alice", "role": "member"},
        "payload": {
            "fields": {
                "reason": "fix the outage",
                "duration": 1800,
                "target": {
                    "name": "prod",
                    "label": "Production",
                    "type": "aws_sso_permission_set",
                    "settings": {"account_id": "123"},
                },
            },
            "timestamp": "2024-05-01T12:00:00+00:00",
        },
        "flow": {
            "name": "sso_access",
            "vars": {"approvers": "alice@x.com,bob@x.com", "channel": "#access"},
            "environment": {
                "name": "prod",
                "integrations": {"slack": {"name": "main", "type": "slack", "external_id": "T1"}},
            },
        },
        "run": {
            "id": "run-1",
            "actors": {"request": {"email": "carol@x.com", "username": "carol", "role": "admin"}},
        },
        "context": {"request": {"ip": "10.0.0.1"}},
    }
    event.update(overrides)
    return event


SAFELIST = """\
from sym.sdk.annotations import hook
from sym.sdk.templates import ApprovalTemplate


@hook
def on_approve(event):
    approvers = event.flow.vars["approvers"].split(",")
    if event.user.email not in approvers:
        return ApprovalTemplate.ignore(message="You are not allowed to approve this request.")
"""

AUTO_APPROVE = """\
import sym.sdk.templates
from sym.sdk.annotations import hook


@hook
def on_request(event):
    fields = event.payload.fields
    if fields["duration"] <= 3600 and fields.get("reason"):
        return sym.sdk.templates.ApprovalTemplate.approve(reason="short access")


@hook
def after_request(event):
    return "ignored: after hooks are for side effects"
"""

PERMISSIONS = """\
from sym.sdk.annotations import reducer
from sym.sdk.request_permission import PermissionLevel, RequestPermission


@reducer
def get_permissions(event):
    return RequestPermission(
        webapp_view=PermissionLevel.ADMIN,
        approve_deny=["a@x.com"],
        allow_self_approval=True,
    )
"""

NOTIFICATIONS = """\
from sym.sdk.annotations import reducer
from sym.sdk.notifications import Notification


@reducer
def get_request_notifications(event):
    return [
        Notification(destinations=[event.flow.vars["channel"]]),
        Notification(destinations=["#backup", event.user], timeout=600),
    ]
"""

RAISES = """\
from sym.sdk.annotations import hook
from sym.sdk.exceptions import PagerDutyError, SymException


@hook
def on_request(event):
    try:
        raise PagerDutyError("lookup failed")
    except SymException:
        pass
    raise SymException("no on-call")
"""


@pytest.fixture
async def runner() -> AsyncIterator[HookRunner]:
    async with HookPool(size=1) as pool:
        yield HookRunner(pool, timeout=5)


async def test_approver_safelist(runner: HookRunner) -> None:
    allowed = await runner.run_hook(SAFELIST, FILE, "approve", "on", make_event())
    assert allowed == HookOutcome.CONTINUE
    stranger = make_event(user={"email": "eve@x.com", "username": "eve", "role": "member"})
    ignored = await runner.run_hook(SAFELIST, FILE, "approve", "on", stranger)
    assert ignored == HookOutcome("ignore", "You are not allowed to approve this request.")


async def test_short_request_with_reason_is_auto_approved(runner: HookRunner) -> None:
    outcome = await runner.run_hook(AUTO_APPROVE, FILE, "request", "on", make_event())
    assert outcome == HookOutcome("approve", "short access")
    long = make_event()
    long["payload"]["fields"]["duration"] = 7200
    assert await runner.run_hook(AUTO_APPROVE, FILE, "request", "on", long) == HookOutcome(
        "continue"
    )
    # after_* return values are ignored.
    after = await runner.run_hook(AUTO_APPROVE, FILE, "request", "after", make_event())
    assert after == HookOutcome.CONTINUE


async def test_get_permissions(runner: HookRunner) -> None:
    permission = await runner.reduce_permissions(PERMISSIONS, FILE, make_event())
    assert permission == Permission(
        approve_deny=("a@x.com",), webapp_view="ADMIN", allow_self_approval=True
    )
    assert await runner.reduce_permissions(SAFELIST, FILE, make_event()) is None


async def test_get_request_notifications(runner: HookRunner) -> None:
    specs = await runner.reduce_notifications(NOTIFICATIONS, FILE, make_event())
    assert specs == (
        NotificationSpec(("#access",), None),
        NotificationSpec(("#backup", "alice@x.com"), 600.0),
    )
    assert await runner.reduce_notifications(SAFELIST, FILE, make_event()) is None


async def test_get_approvers_is_one_notification(runner: HookRunner) -> None:
    source = "def get_approvers(event):\n    return event.flow.vars['channel']\n"
    specs = await runner.reduce_notifications(source, FILE, make_event())
    assert specs == (NotificationSpec(("#access",)),)


async def test_sym_exception_becomes_hook_error(runner: HookRunner) -> None:
    with pytest.raises(HookError) as caught:
        await runner.run_hook(RAISES, FILE, "request", "on", make_event())
    assert caught.value.file == FILE
    assert caught.value.line == 11
    assert caught.value.type_name == "SymException"
    assert str(caught.value) == f"{FILE}:11: SymException: no on-call"


async def test_garbage_return_is_an_error(runner: HookRunner) -> None:
    source = "def on_deny(event):\n    return 42\n"
    with pytest.raises(HookError) as caught:
        await runner.run_hook(source, FILE, "deny", "on", make_event())
    message = str(caught.value)
    assert "on_deny returned 42" in message
    assert "ApprovalTemplate" in message
    assert caught.value.line == 1


@pytest.mark.parametrize(
    "body",
    [
        "return {'__sym_template__': 'explode'}",
        "return {'__sym_template__': 'approve', 'message': 3}",
        "return [1]",
    ],
)
async def test_forged_templates_are_errors(runner: HookRunner, body: str) -> None:
    with pytest.raises(HookError, match="expected None or an ApprovalTemplate"):
        await runner.run_hook(f"def on_approve(event):\n    {body}\n", FILE, "approve", "on", {})


async def test_bad_reducer_returns_are_errors(runner: HookRunner) -> None:
    source = "def get_permissions(event):\n    return 'ADMIN'\n"
    with pytest.raises(HookError, match="expected a RequestPermission"):
        await runner.reduce_permissions(source, FILE, make_event())
    source = "def get_request_notifications(event):\n    return ['#chan']\n"
    with pytest.raises(HookError, match="expected a list of Notification"):
        await runner.reduce_notifications(source, FILE, make_event())


async def test_missing_hook_continues(runner: HookRunner) -> None:
    for step in ("prompt", "request_forward", "escalate", "deescalate", "request_expire"):
        for when in ("on", "after"):
            outcome = await runner.run_hook(SAFELIST, FILE, step, when, make_event())
            assert outcome == HookOutcome.CONTINUE


async def test_unknown_step_and_when(runner: HookRunner) -> None:
    with pytest.raises(ValueError, match="unknown step"):
        await runner.run_hook(SAFELIST, FILE, "launch", "on", make_event())
    with pytest.raises(ValueError, match="'on' or 'after'"):
        await runner.run_hook(SAFELIST, FILE, "approve", "before", make_event())


async def test_compile_error_names_file_and_line(runner: HookRunner) -> None:
    with pytest.raises(HookCompileError) as caught:
        await runner.run_hook("def on_request(event):\n    return (\n", FILE, "request", "on", {})
    assert caught.value.file == FILE
    assert caught.value.line is not None


async def test_event_attributes(runner: HookRunner) -> None:
    source = """\
def on_request(event):
    fields = event.payload.fields
    target = fields["target"]
    actor = event.get_actor("request")
    seen = [
        event.name,
        event.user.email,
        event.user.username,
        event.user.role,
        fields["reason"],
        fields.get("missing", "default"),
        "reason" in fields,
        sorted(fields),
        sorted(list(fields.keys())),
        dict(target.settings),
        [target.name, target.label, target.type, target.settings["account_id"]],
        fields["duration"],
        event.payload.timestamp.year,
        event.flow.name,
        event.flow.vars["approvers"],
        event.flow.environment.name,
        event.flow.environment.integrations["slack"].external_id,
        sorted(event.run.actors),
        event.run.actors["request"].email,
        event.run.id,
        actor.email,
        event.get_actor("approve"),
        event.get_context("request")["ip"],
        event.get_context("nothing"),
    ]
    raise ValueError(repr(seen))
"""
    with pytest.raises(HookError) as caught:
        await runner.run_hook(source, FILE, "request", "on", make_event(name="request"))
    expected = [
        "request",
        "alice@x.com",
        "alice",
        "member",
        "fix the outage",
        "default",
        True,
        ["duration", "reason", "target"],
        ["duration", "reason", "target"],
        {"account_id": "123"},
        ["prod", "Production", "aws_sso_permission_set", "123"],
        1800,
        2024,
        "sso_access",
        "alice@x.com,bob@x.com",
        "prod",
        "T1",
        ["request"],
        "carol@x.com",
        "run-1",
        "carol@x.com",
        None,
        "10.0.0.1",
        None,
    ]
    assert caught.value.detail == f"ValueError: {expected!r}"
