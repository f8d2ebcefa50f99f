"""The okta strategy: through the real API against a fake Okta, and its failures up close."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx
import pytest

from symbox.cli.users import set_identities
from symbox.engine.model import Actor
from symbox.strategies.base import StrategyError, Throttled
from symbox.strategies.okta import OktaStrategy
from symbox.strategies.rest import RestCaller, RetryTiming
from tests.fakes.api_configs import okta_config
from tests.fakes.okta import OKTA_TOKEN, FakeOkta
from tests.harness import Harness, harness
from tests.strategies.aws_requests import grant

pytestmark = pytest.mark.anyio

CAROL = "carol@example.com"
GROUP = "00g-admins"
QUICK = RetryTiming(attempts=3, base=0.01, cap=1.0)


@pytest.fixture
def okta() -> Iterator[FakeOkta]:
    """A fake Okta with the admins group."""
    with FakeOkta() as fake:
        fake.add_group(GROUP)
        yield fake


@asynccontextmanager
async def symbox_on(tmp_path: Path, okta: FakeOkta) -> AsyncIterator[Harness]:
    """symbox built from config (the real build_strategies path), pointed at the fake."""
    text = okta_config(okta.url)
    async with harness(
        tmp_path, config_text=lambda _: text, monkeypatch_env={"OKTA_TOKEN": OKTA_TOKEN}
    ) as h:
        yield h


class Unset:
    """No identities set."""

    async def identity_of(self, email: str, system: str) -> str | None:
        """Nothing is set."""
        return None


@asynccontextmanager
async def strategy(okta: FakeOkta, token: str = OKTA_TOKEN) -> AsyncIterator[OktaStrategy]:
    """An okta strategy on its own HTTP client, with quick retries."""
    async with httpx.AsyncClient(timeout=5) as client:
        headers = {"Authorization": f"SSWS {token}", "Accept": "application/json"}
        rest = RestCaller(
            "Okta", okta.url, headers, client, timing=QUICK, reset_headers=("X-Rate-Limit-Reset",)
        )
        yield OktaStrategy(rest, Unset())


async def test_membership_is_granted_on_approval_and_removed_on_time(
    tmp_path: Path, okta: FakeOkta
) -> None:
    user = okta.add_user(CAROL)
    async with symbox_on(tmp_path, okta) as h:
        run_id = await h.request(target="okta-admins", duration="10m")
        assert okta.members(GROUP) == set()
        approved = await h.approve(run_id)
        assert approved.json()["status"] == "escalated", approved.text
        assert okta.members(GROUP) == {user}

        await h.advance(600)
        await h.wait_status(run_id, "deescalated")
        assert okta.members(GROUP) == set()
    put = okta.seen("PUT", f"/api/v1/groups/{GROUP}/users/{user}")
    delete = okta.seen("DELETE", f"/api/v1/groups/{GROUP}/users/{user}")
    assert [call.status for call in put + delete] == [204, 204]
    assert all(call.headers["authorization"] == f"SSWS {OKTA_TOKEN}" for call in okta.calls)
    assert put[0].body is None and okta.seen("GET", f"/api/v1/users/{CAROL}")


async def test_overlapping_grants_keep_membership_until_the_last_one_ends(
    tmp_path: Path, okta: FakeOkta
) -> None:
    user = okta.add_user(CAROL)
    async with symbox_on(tmp_path, okta) as h:
        short = await h.request(target="okta-admins", duration="10m")
        long = await h.request(target="okta-admins", duration="1h")
        await h.approve(short)
        await h.approve(long)
        await h.advance(600)
        await h.wait_status(short, "deescalated")
        assert okta.members(GROUP) == {user}
        await h.advance(3000)
        await h.wait_status(long, "deescalated")
        assert okta.members(GROUP) == set()


async def test_unknown_requesters_are_refused_and_a_set_login_is_used(
    tmp_path: Path, okta: FakeOkta
) -> None:
    other = okta.add_user("d.jones")
    async with symbox_on(tmp_path, okta) as h:
        inputs = {"reason": "x", "duration": "10m", "target": "okta-admins"}
        body = {"flow": "access", "flow_inputs": inputs}
        refused = await h.call("POST", "/api/v1/events/request", "dave@example.com", body)
        assert refused.status_code == 400, refused.text
        assert refused.json()["message"] == (
            "dave@example.com cannot use flow access: no Okta user has the login "
            "dave@example.com (an operator can set another with `symbox users set "
            "dave@example.com --okta LOGIN`)"
        )
        assert (await h.call("GET", "/api/v1/runs", "reader")).json()["runs"] == []

        await set_identities(
            h.app.writer,
            "Dave@Example.com",
            {"okta": "d.jones"},
            now=h.clock.now(),
            actor=Actor("operator", "test"),
        )
        run_id = await h.request(as_="dave@example.com", target="okta-admins")
        await h.approve(run_id)
        assert okta.members(GROUP) == {other}


async def test_throttling_and_server_errors_are_retried(tmp_path: Path, okta: FakeOkta) -> None:
    user = okta.add_user(CAROL)
    okta.fail("PUT", "/api/v1/groups/", 429, headers={"X-Rate-Limit-Reset": str(int(time.time()))})
    okta.fail("PUT", "/api/v1/groups/", 500, body={"errorSummary": "try again"})
    okta.fail("DELETE", "/api/v1/groups/", 429, headers={"Retry-After": "0"})
    async with symbox_on(tmp_path, okta) as h:
        run_id = await h.request(target="okta-admins")
        assert (await h.approve(run_id)).json()["status"] == "escalated"
        assert okta.members(GROUP) == {user}
        revoked = await h.call("POST", "/api/v1/events/deescalate", CAROL, {"run_id": run_id})
        assert revoked.status_code == 200, revoked.text
        await h.wait_status(run_id, "deescalated")
    assert [call.status for call in okta.calls if call.method != "GET"] == [
        429,
        500,
        204,
        429,
        204,
    ]


async def test_a_missing_group_errors_the_run_with_its_name(tmp_path: Path, okta: FakeOkta) -> None:
    okta.add_user(CAROL)
    del okta.groups[GROUP]
    async with symbox_on(tmp_path, okta) as h:
        run_id = await h.request(target="okta-admins")
        await h.approve(run_id)
        run = await h.wait_status(run_id, "errored")
    assert "Okta has no group 00g-admins (target okta-admins)" in run["error"]
    assert OKTA_TOKEN not in str(run)


async def test_grants_and_revokes_are_idempotent(okta: FakeOkta) -> None:
    user = okta.add_user(CAROL)
    request = grant("okta_group", group_id=GROUP)
    async with strategy(okta) as okta_strategy:
        assert await okta_strategy.remote_identity(CAROL) == user
        await okta_strategy.escalate(request)
        await okta_strategy.escalate(request)
        assert okta.members(GROUP) == {user}
        await okta_strategy.deescalate(request)
        await okta_strategy.deescalate(request)
        assert okta.members(GROUP) == set()
        # A user deleted from Okta holds nothing: revoking succeeds without a call.
        del okta.users[CAROL]
        await okta_strategy.deescalate(request)
    assert len(okta.seen("DELETE", f"/api/v1/groups/{GROUP}/users/{user}")) == 2


async def test_permanent_failures_name_their_cause(okta: FakeOkta) -> None:
    okta.add_user(CAROL)
    request = grant("okta_group", group_id=GROUP)
    async with strategy(okta, token="wrong") as okta_strategy:
        with pytest.raises(StrategyError) as caught:
            await okta_strategy.escalate(request)
    assert caught.value.permanent and not caught.value.reached_target
    assert str(caught.value) == (
        "identity lookup: Okta refused the API token (HTTP 401: Invalid token provided)"
    )
    okta.fail("PUT", "/api/v1/groups/", 403, body={"errorSummary": "You do not have permission"})
    async with strategy(okta) as okta_strategy:
        with pytest.raises(StrategyError) as caught:
            await okta_strategy.escalate(request)
        assert caught.value.permanent
        assert "denied PUT /api/v1/groups/00g-admins/users/00u1" in str(caught.value)
        assert "(HTTP 403: You do not have permission)" in str(caught.value)
        # Still failing after the retries: transient, and it may have been applied.
        okta.fail("DELETE", "/api/v1/groups/", 503, times=3)
        with pytest.raises(StrategyError) as caught:
            await okta_strategy.deescalate(request)
        assert not caught.value.permanent and caught.value.reached_target
        assert "Okta DELETE /api/v1/groups/00g-admins/users/00u1 failed: HTTP 503" in str(
            caught.value
        )
        # A server asking to wait longer than the cap is not waited for.
        okta.fail("DELETE", "/api/v1/groups/", 429, headers={"Retry-After": "120"})
        with pytest.raises(StrategyError) as caught:
            await okta_strategy.deescalate(request)
        assert "asked to wait 120 s" in str(caught.value)
    assert all(OKTA_TOKEN not in str(call.body) for call in okta.calls)


async def test_the_revoke_removes_whoever_the_grant_was_made_to(
    tmp_path: Path, okta: FakeOkta
) -> None:
    carol = okta.add_user(CAROL)
    other = okta.add_user("c.smith")
    async with symbox_on(tmp_path, okta) as h:
        run_id = await h.request(target="okta-admins", duration="10m")
        granted = (await h.approve(run_id)).json()
        assert granted["grant"]["identity"] == carol
        assert okta.members(GROUP) == {carol}
        # The operator re-maps Carol while she holds the grant (forced past the guard).
        await set_identities(
            h.app.writer,
            CAROL,
            {"okta": "c.smith"},
            now=h.clock.now(),
            actor=Actor("operator", "test"),
            force=True,
        )
        await h.advance(600)
        await h.wait_status(run_id, "deescalated")
        # The user who was granted is the one removed; the newly mapped one is untouched.
        assert okta.members(GROUP) == set()
        assert other not in okta.members(GROUP)
        okta.groups[GROUP].add(carol)
        # Put back by hand after the revoke: reconciliation knows whose grant it was.
        [finding] = await h.app.reconciler.reconcile()
        assert (finding.identity, finding.outcome) == (carol, "stale_removed")
        assert okta.members(GROUP) == set()


GET_IDENTITY = """
from sym.sdk.exceptions import SymException


