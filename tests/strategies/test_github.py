"""The github strategy: through the real API against a fake GitHub, usernames set by the CLI."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import anyio
import httpx
import pytest

from symbox.cli.users import IdentityInUse, set_identities, unset_identities
from symbox.engine.model import Actor
from symbox.strategies import github_api
from symbox.strategies.base import StrategyError, Throttled
from symbox.strategies.github import GithubStrategy
from symbox.strategies.rest import RetryTiming
from tests.e2e.process import cli
from tests.fakes.api_configs import github_config
from tests.fakes.github import GITHUB_TOKEN, FakeGithub
from tests.harness import Harness, harness
from tests.strategies.aws_requests import grant

pytestmark = pytest.mark.anyio

CAROL = "carol@example.com"
APP = "acme/app"
OPERATOR = Actor("operator", "test")


@pytest.fixture
def gh() -> Iterator[FakeGithub]:
    """A fake GitHub with two repositories and two users, one in the org."""
    with FakeGithub() as fake:
        fake.add_repo(APP)
        fake.add_repo("acme/infra")
        fake.add_user("octocat")
        fake.add_user("hubot", member=True)
        yield fake


@asynccontextmanager
async def symbox_on(tmp_path: Path, gh: FakeGithub) -> AsyncIterator[Harness]:
    """symbox built from config (the real build_strategies path), pointed at the fake."""
    text = github_config(gh.url)
    async with harness(
        tmp_path, config_text=lambda _: text, monkeypatch_env={"GITHUB_TOKEN": GITHUB_TOKEN}
    ) as h:
        yield h


async def map_user(h: Harness, email: str, username: str) -> None:
    """Set a GitHub username as ``symbox users set`` does."""
    await set_identities(h.app.writer, email, {"github": username}, now=0.0, actor=OPERATOR)


async def test_an_invitation_is_sent_on_approval_and_withdrawn_on_time(
    tmp_path: Path, gh: FakeGithub
) -> None:
    async with symbox_on(tmp_path, gh) as h:
        # The operator maps Carol with the real CLI while symbox runs.
        data = str(tmp_path / "data")
        done = await anyio.to_thread.run_sync(
            partial(cli, "users", "set", CAROL, "--github", "OctoCat", "--data-dir", data)
        )
        assert done.stdout == f"{CAROL}: GitHub username OctoCat (was none)\n"
        run_id = await h.request(target="app-repo", duration="10m")
        approved = await h.approve(run_id)
        assert approved.json()["status"] == "escalated", approved.text
        assert gh.access(APP) == {"octocat": "invited:push"}

        await h.advance(600)
        await h.wait_status(run_id, "deescalated")
        assert gh.access(APP) == {}
    put = gh.seen("PUT", f"/repos/{APP}/collaborators/OctoCat")
    assert [(call.status, call.body) for call in put] == [(201, {"permission": "push"})]
    assert gh.seen("DELETE", f"/repos/{APP}/invitations/1")[0].status == 204
    assert all(call.headers["authorization"] == f"Bearer {GITHUB_TOKEN}" for call in gh.calls)


async def test_an_accepted_invitation_and_an_org_member_are_removed(
    tmp_path: Path, gh: FakeGithub
) -> None:
    async with symbox_on(tmp_path, gh) as h:
        await map_user(h, CAROL, "octocat")
        await map_user(h, "dave@example.com", "hubot")
        carol = await h.request(target="app-repo", duration="1h")
        dave = await h.request(as_="dave@example.com", target="infra", duration="1h")
        await h.approve(carol)
        await h.approve(dave)
        gh.accept(APP, "octocat")
        assert gh.access(APP) == {"octocat": "push"}
        # An org member is added at once (204), with the target's permission.
        assert gh.access("acme/infra") == {"hubot": "maintain"}
        for run_id, who in ((carol, CAROL), (dave, "dave@example.com")):
            ended = await h.call("POST", "/api/v1/events/deescalate", who, {"run_id": run_id})
            assert ended.status_code == 200, ended.text
            await h.wait_status(run_id, "deescalated")
        assert gh.access(APP) == {} and gh.access("acme/infra") == {}


async def test_overlapping_grants_keep_the_collaborator_until_the_last_one_ends(
    tmp_path: Path, gh: FakeGithub
) -> None:
    async with symbox_on(tmp_path, gh) as h:
        await map_user(h, CAROL, "hubot")
        short = await h.request(target="app-repo", duration="10m")
        long = await h.request(target="app-repo", duration="1h")
        await h.approve(short)
        await h.approve(long)
        await h.advance(600)
        await h.wait_status(short, "deescalated")
        assert gh.access(APP) == {"hubot": "push"}
        await h.advance(3000)
        await h.wait_status(long, "deescalated")
        assert gh.access(APP) == {}


async def test_requesters_without_a_github_user_are_refused(tmp_path: Path, gh: FakeGithub) -> None:
    inputs = {"reason": "x", "duration": "10m", "target": "app-repo"}
    body = {"flow": "access", "flow_inputs": inputs}
    async with symbox_on(tmp_path, gh) as h:
        refused = await h.call("POST", "/api/v1/events/request", CAROL, body)
        assert refused.status_code == 400, refused.text
        assert refused.json()["message"] == (
            f"{CAROL} cannot use flow access: no GitHub username is set for {CAROL} (an "
            f"operator sets it with `symbox users set {CAROL} --github USERNAME`)"
        )
        await map_user(h, CAROL, "ghost")
        refused = await h.call("POST", "/api/v1/events/request", CAROL, body)
        assert refused.json()["message"] == (
            f"{CAROL} cannot use flow access: GitHub has no user ghost (the username set "
            f"for {CAROL})"
        )
        assert (await h.call("GET", "/api/v1/runs", "reader")).json()["runs"] == []


async def test_an_identity_in_use_is_not_changed_without_force(
    tmp_path: Path, gh: FakeGithub
) -> None:
    async with symbox_on(tmp_path, gh) as h:
        await map_user(h, CAROL, "octocat")
        run_id = await h.request(target="app-repo", duration="10m")
        await h.approve(run_id)
        with pytest.raises(IdentityInUse, match=f"{CAROL} holds access from run {run_id}"):
            await map_user(h, CAROL, "hubot")
        with pytest.raises(IdentityInUse):
            await unset_identities(h.app.writer, CAROL, ["github"], now=0.0, actor=OPERATOR)
        await h.advance(600)
        await h.wait_status(run_id, "deescalated")
        await map_user(h, CAROL, "hubot")
        changed = await set_identities(
            h.app.writer, CAROL, {"github": "octocat"}, now=0.0, actor=OPERATOR, force=True
        )
        assert [(change.identity, change.previous) for change in changed] == [("octocat", "hubot")]


async def test_rate_limits_are_waited_out_and_failures_name_the_repo(gh: FakeGithub) -> None:
    class Octocat:
        async def identity_of(self, email: str, system: str) -> str | None:
            return "octocat"

    async with httpx.AsyncClient(timeout=5) as client:
        timing = RetryTiming(attempts=3, base=0.01, cap=1.0)
        rest = github_api.rest_caller(gh.url, GITHUB_TOKEN, client, timing)
        strategy = GithubStrategy(rest, Octocat(), "acme")
        reset = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()))}
        gh.fail("PUT", "/repos/", 403, headers=reset, body={"message": "API rate limit exceeded"})
        gh.fail("GET", "/repos/", 502)
        request = grant("github_repo", repo_name="app")
        await strategy.escalate(request)
        await strategy.escalate(request)
        assert gh.access(APP) == {"octocat": "invited:push"}
        await strategy.deescalate(request)
        await strategy.deescalate(request)
        assert gh.access(APP) == {}
        puts = gh.seen("PUT", f"/repos/{APP}/collaborators/octocat")
        listed = gh.seen("GET", f"/repos/{APP}/invitations")
        assert [call.status for call in puts] == [403, 201, 201]
        assert [call.status for call in listed] == [502, 200, 200]

        with pytest.raises(StrategyError) as caught:
            await strategy.escalate(grant("github_repo", repo_name="acme/gone"))
        assert caught.value.permanent
        assert str(caught.value) == (
            "escalate: GitHub has no repository acme/gone that the API token can manage "
            "(target admin)"
        )
        gh.fail("PUT", "/repos/", 403, body={"message": "Must have admin rights to Repository."})
        with pytest.raises(StrategyError) as caught:
            await strategy.escalate(request)
        assert caught.value.permanent and "lacks the permission" in str(caught.value)
        assert "Must have admin rights" in str(caught.value)
    assert all(GITHUB_TOKEN not in str(call.body) for call in gh.calls)


async def test_reconciliation_finds_invitees_and_collaborators_whatever_their_case(
    tmp_path: Path, gh: FakeGithub
) -> None:
    async with symbox_on(tmp_path, gh) as h:
        await map_user(h, CAROL, "OctoCat")
        run_id = await h.request(target="app-repo", duration="10m")
        await h.approve(run_id)
        await h.advance(600)
        await h.wait_status(run_id, "deescalated")
        # Left behind: Carol's collaborator access came back; someone else was added by hand.
        with gh.lock:
            gh.repos[APP].collaborators["octocat"] = "push"
            gh.repos[APP].invitations[99] = ("hubot", "admin")
        findings = await h.app.reconciler.reconcile()
        assert [(f.identity, f.outcome) for f in findings] == [
            ("octocat", "stale_removed"),
            ("hubot", "unmanaged_found"),
        ]
        assert gh.access(APP) == {"hubot": "invited:admin"}


async def test_lists_follow_link_headers_and_never_leave_the_api(gh: FakeGithub) -> None:
    class Nobody:
        async def identity_of(self, email: str, system: str) -> str | None:
            return None

    with gh.lock:
        gh.max_page_size = 2
        gh.repos[APP].collaborators.update({"a1": "push", "b2": "admin", "c3": "pull"})
        gh.repos[APP].invitations.update({7: ("d4", "push"), 8: ("e5", "push"), 9: ("f6", "push")})
    async with httpx.AsyncClient(timeout=5) as client:
        rest = github_api.rest_caller(gh.url, GITHUB_TOKEN, client)
        strategy = GithubStrategy(rest, Nobody(), "acme")
        target = grant("github_repo", repo_name="app").target
        assert await strategy.holders(target) == {"a1", "b2", "c3", "d4", "e5", "f6"}
        # Two pages of each list, the second as the Link header named it.
        listed = [call for call in gh.calls if call.path == f"/repos/{APP}/collaborators"]
        assert [call.query.get("page") for call in listed] == [None, ["2"]]
        assert all(call.query["per_page"] == ["2"] for call in listed[1:])

        # A next page elsewhere would get the token: the list fails instead.
        elsewhere = '<http://127.0.0.2:1/repos/acme/app/collaborators?page=2>; rel="next"'
        gh.fail("GET", f"/repos/{APP}/collaborators", 200, headers={"Link": elsewhere}, body=[])
        with pytest.raises(StrategyError) as caught:
            await strategy.holders(target)
        assert str(caught.value) == (
            f"list: GitHub's next page of /repos/{APP}/collaborators is not under the API's address"
        )


async def test_a_secondary_rate_limit_is_throttling_with_githubs_advised_wait(
    gh: FakeGithub,
) -> None:
    class Octocat:
        async def identity_of(self, email: str, system: str) -> str | None:
            return "octocat"

    async with httpx.AsyncClient(timeout=5) as client:
        timing = RetryTiming(attempts=3, base=0.01, cap=1.0)
        rest = github_api.rest_caller(gh.url, GITHUB_TOKEN, client, timing)
        strategy = GithubStrategy(rest, Octocat(), "acme")
        message = {"message": "You have exceeded a secondary rate limit. Please wait."}
        gh.fail("PUT", "/repos/", 403, body=message)
        with pytest.raises(Throttled) as caught:
            await strategy.escalate(grant("github_repo", repo_name="app"))
        # No header said when: GitHub advises a minute.
        assert caught.value.retry_after == github_api.SECONDARY_LIMIT_WAIT
        gh.fail("PUT", "/repos/", 429, headers={"Retry-After": "7"})
        with pytest.raises(Throttled) as caught:
            await strategy.escalate(grant("github_repo", repo_name="app"))
        assert caught.value.retry_after == 7.0
