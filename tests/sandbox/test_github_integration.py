"""`github.get_repo_collaborators` in hooks: worker, host, a fake GitHub, users from SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from symbox.cli.users import set_identities
from symbox.engine.model import Actor
from symbox.sandbox.errors import HookError
from symbox.sandbox.integrations import GithubClient, Integrations
from symbox.sandbox.pool import HookPool
from symbox.store.handle import StoreHandle, open_store
from symbox.strategies.github_api import rest_caller
from symbox.strategies.rest import RetryTiming
from tests.fakes.github import GITHUB_TOKEN, FakeGithub

pytestmark = pytest.mark.anyio

FILE = "hooks/impl.py"
API = "acme/api"
FAST = RetryTiming(attempts=2, base=0.01, cap=0.5)
# Who symbox knows on GitHub (as `symbox users set EMAIL --github LOGIN` stores it).
USERS = {
    "alice@x.com": "alice",
    "bob@x.com": "bob",
    "carol@x.com": "carol",
    "dave@x.com": "dave",
    "octo@x.com": "OctoCat",
    "lead@x.com": "Team-Lead",
    "zed@x.com": "zed",
}

HOOKS = """\
from sym.sdk.exceptions import GitHubError
from sym.sdk.integrations import github


def collaborators(event):
    roles = set(event.flow.vars["roles"].split(","))
    users = github.get_repo_collaborators(repo_name=event.flow.vars["repo"], roles=roles)
    return [[user.email, user.username] for user in users]


def caught(event):
    try:
        return github.get_repo_collaborators(repo_name=event.flow.vars["repo"], roles={"admin"})
    except GitHubError as error:
        return "GitHubError: " + str(error)


def uncaught(event):
    return github.get_repo_collaborators(repo_name=event.flow.vars["repo"], roles=["admin"])
"""


def event_for(repo: str = "api", roles: str = "admin") -> dict[str, Any]:
    """An event whose flow vars name the repository and the roles to ask for."""
    return {
        "name": "approve",
        "user": {"email": "carol@x.com", "username": "carol", "role": "member"},
        "flow": {"name": "access", "vars": {"repo": repo, "roles": roles}},
    }


@dataclass
class GithubHooks:
    """A worker pool whose github calls reach the fake, the store and the client behind it."""

    pool: HookPool
    gh: FakeGithub
    store: StoreHandle
    client: httpx.AsyncClient

    async def call(self, function: str, event: dict[str, Any], **options: Any) -> Any:
        """Run ``function`` of HOOKS with ``event``."""
        return await self.pool.call(HOOKS, FILE, function, [event], wrap_event=True, **options)

    def provider(
        self, *, url: str | None = None, token: str = GITHUB_TOKEN, owner: str | None = "acme"
    ) -> Integrations:
        """Integrations with a github client like the pool's, but for the changes given."""
        rest = rest_caller(url or self.gh.url, token, self.client, FAST)
        return Integrations(github=GithubClient(rest, owner, self.store.reader))


@pytest.fixture
def gh() -> Iterator[FakeGithub]:
    """acme/api with one collaborator per role, an unmapped admin and a team's admin."""
    with FakeGithub() as fake:
        repo = fake.add_repo(API)
        repo.collaborators.update(
            {
                "alice": "admin",
                "bob": "push",
                "carol": "maintain",
                "dave": "pull",
                "erin": "triage",
                "octocat": "push",
                "stranger": "admin",
            }
        )
        repo.inherited["team-lead"] = "admin"
        yield fake


@pytest.fixture
async def hooks(tmp_path: Path, gh: FakeGithub) -> AsyncIterator[GithubHooks]:
    async with open_store(tmp_path / "symbox.db") as store:
        for email, login in USERS.items():
            operator = Actor("operator", "test")
            await set_identities(store.writer, email, {"github": login}, now=0.0, actor=operator)
        async with httpx.AsyncClient(trust_env=False, timeout=5.0) as client:
            rest = rest_caller(gh.url, GITHUB_TOKEN, client, FAST)
            provider = Integrations(github=GithubClient(rest, "acme", store.reader))
            async with HookPool(size=1, default_timeout=5.0, integrations=provider) as pool:
                yield GithubHooks(pool, gh, store, client)