def get_identity(event):
    if event.user.email == "dave@example.com":
        raise SymException("dave has no Okta account")
    if event.user.email == "carol@example.com":
        return "c.smith"
    return None
"""


async def test_the_flows_get_identity_reducer_names_the_okta_login(
    tmp_path: Path, okta: FakeOkta
) -> None:
    okta.add_user(CAROL)
    smith = okta.add_user("c.smith")
    bob = okta.add_user("bob@example.com")
    (tmp_path / "impl.py").write_text(GET_IDENTITY)
    text = okta_config(okta.url).replace(
        'implementation = "# no hooks"', 'implementation = file("impl.py")'
    )
    env = {"OKTA_TOKEN": OKTA_TOKEN}
    async with harness(tmp_path, config_text=lambda _: text, monkeypatch_env=env) as h:
        run_id = await h.request(target="okta-admins", duration="10m")
        granted = (await h.approve(run_id)).json()
        assert granted["status"] == "escalated", granted
        # The login the reducer named, resolved to Okta's id for it.
        assert granted["grant"]["identity"] == smith
        assert okta.members(GROUP) == {smith}
        # None: the strategy's own rule (the login is the email).
        bobs = await h.request(as_="bob@example.com", target="okta-admins", duration="10m")
        await h.approve(bobs)
        assert okta.members(GROUP) == {smith, bob}
        inputs = {"reason": "x", "duration": "10m", "target": "okta-admins"}
        body = {"flow": "access", "flow_inputs": inputs}
        refused = await h.call("POST", "/api/v1/events/request", "dave@example.com", body)
        assert refused.status_code == 400
        message = refused.json()["message"]
        assert message.startswith("dave@example.com cannot use flow access: get_identity: ")
        assert "dave has no Okta account" in message
        # The revoke removes the user the grant was made to.
        await h.advance(600)
        await h.wait_status(run_id, "deescalated")
        assert smith not in okta.members(GROUP)


async def remap(h: Harness, login: str) -> None:
    """Re-map Carol's Okta login while she holds access (``symbox users set --force``)."""
    await set_identities(
        h.app.writer,
        CAROL,
        {"okta": login},
        now=h.clock.now(),
        actor=Actor("operator", "test"),
        force=True,
    )


