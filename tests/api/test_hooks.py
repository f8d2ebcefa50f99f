"""A flow's hooks, run in the sandbox by the real server: auto-approval, safelists, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from symbox.cli.users import set_identities
from symbox.engine.model import Actor
from tests.fakes.configs import access_config
from tests.fakes.github import GITHUB_TOKEN, FakeGithub
from tests.harness import harness
from tests.sandbox.fake_services import PAGERDUTY_TOKEN, FakePagerDuty

pytestmark = pytest.mark.anyio

HOOKS = """
from sym.sdk.annotations import hook
from sym.sdk.exceptions import SymException
from sym.sdk.templates import ApprovalTemplate


@hook
def on_request(event):
    if event.payload.fields["reason"] == "explode":
        raise SymException("no on-call engineer found")
    if event.payload.fields["duration"] <= 60:
        return ApprovalTemplate.approve(reason="short grants are pre-approved")


@hook
def on_approve(event):
    if event.user.email not in event.flow.vars["safelist"].split(","):
        return ApprovalTemplate.ignore(message="only the safelist may approve")
"""


def hooked_config(receiver_url: str) -> str:
    text = access_config(receiver_url).replace(
        'implementation = "# no hooks"', 'implementation = file("impl.py")', 1
    )
    approvers = 'approvers = "alice@example.com,bob@example.com,bot:ci"'
    return text.replace(approvers, f'{approvers}\n    safelist = "alice@example.com"', 1)


@pytest.fixture
def hooked(tmp_path: Path) -> Path:
    (tmp_path / "impl.py").write_text(HOOKS)
    return tmp_path


async def test_on_request_approves_short_grants(hooked: Path) -> None:
    async with harness(hooked, config_text=hooked_config) as h:
        assert h.app.hook_pool is not None
        run_id = await h.request(duration="1m")
        run = await h.run(run_id)
        assert run["status"] == "escalated"
        assert run["decisions"][0]["actor"] == {"kind": "hook", "id": "on_request"}
        assert run["decisions"][0]["reason"] == "short grants are pre-approved"
        assert h.receiver.state.granted == {("prod-db", "carol@example.com")}
        longer = await h.request(duration="10m")
        assert (await h.run(longer))["status"] == "requested"


async def test_on_approve_keeps_to_its_safelist(hooked: Path) -> None:
    async with harness(hooked, config_text=hooked_config) as h:
        run_id = await h.request(duration="10m")
        outside = await h.approve(run_id, as_="bob@example.com")
        assert outside.status_code == 403
        assert outside.json()["message"] == "only the safelist may approve"
        assert (await h.run(run_id))["status"] == "requested"
        stranger = await h.approve(run_id, as_="mallory@example.com")
        assert stranger.json()["message"] == f"no run {run_id!r}"
        inside = await h.approve(run_id, as_="alice@example.com")
        assert inside.json()["status"] == "escalated"


async def test_a_failing_hook_errors_the_run_with_its_file_and_line(hooked: Path) -> None:
    async with harness(hooked, config_text=hooked_config) as h:
        run_id = await h.request(reason="explode")
        run = await h.run(run_id)
        assert run["status"] == "errored"
        assert "impl.py:10:" in run["error"] and "no on-call engineer found" in run["error"]
        assert [event["name"] for event in run["events"]] == ["request", "hook_error"]
        assert h.receiver.state.requests == []


async def test_the_hook_timeout_is_the_operators_to_set(tmp_path: Path) -> None:
    (tmp_path / "impl.py").write_text("def on_request(event):\n    while True:\n        pass\n")
    async with harness(tmp_path, config_text=hooked_config, hook_timeout=0.3) as h:
        run = await h.run(await h.request())
        assert run["status"] == "errored"
        assert run["error"].endswith("impl.py: on_request ran longer than 0.3 s")


async def test_flows_without_hooks_start_no_workers(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        assert h.app.hook_pool is None


PERMISSIONS = """
from sym.sdk.request_permission import PermissionLevel, RequestPermission