async def test_only_collaborators_with_one_of_the_roles_are_returned(hooks: GithubHooks) -> None:
    # GitHub gives each collaborator one role: an admin is not a "write" collaborator.
    writers = await hooks.call("collaborators", event_for(roles="write"))
    assert writers == [["bob@x.com", "bob@x.com"], ["octo@x.com", "octo@x.com"]]
    admins = await hooks.call("collaborators", event_for(roles="admin,maintain"))
    # Team-Lead holds admin through a team: affiliation=all lists them too.
    assert admins == [
        ["alice@x.com", "alice@x.com"],
        ["carol@x.com", "carol@x.com"],
        ["lead@x.com", "lead@x.com"],
    ]
    readers = await hooks.call("collaborators", event_for(roles="read,triage"))
    assert readers == [["dave@x.com", "dave@x.com"]]
    assert await hooks.call("collaborators", event_for(roles="Admin")) == admins[:1] + admins[2:]
    listed = hooks.gh.seen("GET", f"/repos/{API}/collaborators")
    assert {call.query["affiliation"][0] for call in listed} == {"all"}
    assert {call.query["per_page"][0] for call in listed} == {"100"}
    assert {call.headers["authorization"] for call in listed} == {f"Bearer {GITHUB_TOKEN}"}


async def test_unmapped_collaborators_are_left_out_and_logins_match_whatever_their_case(
    hooks: GithubHooks,
) -> None:
    admins = await hooks.call("collaborators", event_for(roles="admin"))
    # "stranger" is an admin no symbox user is; zed is a symbox user but no collaborator.
    assert [email for email, _ in admins] == ["alice@x.com", "lead@x.com"]
    # Stored as OctoCat and Team-Lead; GitHub lists them as octocat and team-lead.
    writers = await hooks.call("collaborators", event_for(roles="write"))
    assert "octo@x.com" in [email for email, _ in writers]
    # A mapping changed with `symbox users` counts at the next call, without a restart.
    operator = Actor("operator", "test")
    await set_identities(
        hooks.store.writer, "sam@x.com", {"github": "Stranger"}, now=1.0, actor=operator
    )
    again = await hooks.call("collaborators", event_for(roles="admin"))
    assert [email for email, _ in again] == ["alice@x.com", "lead@x.com", "sam@x.com"]


async def test_collaborators_are_gathered_across_pages(hooks: GithubHooks) -> None:
    with hooks.gh.lock:
        hooks.gh.max_page_size = 3
    admins = await hooks.call("collaborators", event_for(roles="admin,write"))
    assert [email for email, _ in admins] == [
        "alice@x.com",
        "bob@x.com",
        "lead@x.com",
        "octo@x.com",
    ]
    # Eight collaborators, three a page: three pages, each after the Link header's lead.
    listed = hooks.gh.seen("GET", f"/repos/{API}/collaborators")
    assert [call.query.get("page") for call in listed] == [None, ["2"], ["3"]]


async def test_a_missing_repository_is_a_github_error_the_hook_can_catch(
    hooks: GithubHooks,
) -> None:
    message = await hooks.call("caught", event_for(repo="gone"))
    assert (
        message == "GitHubError: GitHub has no repository acme/gone, or the API token cannot see it"
    )
    with pytest.raises(HookError) as raised:
        await hooks.call("uncaught", event_for(repo="gone"))
    assert str(raised.value) == (
        "hooks/impl.py:19: GitHubError: GitHub has no repository acme/gone, or the API token "
        "cannot see it"
    )


async def test_api_failures_are_github_errors_that_never_show_the_token(
    hooks: GithubHooks,
) -> None:
    messages: list[str] = []
    wrong = hooks.provider(token="ghp_wrong0123456789")
    messages.append(await hooks.call("caught", event_for(), integrations=wrong))
    hooks.gh.fail(
        "GET", f"/repos/{API}/collaborators", 403, body={"message": "Must have push access"}
    )
    messages.append(await hooks.call("caught", event_for()))
    hooks.gh.fail("GET", f"/repos/{API}/collaborators", 502, times=2)
    messages.append(await hooks.call("caught", event_for()))
    assert messages == [
        "GitHubError: get_repo_collaborators: GitHub refused the API token (HTTP 401: Bad "
        "credentials)",
        f"GitHubError: get_repo_collaborators: GitHub denied GET /repos/{API}/collaborators: the "
        "API token lacks the permission (HTTP 403: Must have push access)",
        f"GitHubError: get_repo_collaborators: GitHub GET /repos/{API}/collaborators failed: "
        "HTTP 502",
    ]
    # One 502 is ridden out by a retry.
    hooks.gh.fail("GET", f"/repos/{API}/collaborators", 502)
    admins = await hooks.call("collaborators", event_for())
    assert admins == [["alice@x.com", "alice@x.com"], ["lead@x.com", "lead@x.com"]]
    dead = hooks.provider(url="http://127.0.0.1:9")
    messages.append(await hooks.call("caught", event_for(), integrations=dead))
    assert messages[-1] == (
        f"GitHubError: get_repo_collaborators: GitHub GET /repos/{API}/collaborators failed: "
        "ConnectError"
    )
    assert not any(GITHUB_TOKEN in text or "ghp_wrong" in text for text in messages)


