"""Integration calls from hooks: worker to host to fake PagerDuty/Okta servers, over real HTTP."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from symbox.sandbox.errors import HookCompileError, HookError, HookFailure, HookTimeout
from symbox.sandbox.hooks import HookOutcome, HookRunner
from symbox.sandbox.integrations import Integrations, OktaClient, PagerDutyClient
from symbox.sandbox.pool import HookPool
from tests.sandbox.fake_services import (
    OKTA_TOKEN,
    PAGERDUTY_TOKEN,
    FakeOkta,
    FakePagerDuty,
)

pytestmark = pytest.mark.anyio

FILE = "hooks/impl.py"
TOKENS = (PAGERDUTY_TOKEN, OKTA_TOKEN)

# Sym's public example: auto-approve on-call requesters.
ON_CALL = """\
from sym.sdk.annotations import hook
from sym.sdk.integrations import pagerduty
from sym.sdk.templates import ApprovalTemplate


@hook
def on_request(event):
    if pagerduty.is_on_call(event.user):
        return ApprovalTemplate.approve(reason="Auto-approved On-call engineer!")
"""

ON_CALL_SCHEDULE = """\
from sym.sdk.integrations import pagerduty
from sym.sdk.templates import ApprovalTemplate


def on_request(event):
    if pagerduty.is_on_call(event.user, schedule_name=event.flow.vars["schedule"]):
        return ApprovalTemplate.approve(reason="on call")


def on_call_list(event):
    return [user.email for user in pagerduty.users_on_call(schedule_name="Secondary")]


def everyone_on_call(event):
    return sorted(user.email for user in pagerduty.users_on_call())
"""

OKTA_APPROVERS = """\
from sym.sdk.integrations import okta
from sym.sdk.templates import ApprovalTemplate


def on_approve(event):
    if not okta.is_user_in_group(event.user, group_name="Admins"):
        return ApprovalTemplate.ignore(message="Only Admins may approve.")


def members(event):
    return [user.email for user in okta.users_in_group("Everyone")]


def missing_group(event):
    return okta.users_in_group("Nobody")
"""

FAILING = """\
from sym.sdk.exceptions import PagerDutyError, SymException
from sym.sdk.integrations import pagerduty
from sym.sdk.templates import ApprovalTemplate


def on_request(event):
    try:
        pagerduty.is_on_call(event.user)
    except PagerDutyError as error:
        return ApprovalTemplate.deny(reason="PagerDuty is down: " + str(error))


def uncaught(event):
    return pagerduty.is_on_call("alice@x.com")


def flood(event):
    failures = []
    for index in range(60):
        try:
            pagerduty.is_on_call("bob@x.com")
        except SymException as error:
            failures.append([index, str(error)])
    return failures
