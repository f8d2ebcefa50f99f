"""The tailscale strategy: through the real App against a fake Tailscale, and up close."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from symbox.cli.users import set_identities
from symbox.engine.model import Actor
from symbox.runs.reconcile import Finding
from symbox.strategies.base import AccessLister, IdentityResolver, StrategyError
from symbox.strategies.rest import RestCaller, RetryTiming
from symbox.strategies.tailscale import MAX_EDITS, TailscaleStrategy
from tests.fakes.api_configs import tailscale_config
from tests.fakes.tailscale import POLICY, TAILNET, TAILSCALE_TOKEN, FakeTailscale
from tests.harness import Harness, harness
from tests.strategies.aws_requests import grant

pytestmark = pytest.mark.anyio

CAROL = "carol@example.com"
GROUP = "group:prod-db"
QUICK = RetryTiming(attempts=3, base=0.01, cap=1.0)


@pytest.fixture
def tailscale() -> Iterator[FakeTailscale]:
    """A fake Tailscale whose policy has group:prod-db (holding dana) among other content."""
    with FakeTailscale() as fake:
        yield fake


@asynccontextmanager
async def symbox_on(tmp_path: Path, fake: FakeTailscale) -> AsyncIterator[Harness]:
    """symbox built from config (the real build_strategies path), pointed at the fake."""
    text = tailscale_config(fake.url)
    env = {"TAILSCALE_API_KEY": TAILSCALE_TOKEN}
    async with harness(tmp_path, config_text=lambda _: text, monkeypatch_env=env) as h:
        yield h


class Unset:
    """No identities set."""

    async def identity_of(self, email: str, system: str) -> str | None:
        """Nothing is set."""
        return None


@asynccontextmanager
async def strategy(
    fake: FakeTailscale, token: str = TAILSCALE_TOKEN
) -> AsyncIterator[TailscaleStrategy]:
    """A tailscale strategy on its own HTTP client, with quick retries."""
    async with httpx.AsyncClient(timeout=5) as client:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        rest = RestCaller("Tailscale", fake.url, headers, client, timing=QUICK)
        yield TailscaleStrategy(rest, Unset(), TAILNET)


def without_group(policy: dict[str, Any], group: str) -> dict[str, Any]:
    """The policy with one group's member list left out, for comparing the rest."""
    rest = copy.deepcopy(policy)
    del rest["groups"][group]
    return rest


async def test_membership_is_granted_on_approval_and_removed_on_time(
    tmp_path: Path, tailscale: FakeTailscale
) -> None:
    async with symbox_on(tmp_path, tailscale) as h:
        run_id = await h.request(target="prod-db", duration="10m")
        assert tailscale.members(GROUP) == ["dana@example.com"]
        approved = await h.approve(run_id)
        assert approved.json()["status"] == "escalated", approved.text
        assert approved.json()["grant"]["identity"] == CAROL
        assert tailscale.members(GROUP) == ["dana@example.com", CAROL]
        # Everything but the group's list is as it was, key order included.
        assert without_group(tailscale.policy, GROUP) == without_group(POLICY, GROUP)
        assert list(tailscale.policy) == list(POLICY)

        await h.advance(600)
        await h.wait_status(run_id, "deescalated")
        assert tailscale.policy == POLICY
    writes = tailscale.seen("POST", tailscale.path)
    assert [call.status for call in writes] == [200, 200]
    assert all(call.headers["if-match"].startswith('"') for call in writes)
    assert all(c.headers["authorization"] == f"Bearer {TAILSCALE_TOKEN}" for c in tailscale.calls)


async def test_a_set_login_is_used(tmp_path: Path, tailscale: FakeTailscale) -> None:
    async with symbox_on(tmp_path, tailscale) as h:
        await set_identities(
            h.app.writer,
            CAROL,
            {"tailscale": "carol@github"},
            now=h.clock.now(),
            actor=Actor("operator", "test"),
        )
        run_id = await h.request(target="prod-db", duration="10m")
        assert (await h.approve(run_id)).json()["grant"]["identity"] == "carol@github"
        assert tailscale.members(GROUP) == ["dana@example.com", "carol@github"]
        await h.advance(600)
        await h.wait_status(run_id, "deescalated")
        assert tailscale.members(GROUP) == ["dana@example.com"]


async def test_a_concurrent_edit_is_kept_and_the_write_retried(tailscale: FakeTailscale) -> None:
    def someone_else(policy: dict[str, Any]) -> None:
        policy["groups"]["group:prod-db"].append("gina@example.com")
        policy["tagOwners"]["tag:web"] = ["group:eng"]

    tailscale.before_write.append(someone_else)
    request = grant("tailscale_group", group_name=GROUP)
    async with strategy(tailscale) as ts:
        await ts.escalate(request)
    assert [call.status for call in tailscale.seen("POST", tailscale.path)] == [412, 200]
    assert tailscale.members(GROUP) == ["dana@example.com", "gina@example.com", CAROL]
    assert tailscale.policy["tagOwners"] == {"tag:db": ["group:eng"], "tag:web": ["group:eng"]}


async def test_an_edit_that_keeps_losing_the_race_fails_as_transient(
    tailscale: FakeTailscale,
) -> None:
    def another_edit(policy: dict[str, Any]) -> None:
        policy["groups"]["group:eng"].append(f"u{len(policy['groups']['group:eng'])}@x.io")

    tailscale.before_write.extend([another_edit] * MAX_EDITS)
    request = grant("tailscale_group", group_name=GROUP)
    async with strategy(tailscale) as ts:
        with pytest.raises(StrategyError) as caught:
            await ts.escalate(request)
    assert not caught.value.permanent and not caught.value.reached_target
    assert "kept changing" in str(caught.value) and GROUP in str(caught.value)
    assert CAROL not in tailscale.members(GROUP)
    assert len(tailscale.seen("POST", tailscale.path)) == MAX_EDITS


