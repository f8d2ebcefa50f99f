"""Reconciliation against moto's IAM: stale grants removed, unmanaged access reported."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from symbox.cli.users import set_identities
from symbox.config.model import Target
from symbox.engine.model import Actor
from symbox.runs.reconcile import Finding
from symbox.strategies.base import GrantRequest
from tests.fakes.api_configs import github_config, okta_config
from tests.fakes.aws_configs import aws_config
from tests.fakes.github import GITHUB_TOKEN, FakeGithub
from tests.fakes.moto import ACCOUNT_ID, MotoAws
from tests.fakes.okta import OKTA_TOKEN, FakeOkta
from tests.harness import Harness, harness

pytestmark = pytest.mark.anyio

OKTA_GROUP = "00g-admins"
GITHUB_REPO = "acme/app"
CAROL = "carol@example.com"
OPERATOR = Actor("operator", "test")


async def iam_config(aws: MotoAws, edit: Callable[[str], str] = lambda text: text) -> str:
    """A config with the aws_iam strategy on moto (user names are emails' local parts)."""
    sso = await aws.sso()
    text = aws_config(
        aws.server.url,
        instance_arn=sso.instance_arn,
        permission_set_arn=await aws.permission_set("Admin"),
        account_id=ACCOUNT_ID,
        sso_group_id=await aws.sso_group("oncall"),
        strategy="iam",
    )
    return edit(text)


@asynccontextmanager
async def iam_symbox(
    tmp_path: Path, aws: MotoAws, edit: Callable[[str], str] = lambda text: text
) -> AsyncIterator[Harness]:
    """symbox with the aws_iam strategy on moto."""
    text = await iam_config(aws, edit)
    async with harness(tmp_path, config_text=lambda _: text) as h:
        yield h


async def _granted_then_revoked(h: Harness, who: str) -> None:
    run_id = await h.request(as_=who, target="iam-admins", duration="10m")
    assert (await h.approve(run_id)).json()["status"] == "escalated"
    await h.advance(600)
    await h.wait_status(run_id, "deescalated")


async def _reconcile_records(h: Harness) -> list[dict[str, object]]:
    lines = await h.app.reader.audit_after(0, 10_000)
    records = [json.loads(line) for _, line in lines]
    return [record for record in records if record["type"] == "reconcile"]


async def test_a_stale_grant_is_removed_and_unmanaged_access_reported(
    tmp_path: Path, aws: MotoAws
) -> None:
    for name in ("carol", "dave"):
        await aws.iam_user(name)
    await aws.iam_group("admins")
    async with iam_symbox(tmp_path, aws) as h:
        await _granted_then_revoked(h, "carol@example.com")
        assert await aws.iam_members("admins") == []
        # Left behind (a crash between the revoke and its record, or a hand-made copy),
        # and a member symbox never granted.
        await aws.connection.iam().add_user_to_group(GroupName="admins", UserName="carol")
        await aws.connection.iam().add_user_to_group(GroupName="admins", UserName="dave")

        findings = await h.app.reconciler.reconcile()
        assert findings == [
            Finding("iam", "iam-admins", "carol", "stale_removed", "carol@example.com"),
            Finding("iam", "iam-admins", "dave", "unmanaged_found"),
        ]
        assert await aws.iam_members("admins") == ["dave"]
        records = await _reconcile_records(h)
        assert [record["event"]["type"] for record in records] == [  # type: ignore[index]
            "stale_removed",
            "unmanaged_found",
        ]
        assert records[0]["fields"] == {
            "strategy": "iam",
            "target": "iam-admins",
            "identity": "carol",
            "requester": "carol@example.com",
        }
        # Reported once, not on every pass.
        assert await h.app.reconciler.reconcile() == []
        assert h.app.reconciler.unmanaged()[("iam", "iam_admins")] == 1
        metrics = (await h.http.get("/metrics")).text
        assert 'symbox_reconcile_total{outcome="stale_removed"} 1' in metrics
        assert 'symbox_unmanaged_access{strategy="iam",target="iam_admins"} 1' in metrics


async def test_access_symbox_holds_is_not_touched(tmp_path: Path, aws: MotoAws) -> None:
    await aws.iam_user("carol")
    await aws.iam_group("admins")
    async with iam_symbox(tmp_path, aws) as h:
        await _granted_then_revoked(h, "carol@example.com")
        run_id = await h.request(target="iam-admins", duration="10m")
        await h.approve(run_id)
        assert await h.app.reconciler.reconcile() == []
        assert await aws.iam_members("admins") == ["carol"]


async def test_unmanaged_access_is_removed_when_the_target_opts_in(
    tmp_path: Path, aws: MotoAws
) -> None:
    await aws.iam_user("dave")
    await aws.iam_group("admins", "dave")

    def opt_in(text: str) -> str:
        return text.replace(
            'settings = { iam_group = "admins" }',
            'settings = { iam_group = "admins", remove_unmanaged = true }',
        )

    async with iam_symbox(tmp_path, aws, opt_in) as h:
        await h.app.reconciler.reconcile()
        # The pass at start and this one never overlap: whichever ran first removed it.
        assert await aws.iam_members("admins") == []
        records = await _reconcile_records(h)
        assert [record["event"]["type"] for record in records] == ["unmanaged_removed"]  # type: ignore[index]


async def test_a_stale_grant_is_removed_at_start(tmp_path: Path, aws: MotoAws) -> None:
    await aws.iam_user("carol")
    await aws.iam_group("admins")
    text = await iam_config(aws)
    async with harness(tmp_path, config_text=lambda _: text) as h:
        await _granted_then_revoked(h, "carol@example.com")
    await aws.connection.iam().add_user_to_group(GroupName="admins", UserName="carol")
    async with harness(tmp_path, config_text=lambda _: text) as h:

        async def removed() -> bool:
            return await aws.iam_members("admins") == []

        await h.wait_for(removed, "the start-up pass to remove the stale grant")


async def test_a_stale_permission_set_assignment_is_removed(tmp_path: Path, aws: MotoAws) -> None:
    user = await aws.sso_user("carol@example.com")
    sso = await aws.sso()
    permission_set = await aws.permission_set("Admin")
    text = aws_config(
        aws.server.url,
        instance_arn=sso.instance_arn,
        permission_set_arn=permission_set,
        account_id=ACCOUNT_ID,
        sso_group_id=await aws.sso_group("oncall"),
        strategy="sso",
    )
    async with harness(tmp_path, config_text=lambda _: text) as h:
        run_id = await h.request(target="sso-admin", duration="10m")
        await h.approve(run_id)
        await h.advance(600)
        await h.wait_status(run_id, "deescalated")
        await aws.connection.sso_admin().create_account_assignment(
            InstanceArn=sso.instance_arn,
            TargetId=ACCOUNT_ID,
            TargetType="AWS_ACCOUNT",
            PermissionSetArn=permission_set,
            PrincipalType="USER",
            PrincipalId=user,
        )
        findings = await h.app.reconciler.reconcile()
        assert findings == [Finding("sso", "sso-admin", user, "stale_removed", "carol@example.com")]
        assert await aws.assignments(permission_set) == []


async def test_okta_groups_are_reconciled_across_pages(tmp_path: Path) -> None:
    with FakeOkta() as okta:
        okta.add_group(OKTA_GROUP)
        carol = okta.add_user("carol@example.com")
        strangers = [okta.add_user(f"stranger{index}@example.com") for index in range(250)]
        text = okta_config(okta.url)
        env = {"OKTA_TOKEN": OKTA_TOKEN}
        async with harness(tmp_path, config_text=lambda _: text, monkeypatch_env=env) as h:
            run_id = await h.request(duration="10m", target="okta-admins")
            await h.approve(run_id)
            await h.advance(600)
            await h.wait_status(run_id, "deescalated")
            with okta.lock:
                okta.groups[OKTA_GROUP] |= {carol, *strangers}
            findings = await h.app.reconciler.reconcile()
            stale = [finding for finding in findings if finding.outcome == "stale_removed"]
            unmanaged = [finding for finding in findings if finding.outcome == "unmanaged_found"]
            assert [finding.identity for finding in stale] == [carol]
            # More members than one page holds: the listing followed Okta's next links.
            assert len(unmanaged) == 250
            assert okta.members(OKTA_GROUP) == set(strangers)


async def _remap(h: Harness, system: str, identity: str) -> None:
    """Re-map Carol while she holds access, as ``symbox users set --force`` does."""
    await set_identities(
        h.app.writer, CAROL, {system: identity}, now=h.clock.now(), actor=OPERATOR, force=True
    )


async def _revoke(h: Harness, run_id: str) -> None:
    response = await h.call("POST", "/api/v1/events/deescalate", CAROL, {"run_id": run_id})
    assert response.status_code == 200, response.text
    await h.wait_status(run_id, "deescalated")


async def test_a_left_behind_okta_login_is_removed_while_its_user_holds_another(
    tmp_path: Path,
) -> None:
    with FakeOkta() as okta:
        okta.add_group(OKTA_GROUP)
        carol = okta.add_user(CAROL)
        smith = okta.add_user("c.smith")
        text = okta_config(okta.url)
        env = {"OKTA_TOKEN": OKTA_TOKEN}
        async with harness(tmp_path, config_text=lambda _: text, monkeypatch_env=env) as h:
            first = await h.request(duration="1h", target="okta-admins")
            await h.approve(first)
            await _remap(h, "okta", "c.smith")
            second = await h.request(duration="1h", target="okta-admins")
            await h.approve(second)
            await _revoke(h, first)
            # The first run's login came back (a crash after the revoke, a hand-made copy):
            # Carol's grant to her new login does not make it hers to keep.
            with okta.lock:
                okta.groups[OKTA_GROUP].add(carol)
            revoked = await h.app.reader.get_run(first)
            assert revoked is not None and revoked.grant is not None
            key, locks = revoked.grant.key, h.app.service.locks
            findings: list[Finding] = []

            async def reconcile() -> None:
                findings.extend(await h.app.reconciler.reconcile())

            async with anyio.create_task_group() as group, locks.hold(key):
                group.start_soon(reconcile)
                # The removal waits for the lock that grants to that login are made under.
                await h.wait_for(lambda: locks.users(key) == 2, "the removal to wait")
                assert okta.members(OKTA_GROUP) == {carol, smith}
            assert findings == [
                Finding("okta", "okta-admins", carol, "stale_removed", CAROL),
            ]
            assert okta.members(OKTA_GROUP) == {smith}
            assert await h.app.reconciler.reconcile() == []


async def test_a_left_behind_github_collaborator_is_removed_while_its_user_holds_another(
    tmp_path: Path,
) -> None:
    with FakeGithub() as gh:
        gh.add_repo(GITHUB_REPO)
        gh.add_user("octocat", member=True)
        gh.add_user("hubot", member=True)
        text = github_config(gh.url)
        env = {"GITHUB_TOKEN": GITHUB_TOKEN}
        async with harness(tmp_path, config_text=lambda _: text, monkeypatch_env=env) as h:
            await set_identities(
                h.app.writer, CAROL, {"github": "octocat"}, now=0.0, actor=OPERATOR
            )
            first = await h.request(duration="1h", target="app-repo")
            await h.approve(first)
            await _remap(h, "github", "hubot")
            second = await h.request(duration="1h", target="app-repo")
            await h.approve(second)
            await _revoke(h, first)
            assert gh.access(GITHUB_REPO) == {"hubot": "push"}
            with gh.lock:
                gh.repos[GITHUB_REPO].collaborators["octocat"] = "push"
            findings = await h.app.reconciler.reconcile()
            assert findings == [
                Finding("github", "app-repo", "octocat", "stale_removed", CAROL),
            ]
            assert gh.access(GITHUB_REPO) == {"hubot": "push"}


class BrokenLister:
    """Grants like a no-op strategy; listing a target fails as botocore once did on a reply."""

    def __init__(self) -> None:
        self.listed = 0

    async def escalate(self, request: GrantRequest) -> object:
        return None

    async def deescalate(self, request: GrantRequest) -> object:
        return None

    async def holders(self, target: Target) -> frozenset[str]:
        self.listed += 1
        raise KeyError("GetGroupResult")

    async def remove_holder(self, target: Target, identity: str) -> None:
        raise AssertionError("nothing is listed, so nothing is removed")


async def test_a_target_that_fails_to_list_with_any_error_leaves_symbox_serving(
    tmp_path: Path,
) -> None:
    broken = BrokenLister()
    async with harness(tmp_path, strategies={"grants": broken}) as h:
        await h.wait_for(lambda: broken.listed >= 2, "both targets' listing at start")
        metrics = (await h.http.get("/metrics")).text
        assert 'symbox_reconcile_total{outcome="error"} 2' in metrics
        # Requests, grants and revocations go on.
        run_id = await h.request(duration="1m")
        assert (await h.approve(run_id)).json()["status"] == "escalated"
        await h.advance(60)
        await h.wait_status(run_id, "deescalated")
        assert await h.app.reconciler.reconcile() == []
        assert broken.listed == 4