"""


def event_for(email: str, **vars: str) -> dict[str, Any]:
    """A plain event dict as the host sends it."""
    return {
        "name": "request",
        "user": {"email": email, "username": email.split("@")[0], "role": "member"},
        "flow": {"name": "access", "vars": dict(vars)},
    }


@pytest.fixture
def fake_pagerduty() -> Iterator[FakePagerDuty]:
    with FakePagerDuty() as fake:
        yield fake


@pytest.fixture
def fake_okta() -> Iterator[FakeOkta]:
    with FakeOkta() as fake:
        yield fake


@pytest.fixture
async def pool(fake_pagerduty: FakePagerDuty, fake_okta: FakeOkta) -> AsyncIterator[HookPool]:
    async with httpx.AsyncClient(trust_env=False, timeout=5.0) as client:
        provider = Integrations(
            pagerduty=PagerDutyClient(fake_pagerduty.url, PAGERDUTY_TOKEN, client),
            okta=OktaClient(fake_okta.url, OKTA_TOKEN, client),
        )
        async with HookPool(size=1, default_timeout=3.0, integrations=provider) as running:
            yield running


@pytest.fixture
def runner(pool: HookPool) -> HookRunner:
    return HookRunner(pool)


async def test_on_call_requester_is_auto_approved(
    runner: HookRunner, fake_pagerduty: FakePagerDuty
) -> None:
    approved = await runner.run_hook(ON_CALL, FILE, "request", "on", event_for("alice@x.com"))
    assert approved == HookOutcome("approve", "Auto-approved On-call engineer!")
    not_on_call = await runner.run_hook(ON_CALL, FILE, "request", "on", event_for("bob@x.com"))
    assert not_on_call == HookOutcome.CONTINUE
    unknown = await runner.run_hook(ON_CALL, FILE, "request", "on", event_for("zed@x.com"))
    assert unknown == HookOutcome.CONTINUE
    seen = fake_pagerduty.state.requests
    assert {request.authorization for request in seen} == {f"Token token={PAGERDUTY_TOKEN}"}
    assert seen[0].path == "/users" and seen[0].query == {"query": ["alice@x.com"]}
    assert seen[1].path == "/oncalls" and seen[1].query["user_ids[]"] == ["PU1"]


async def test_on_call_in_a_named_schedule(
    runner: HookRunner, pool: HookPool, fake_pagerduty: FakePagerDuty
) -> None:
    primary = event_for("alice@x.com", schedule="Primary")
    secondary = event_for("alice@x.com", schedule="Secondary")
    approve = HookOutcome("approve", "on call")
    assert await runner.run_hook(ON_CALL_SCHEDULE, FILE, "request", "on", primary) == approve
    assert await runner.run_hook(ON_CALL_SCHEDULE, FILE, "request", "on", secondary) == (
        HookOutcome.CONTINUE
    )
    oncalls = [r for r in fake_pagerduty.state.requests if r.path == "/oncalls"]
    assert [r.query["schedule_ids[]"] for r in oncalls] == [["PS1"], ["PS2"]]
    listed = await pool.call(ON_CALL_SCHEDULE, FILE, "on_call_list", [primary], wrap_event=True)
    assert listed == ["carol@x.com"]
    everyone = await pool.call(
        ON_CALL_SCHEDULE, FILE, "everyone_on_call", [primary], wrap_event=True
    )
    assert everyone == ["alice@x.com", "carol@x.com"]
    unknown = event_for("alice@x.com", schedule="Tertiary")
    with pytest.raises(HookError, match=r"impl.py:6: PagerDutyError: no PagerDuty schedule"):
        await runner.run_hook(ON_CALL_SCHEDULE, FILE, "request", "on", unknown)


async def test_okta_group_check_ignores_non_members(
    runner: HookRunner, pool: HookPool, fake_okta: FakeOkta
) -> None:
    admin = event_for("alice@x.com")
    assert await runner.run_hook(OKTA_APPROVERS, FILE, "approve", "on", admin) == (
        HookOutcome.CONTINUE
    )
    for outsider in ("bob@x.com", "nobody@x.com"):
        outcome = await runner.run_hook(OKTA_APPROVERS, FILE, "approve", "on", event_for(outsider))
        assert outcome == HookOutcome("ignore", "Only Admins may approve.")
    members = await pool.call(OKTA_APPROVERS, FILE, "members", [admin], wrap_event=True)
    assert members == ["alice@x.com", "bob@x.com"]  # two pages, via Link: rel="next"
    assert {r.authorization for r in fake_okta.state.requests} == {f"SSWS {OKTA_TOKEN}"}
    assert fake_okta.state.requests[0].path == "/api/v1/users/alice@x.com"
    with pytest.raises(HookError, match=r"impl.py:15: OktaError: no Okta group is named 'Nobody'"):
        await pool.call(OKTA_APPROVERS, FILE, "missing_group", [admin], wrap_event=True)


async def test_server_errors_surface_as_pagerduty_error(
    runner: HookRunner, pool: HookPool, fake_pagerduty: FakePagerDuty
) -> None:
    fake_pagerduty.state.fail_with = 500
    outcome = await runner.run_hook(FAILING, FILE, "request", "on", event_for("alice@x.com"))
    assert outcome == HookOutcome(
        "deny", "PagerDuty is down: PagerDuty GET /users returned HTTP 500"
    )
    with pytest.raises(HookError) as caught:
        await pool.call(FAILING, FILE, "uncaught", [event_for("a@x")], wrap_event=True)
    assert str(caught.value) == (
        "hooks/impl.py:14: PagerDutyError: PagerDuty GET /users returned HTTP 500"
    )


async def test_a_wrong_token_is_reported_without_the_token(fake_pagerduty: FakePagerDuty) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        provider = Integrations(pagerduty=PagerDutyClient(fake_pagerduty.url, "wrong-key", client))
        async with HookPool(size=1, integrations=provider) as wrong:
            with pytest.raises(HookError) as caught:
                await wrong.call(FAILING, FILE, "uncaught", [event_for("a@x")], wrap_event=True)
    assert "returned HTTP 401" in str(caught.value)
    assert "wrong-key" not in str(caught.value)


async def test_unreachable_server_is_a_pagerduty_error() -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        dead = PagerDutyClient("http://127.0.0.1:9", PAGERDUTY_TOKEN, client)
        async with HookPool(size=1, integrations=Integrations(pagerduty=dead)) as pool:
            with pytest.raises(HookError) as caught:
                await pool.call(FAILING, FILE, "uncaught", [event_for("a@x")], wrap_event=True)
    assert "PagerDutyError: PagerDuty request GET /users failed: ConnectError" in str(caught.value)
    assert PAGERDUTY_TOKEN not in str(caught.value)


LEAKS: list[tuple[str, type[HookFailure], str]] = [
    ("return pagerduty.__dict__", HookCompileError, "__dict__"),
    ("return pagerduty._channel", HookCompileError, "_channel"),
    ("return getattr(pagerduty, '_channel')", HookError, "_channel"),
    ("return getattr(okta, '_' + 'channel')", HookError, "_channel"),
    ("return pagerduty.is_on_call.__self__", HookCompileError, "__self__"),
    ("return getattr(pagerduty.is_on_call, '__globals__')", HookError, "__globals__"),
    ("return pagerduty.__class__", HookCompileError, "__class__"),
    ("return vars(pagerduty)", HookError, "vars"),
    ("pagerduty.token = 1", HookError, "read-only"),
    ("return pagerduty.token", HookError, "token"),
    (
        "class S(str):\n        pass\n    return pagerduty.is_on_call(S('a@x'))",
        HookError,
        "SymException: expected a user or an email, got S",
    ),
    ("return okta.users_in_group(['Admins'])", HookError, "group_name must be a str, got list"),
]


@pytest.mark.parametrize(("body", "error", "text"), LEAKS)
async def test_hooks_cannot_reach_the_credentials(
    pool: HookPool, body: str, error: type[HookFailure], text: str
) -> None:
    source = f"from sym.sdk.integrations import okta, pagerduty\n\n\ndef hook():\n    {body}\n"
    with pytest.raises(error) as caught:
        await pool.call(source, FILE, "hook")
    assert text in str(caught.value)
    assert not any(token in str(caught.value) for token in TOKENS)


async def test_facade_reprs_show_no_secrets(pool: HookPool) -> None:
    source = (
        "from sym.sdk.integrations import okta, pagerduty\n\n\n"
        "def hook():\n    return [str(pagerduty), repr(okta), str(pagerduty.is_on_call)]\n"
    )
    shown = await pool.call(source, FILE, "hook")
    assert shown[:2] == ["<sym.sdk.integrations.pagerduty>", "<sym.sdk.integrations.okta>"]
    assert not any(token in text for text in shown for token in TOKENS)


async def test_the_worker_process_never_holds_the_tokens(pool: HookPool) -> None:
    await pool.call(ON_CALL, FILE, "on_request", [event_for("alice@x.com")], wrap_event=True)
    for pid in pool.pids:
        proc = Path(f"/proc/{pid}")
        for name in ("cmdline", "environ"):
            content = (proc / name).read_bytes()
            assert not any(token.encode() in content for token in TOKENS)


async def test_integration_calls_are_bounded_per_hook_call(
    pool: HookPool, fake_pagerduty: FakePagerDuty
) -> None:
    failures = await pool.call(FAILING, FILE, "flood", [event_for("a@x")], wrap_event=True)
    assert [index for index, _ in failures] == list(range(50, 60))
    assert failures[0][1] == "too many integration calls: a hook call may make at most 50"
    assert len(fake_pagerduty.state.requests) == 100  # 50 calls, two requests each
    # The budget is per call: the next call starts afresh.
    again = await pool.call(
        ON_CALL, FILE, "on_request", [event_for("alice@x.com")], wrap_event=True
    )
    assert again is not None


async def test_hook_timeout_covers_integration_round_trips(
    pool: HookPool, fake_pagerduty: FakePagerDuty
) -> None:
    fake_pagerduty.state.delay = 5.0
    with pytest.raises(HookTimeout, match=r"on_request ran longer than 0\.3 s"):
        await pool.call(
            ON_CALL, FILE, "on_request", [event_for("alice@x.com")], 0.3, wrap_event=True
        )
    fake_pagerduty.state.delay = 0.0
    approved = await pool.call(
        ON_CALL, FILE, "on_request", [event_for("alice@x.com")], wrap_event=True
    )
    assert approved["message"] == "Auto-approved On-call engineer!"


async def test_without_a_provider_calls_fail_clearly() -> None:
    async with HookPool(size=1) as bare:
        runner = HookRunner(bare)
        with pytest.raises(HookError) as caught:
            await runner.run_hook(ON_CALL, FILE, "request", "on", event_for("alice@x.com"))
        assert str(caught.value) == (
            "hooks/impl.py:8: PagerDutyError: no pagerduty integration is configured"
        )
        okta_hook = OKTA_APPROVERS
        with pytest.raises(HookError, match="OktaError: no okta integration is configured"):
            await runner.run_hook(okta_hook, FILE, "approve", "on", event_for("alice@x.com"))


# A worker that skips the SDK's own count and sends 60 calls straight down the pipe.
ROGUE_WORKER = """\
import pickle
from symbox.sandbox.worker import READY, read_frame, write_frame
write_frame(1, READY)
call_id = pickle.loads(read_frame(0))["call_id"]
call = {"integration": "pagerduty", "method": "users_on_call", "args": {}}
refused = []
for _ in range(60):
    write_frame(1, pickle.dumps({"integration_call": call, "call_id": call_id}))
    refused.append("error" in pickle.loads(read_frame(0)))
write_frame(1, pickle.dumps({"ok": True, "value": refused, "call_id": call_id}))
read_frame(0)
"""


class CountingProvider:
    """An IntegrationProvider that answers every call with no users and counts them."""

    def __init__(self) -> None:
        self.calls = 0

    async def call(self, integration: str, method: str, args: dict[str, Any]) -> Any:
        """Count the call; nobody is on call."""
        self.calls += 1
        return []


async def test_the_host_enforces_the_bound_even_for_a_rogue_worker() -> None:
    provider = CountingProvider()
    command = [sys.executable, "-c", ROGUE_WORKER]
    async with HookPool(size=1, command=command, integrations=provider) as rogue:
        refused = await rogue.call("", FILE, "anything")
    assert refused == [False] * 50 + [True] * 10
    assert provider.calls == 50