def get_permissions(event):
    if event.payload.fields["reason"] == "anyone":
        return RequestPermission(
            webapp_view=PermissionLevel.MEMBER, approve_deny=PermissionLevel.ALL_USERS
        )
    return RequestPermission(
        webapp_view=PermissionLevel.ADMIN,
        approve_deny=["dave@example.com"],
        allow_self_approval=True,
    )
"""


async def test_get_permissions_replaces_the_approvers_var(tmp_path: Path) -> None:
    (tmp_path / "impl.py").write_text(PERMISSIONS)
    async with harness(tmp_path, config_text=hooked_config) as h:
        run_id = await h.request()
        listed_in_vars = await h.approve(run_id, as_="alice@example.com")
        assert listed_in_vars.status_code == 403
        assert "not an approver" in listed_in_vars.json()["message"]
        chosen = await h.approve(run_id, as_="dave@example.com")
        assert chosen.json()["status"] == "escalated"
        # The reducer allows self-approval.
        own = await h.request(as_="dave@example.com")
        assert (await h.approve(own, as_="dave@example.com")).json()["status"] == "escalated"
        # ALL_USERS: any signed-in person, but still not the requester, and not a bot.
        open_run = await h.request(reason="anyone")
        assert (await h.approve(open_run, as_="ci")).status_code == 403
        assert (await h.approve(open_run, as_="carol@example.com")).status_code == 403
        assert (await h.approve(open_run, as_="eve@example.com")).json()["status"] == "escalated"


AFTER = """
from sym.sdk.exceptions import SymException


def after_request(event):
    return None


def after_escalate(event):
    raise SymException("could not post to #access-log")
"""


async def test_after_hooks_run_after_their_step_and_cannot_undo_it(tmp_path: Path) -> None:
    (tmp_path / "impl.py").write_text(AFTER)
    async with harness(tmp_path, config_text=hooked_config) as h:
        run_id = await h.request()
        assert (await h.run(run_id))["errors"] == []
        response = await h.approve(run_id)
        body = response.json()
        assert body["status"] == "escalated"
        assert "could not post to #access-log" in body["error"]
        assert h.receiver.state.granted == {("prod-db", "carol@example.com")}
        run = await h.run(run_id)
        names = [event["name"] for event in run["events"]]
        assert names == ["request", "approve", "escalate", "hook_error"]
        assert run["events"][-1]["details"] == {"hook": "after_escalate"}
        # The grant's lifecycle goes on: it is revoked on time.
        await h.advance(600)
        await h.wait_status(run_id, "deescalated")


ON_CALL = """
from sym.sdk.annotations import hook
from sym.sdk.integrations import pagerduty
from sym.sdk.templates import ApprovalTemplate


@hook
def on_request(event):
    if pagerduty.is_on_call(event.user, schedule_name="Primary"):
        return ApprovalTemplate.approve(reason="on call")
"""


def pagerduty_block(key: str, url: str) -> str:
    return f"""