async def test_grants_and_revokes_are_idempotent(tailscale: FakeTailscale) -> None:
    request = grant("tailscale_group", group_name=GROUP)
    async with strategy(tailscale) as ts:
        assert isinstance(ts, IdentityResolver) and isinstance(ts, AccessLister)
        await ts.escalate(request)
        await ts.escalate(request)
        assert tailscale.members(GROUP) == ["dana@example.com", CAROL]
        # A member listed in another case is the same login.
        await ts.escalate(grant("tailscale_group", "Carol@Example.com", group_name=GROUP))
        assert await ts.holders(request.target) == {"dana@example.com", CAROL}
        await ts.deescalate(request)
        await ts.deescalate(request)
        assert tailscale.members(GROUP) == ["dana@example.com"]
    # Only the changes were written.
    assert len(tailscale.seen("POST", tailscale.path)) == 2
    assert tailscale.policy == POLICY


async def test_throttling_and_server_errors_are_retried(
    tmp_path: Path, tailscale: FakeTailscale
) -> None:
    tailscale.fail("GET", tailscale.path, 429, headers={"Retry-After": "0"})
    tailscale.fail("POST", tailscale.path, 502, body={"message": "bad gateway"})
    tailscale.fail("POST", tailscale.path, 429, headers={"Retry-After": "0"})
    async with symbox_on(tmp_path, tailscale) as h:
        run_id = await h.request(target="prod-db")
        assert (await h.approve(run_id)).json()["status"] == "escalated"
        assert tailscale.members(GROUP) == ["dana@example.com", CAROL]
        revoked = await h.call("POST", "/api/v1/events/deescalate", CAROL, {"run_id": run_id})
        assert revoked.status_code == 200, revoked.text
        await h.wait_status(run_id, "deescalated")
    # Successful reads are left out: reconciliation at start reads the policy too.
    assert [
        (c.method, c.status) for c in tailscale.calls if (c.method, c.status) != ("GET", 200)
    ] == [
        ("GET", 429),
        ("POST", 502),
        ("POST", 429),
        ("POST", 200),
        ("POST", 200),
    ]
    assert tailscale.policy == POLICY


async def test_a_missing_group_errors_the_run_with_its_name(
    tmp_path: Path, tailscale: FakeTailscale
) -> None:
    tailscale.change(lambda policy: policy["groups"].pop(GROUP))
    async with symbox_on(tmp_path, tailscale) as h:
        run_id = await h.request(target="prod-db")
        await h.approve(run_id)
        run = await h.wait_status(run_id, "errored")
    assert "the Tailscale policy file has no group group:prod-db (target prod-db)" in run["error"]
    assert tailscale.seen("POST", tailscale.path) == []
    assert TAILSCALE_TOKEN not in str(run)


async def test_permanent_failures_name_their_cause(tailscale: FakeTailscale) -> None:
    request = grant("tailscale_group", group_name=GROUP)
    async with strategy(tailscale, token="wrong") as ts:
        with pytest.raises(StrategyError) as caught:
            await ts.escalate(request)
    assert caught.value.permanent and not caught.value.reached_target
    assert str(caught.value) == (
        "escalate: Tailscale refused the API token (HTTP 401: API token invalid)"
    )
    tailscale.fail("POST", tailscale.path, 400, body={"message": "test(s) failed"})
    async with strategy(tailscale) as ts:
        with pytest.raises(StrategyError) as caught:
            await ts.escalate(request)
        assert caught.value.permanent
        assert f"answered POST {tailscale.path} with (HTTP 400: test(s) failed)" in str(
            caught.value
        )
        # Still failing after the retries: transient.
        tailscale.fail("GET", tailscale.path, 503, times=3)
        with pytest.raises(StrategyError) as caught:
            await ts.deescalate(request)
        assert not caught.value.permanent
        assert f"Tailscale GET {tailscale.path} failed: HTTP 503" in str(caught.value)
        with pytest.raises(StrategyError) as caught:
            await ts.escalate(grant("okta_group", group_id="00g-admins"))
        assert caught.value.permanent and 'settings.group_name ("group:NAME")' in str(caught.value)
    assert tailscale.policy == POLICY


async def test_reconciliation_removes_a_left_behind_member(
    tmp_path: Path, tailscale: FakeTailscale
) -> None:
    async with symbox_on(tmp_path, tailscale) as h:
        run_id = await h.request(target="prod-db", duration="10m")
        await h.approve(run_id)
        await h.advance(600)
        await h.wait_status(run_id, "deescalated")
        # Put back by hand after the revoke: reconciliation knows whose grant it was.
        tailscale.change(lambda policy: policy["groups"][GROUP].append(CAROL))
        findings = await h.app.reconciler.reconcile()
        # Dana was never granted by symbox: reported when symbox started, and left alone.
        assert findings == [Finding("tailscale", "prod-db", CAROL, "stale_removed", CAROL)]
        assert tailscale.policy == POLICY
        assert await h.app.reconciler.reconcile() == []


async def test_a_bare_group_name_as_sym_writes_it_is_the_policy_files_group(
    tmp_path: Path, tailscale: FakeTailscale
) -> None:
    text = tailscale_config(tailscale.url).replace('"group:prod-db"', '"prod-db"')
    env = {"TAILSCALE_API_KEY": TAILSCALE_TOKEN}
    async with harness(tmp_path, config_text=lambda _: text, monkeypatch_env=env) as h:
        run_id = await h.request(target="prod-db", duration="10m")
        assert (await h.approve(run_id)).json()["status"] == "escalated"
        assert tailscale.members(GROUP) == ["dana@example.com", CAROL]