async def revoke(h: Harness, run_id: str) -> None:
    """End a run's access early, as Carol."""
    response = await h.call("POST", "/api/v1/events/deescalate", CAROL, {"run_id": run_id})
    assert response.status_code == 200, response.text


async def test_runs_granting_two_logins_of_one_user_each_revoke_their_own(
    tmp_path: Path, okta: FakeOkta
) -> None:
    carol = okta.add_user(CAROL)
    smith = okta.add_user("c.smith")
    async with symbox_on(tmp_path, okta) as h:
        first = await h.request(target="okta-admins", duration="1h")
        await h.approve(first)
        await remap(h, "c.smith")
        second = await h.request(target="okta-admins", duration="1h")
        assert (await h.approve(second)).json()["grant"]["identity"] == smith
        assert okta.members(GROUP) == {carol, smith}
        # Both runs are Carol's, but they granted different Okta users: neither covers
        # the other, so each revoke removes its own.
        await revoke(h, first)
        ended = await h.wait_status(first, "deescalated")
        assert "covered_by" not in ended["events"][-1]["details"]
        assert okta.members(GROUP) == {smith}
        await revoke(h, second)
        await h.wait_status(second, "deescalated")
        assert okta.members(GROUP) == set()
    for user in (carol, smith):
        [delete] = okta.seen("DELETE", f"/api/v1/groups/{GROUP}/users/{user}")
        assert delete.status == 204