resource "sym_integration" "{key}" {{
  type        = "pagerduty"
  name        = "{key}"
  external_id = "acme"
  settings = {{
    api_token = env("PD_TOKEN")
    base_url  = "{url}"
  }}
}}
"""


async def test_sym_on_call_example_against_pagerduty(tmp_path: Path) -> None:
    (tmp_path / "impl.py").write_text(ON_CALL)
    with FakePagerDuty() as fake:

        def config(receiver_url: str) -> str:
            return hooked_config(receiver_url) + pagerduty_block("pagerduty", fake.url)

        env = {"PD_TOKEN": PAGERDUTY_TOKEN}
        async with harness(tmp_path, config_text=config, monkeypatch_env=env) as h:
            on_call = await h.request(as_="alice@x.com")
            assert (await h.run(on_call))["status"] == "escalated"
            off_call = await h.request(as_="bob@x.com")
            assert (await h.run(off_call))["status"] == "requested"
        # Every call carried the token in its header.
        seen = fake.state.requests
        assert seen and all(call.authorization == f"Token token={PAGERDUTY_TOKEN}" for call in seen)
    audit = (tmp_path / "data" / "audit.jsonl").read_text()
    assert PAGERDUTY_TOKEN not in audit


async def test_hooks_use_the_integration_their_environment_lists(tmp_path: Path) -> None:
    (tmp_path / "impl.py").write_text(ON_CALL)
    with FakePagerDuty() as other, FakePagerDuty() as listed:

        def config(receiver_url: str, lists: str) -> str:
            return (
                hooked_config(receiver_url).replace(
                    'resource "sym_environment" "main" {\n  name = "main"\n}',
                    f'resource "sym_environment" "main" {{\n  name = "main"\n{lists}}}',
                )
                + pagerduty_block("pd_other", other.url)
                + pagerduty_block("pd_main", listed.url)
            )

        env = {"PD_TOKEN": PAGERDUTY_TOKEN}
        lists = "  integrations = { pagerduty_id = sym_integration.pd_main.id }\n"
        async with harness(
            tmp_path, config_text=lambda url: config(url, lists), monkeypatch_env=env
        ) as h:
            on_call = await h.request(as_="alice@x.com")
            assert (await h.run(on_call))["status"] == "escalated"
        assert listed.state.requests and not other.state.requests
        # With two and none listed, which one is meant is not guessed: the hook is told.
        async with harness(
            tmp_path,
            config_text=lambda url: config(url, ""),
            monkeypatch_env=env,
            data_dir=tmp_path / "data2",
        ) as h:
            run = await h.run(await h.request(as_="alice@x.com"))
            assert run["status"] == "errored"
            assert "PagerDutyError: no pagerduty integration is configured" in run["error"]


GITHUB_APPROVERS = """
from sym.sdk.integrations import github
from sym.sdk.request_permission import PermissionLevel, RequestPermission


def get_permissions(event):
    maintainers = github.get_repo_collaborators(repo_name="api", roles={"admin", "maintain"})
    return RequestPermission(
        webapp_view=PermissionLevel.MEMBER, approve_deny=[user.email for user in maintainers]
    )
"""


async def test_get_permissions_makes_a_repositorys_maintainers_the_approvers(
    tmp_path: Path,
) -> None:
    (tmp_path / "impl.py").write_text(GITHUB_APPROVERS)
    with FakeGithub() as gh:
        gh.add_repo("acme/api").collaborators.update(
            {"dave-gh": "admin", "erin": "maintain", "bob": "push", "alice-gh": "admin"}
        )

        def config(receiver_url: str) -> str:
            integration = f"""
resource "sym_integration" "github" {{
  type        = "github"
  name        = "github"
  external_id = "acme"
  settings = {{
    api_token = env("GITHUB_TOKEN")
    base_url  = "{gh.url}"
  }}
}}
"""
            return hooked_config(receiver_url) + integration

        env = {"GITHUB_TOKEN": GITHUB_TOKEN}
        async with harness(tmp_path, config_text=config, monkeypatch_env=env) as h:
            operator = Actor("operator", "test")
            # alice-gh is an admin on GitHub, but no symbox user has that username.
            for email, login in (("dave@example.com", "Dave-GH"), ("bob@example.com", "bob")):
                await set_identities(
                    h.app.writer, email, {"github": login}, now=0.0, actor=operator
                )
            run_id = await h.request()
            for outsider in ("bob@example.com", "alice@example.com"):
                refused = await h.approve(run_id, as_=outsider)
                assert refused.status_code == 403, refused.text
                assert "not an approver" in refused.json()["message"]
            assert (await h.run(run_id))["status"] == "requested"
            approved = await h.approve(run_id, as_="dave@example.com")
            assert approved.json()["status"] == "escalated", approved.text
        listed = gh.seen("GET", "/repos/acme/api/collaborators")
        assert listed and all(call.query["affiliation"] == ["all"] for call in listed)
    audit = (tmp_path / "data" / "audit.jsonl").read_text()
    assert GITHUB_TOKEN not in audit