async def test_without_a_github_integration_calls_are_github_errors(hooks: GithubHooks) -> None:
    unconfigured = await hooks.call("caught", event_for(), integrations=Integrations())
    assert unconfigured == "GitHubError: no github integration is configured"
    async with HookPool(size=1) as bare:
        with pytest.raises(HookError) as raised:
            await bare.call(HOOKS, FILE, "uncaught", [event_for()], wrap_event=True)
    assert str(raised.value) == (
        "hooks/impl.py:19: GitHubError: no github integration is configured"
    )
    ownerless = hooks.provider(owner=None)
    assert await hooks.call("caught", event_for(), integrations=ownerless) == (
        "GitHubError: the github integration has no external_id: set it to the organization "
        "that owns the repositories"
    )
    assert hooks.gh.seen("GET", f"/repos/{API}/collaborators") == []


BAD_ARGUMENTS = [
    (
        "'api', {'admin'}",
        "get_repo_collaborators takes keyword arguments: repo_name=..., roles=...",
    ),
    (
        "roles={'admin'}",
        "repo_name must be the repository's name (a str, without the organization)",
    ),
    ("repo_name=3, roles={'admin'}", "repo_name must be the repository's name"),
    ("repo_name='api'", "roles is required: a list or set of GitHub role names"),
    (
        "repo_name='api', roles='admin'",
        "roles must be a list or set of GitHub role names, e.g. "
        "roles={'admin', 'maintain'}, not one str",
    ),
    (
        "repo_name='api', roles=3",
        "roles must be a list or set of GitHub role names, e.g. "
        "roles={'admin', 'maintain'}, got int",
    ),
    ("repo_name='api', roles=['admin', 2]", "roles must hold role names (str), not int"),
    ("repo_name='api', roles=['admin', '']", "roles has an empty role name"),
    ("repo_name='api', roles=[]", "roles is empty"),
    ("repo_name='api', roles=[S('admin')]", "roles must hold role names (str), not S"),
    (
        "repo_name='acme/api', roles={'admin'}",
        "repo_name 'acme/api' names an organization: give the repository's name alone (the "
        "organization is acme, the github integration's external_id)",
    ),
    ("repo_name='..', roles={'admin'}", "repo_name '..' is not a GitHub repository name"),
    ("repo_name='a?b', roles={'admin'}", "repo_name 'a?b' is not a GitHub repository name"),
]


@pytest.mark.parametrize(("arguments", "text"), BAD_ARGUMENTS)
async def test_bad_arguments_are_github_errors(
    hooks: GithubHooks, arguments: str, text: str
) -> None:
    source = (
        "from sym.sdk.exceptions import GitHubError\n"
        "from sym.sdk.integrations import github\n\n\n"
        "class S(str):\n    pass\n\n\n"
        "def hook():\n"
        "    try:\n"
        f"        return github.get_repo_collaborators({arguments})\n"
        "    except GitHubError as error:\n"
        "        return ['GitHubError', str(error)]\n"
    )
    kind, message = await hooks.pool.call(source, FILE, "hook")
    assert kind == "GitHubError"
    assert text in message
    assert GITHUB_TOKEN not in message
    assert hooks.gh.seen("GET", f"/repos/{API}/collaborators") == []


async def test_the_facade_shows_no_secrets(hooks: GithubHooks) -> None:
    source = (
        "from sym.sdk.integrations import github\n\n\n"
        "def hook():\n    return [repr(github), str(github.get_repo_collaborators)]\n"
    )
    shown = await hooks.pool.call(source, FILE, "hook")
    assert shown[0] == "<sym.sdk.integrations.github>"
    assert not any(GITHUB_TOKEN in text for text in shown)


@pytest.mark.parametrize(
    "roles",
    ["['admin']", "('admin',)", "frozenset(['admin'])", "(r for r in ['admin'])", "{'admin': 1}"],
)
async def test_roles_may_be_any_iterable_of_names(hooks: GithubHooks, roles: str) -> None:
    source = (
        "from sym.sdk.integrations import github\n\n\n"
        "def hook():\n"
        f"    users = github.get_repo_collaborators(repo_name='api', roles={roles})\n"
        "    return [user.email for user in users]\n"
    )
    assert await hooks.pool.call(source, FILE, "hook") == ["alice@x.com", "lead@x.com"]