async def test_an_escalation_that_fails_leaves_no_access_it_overlapped(
    tmp_path: Path, okta: FakeOkta
) -> None:
    carol = okta.add_user(CAROL)
    async with symbox_on(tmp_path, okta) as h:
        first = await h.request(target="okta-admins", duration="10m")
        await h.approve(first)
        granted = await h.app.reader.get_run(first)
        assert granted is not None and granted.grant is not None
        key = granted.grant.key
        locks = h.app.service.locks
        # The second grant never reaches Okta's membership (Okta says the group is gone).
        okta.fail("PUT", f"/api/v1/groups/{GROUP}/users/", 404)
        # Holding the grant's lock lines up the first run's expiry, then the escalation of
        # an overlapping second run, behind it in that order.
        async with anyio.create_task_group() as group, locks.hold(key):
            await h.advance(600)
            await h.wait_for(lambda: locks.users(key) == 2, "the expiry to wait")
            second = await h.request(target="okta-admins", duration="1h")
            group.start_soon(h.approve, second)
            await h.wait_for(lambda: locks.users(key) == 3, "the escalation to wait")
        ended = await h.wait_status(first, "deescalated")
        failed = await h.wait_status(second, "errored")
        assert "Okta has no group" in failed["error"]
        # The escalating run covered nothing: the first run's expiry removed Carol.
        assert "covered_by" not in ended["events"][-1]["details"]
        assert okta.members(GROUP) == set()
    assert len(okta.seen("DELETE", f"/api/v1/groups/{GROUP}/users/{carol}")) == 1


async def test_throttling_past_the_retries_is_a_throttled_error_with_the_wait(
    okta: FakeOkta,
) -> None:
    okta.add_user(CAROL)
    request = grant("okta_group", group_id=GROUP)
    reset = str(int(time.time()) + 90)
    okta.fail("PUT", "/api/v1/groups/", 429, headers={"X-Rate-Limit-Reset": reset})
    async with strategy(okta) as okta_strategy:
        with pytest.raises(Throttled) as caught:
            await okta_strategy.escalate(request)
    # Okta's reset time, not the strategy's own backoff: the whole strategy waits for it.
    assert caught.value.retry_after is not None and 80 < caught.value.retry_after <= 90
    assert not caught.value.permanent
    assert "asked to wait" in str(caught.value)
