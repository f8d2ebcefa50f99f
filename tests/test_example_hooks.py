"""The repository's example config and hooks, run through real sandbox workers."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from symbox.config import load_config
from symbox.engine import runs
from symbox.engine.model import Actor
from symbox.flowhooks.calls import check_implementations, hook_event
from symbox.sandbox.hooks import HookOutcome, HookRunner
from symbox.sandbox.integrations import Integrations, PagerDutyClient
from symbox.sandbox.pool import HookPool
from tests.fakes.clock import FakeClock
from tests.sandbox.fake_services import PAGERDUTY_TOKEN, FakePagerDuty

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent


async def outcome(
    step: str,
    target: str,
    actor: Actor,
    requester: str = "carol@example.com",
    integrations: Integrations | None = None,
) -> HookOutcome:
    config = load_config(ROOT / "config.hcl", environ={"SYMBOX_GRANT_SECRET": "x"})
    assert check_implementations(config) == []
    flow = config.flows["db_access"]
    target_key = {"prod-db": "prod_db", "staging-db": "staging_db"}[target]
    run = runs.open_request(
        run_id="r1",
        flow=flow,
        requester=requester,
        submitted_by=Actor.user(requester),
        channel="api",
        fields={"reason": "incident", "duration": 60, "target": target},
        now=1_800_000_000.0,
    ).run
    event = hook_event(run, flow, config, config.targets[target_key], step, actor, FakeClock())
    async with HookPool(size=1, integrations=integrations) as pool:
        return await HookRunner(pool).run_hook(
            flow.implementation, "hooks/example.py", step, "on", event
        )


async def test_staging_is_pre_approved_and_production_waits() -> None:
    carol = Actor.user("carol@example.com")
    assert await outcome("request", "staging-db", carol) == HookOutcome(
        "approve", "staging access is pre-approved"
    )
    assert await outcome("request", "prod-db", carol) == HookOutcome.CONTINUE


async def test_whoever_is_on_call_in_pagerduty_is_pre_approved() -> None:
    with FakePagerDuty() as fake:
        async with httpx.AsyncClient() as client:
            pagerduty = PagerDutyClient(fake.url, PAGERDUTY_TOKEN, client)
            integrations = Integrations(pagerduty=pagerduty)
            alice = Actor.user("alice@x.com")
            on_call = await outcome("request", "prod-db", alice, "alice@x.com", integrations)
            bob = Actor.user("bob@x.com")
            off_call = await outcome("request", "prod-db", bob, "bob@x.com", integrations)
    assert on_call == HookOutcome("approve", "on call in PagerDuty")
    assert off_call == HookOutcome.CONTINUE


async def test_only_prod_approvers_approve_production() -> None:
    assert await outcome("approve", "prod-db", Actor.user("alice@example.com")) == (
        HookOutcome.CONTINUE
    )
    refused = await outcome("approve", "prod-db", Actor.user("bob@example.com"))
    assert refused == HookOutcome(
        "ignore", "production access needs an approver listed in prod_approvers"
    )
    assert await outcome("approve", "staging-db", Actor.user("bob@example.com")) == (
        HookOutcome.CONTINUE
    )


async def test_a_bot_approving_production_is_checked_as_the_bot() -> None:
    # alice is a prod approver; a bot approving her request is not alice approving it.
    refused = await outcome("approve", "prod-db", Actor.bot("ci"), "alice@example.com")
    assert refused == HookOutcome(
        "ignore", "production access needs an approver listed in prod_approvers"
    )
