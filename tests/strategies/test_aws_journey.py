"""Requests through the real HTTP API, granted and revoked in moto's AWS on time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.fakes.aws_configs import aws_config
from tests.fakes.clock import FakeClock
from tests.fakes.moto import ACCOUNT_ID, MotoAws
from tests.harness import Harness, harness

pytestmark = pytest.mark.anyio

CAROL = "carol@example.com"


@asynccontextmanager
async def symbox_on(
    tmp_path: Path, aws: MotoAws, permission_set: str, group: str, strategy: str = "sso"
) -> AsyncIterator[Harness]:
    """symbox built from config (the real build_strategies path), pointed at moto."""
    sso = await aws.sso()
    text = aws_config(
        aws.server.url,
        instance_arn=sso.instance_arn,
        permission_set_arn=permission_set,
        account_id=ACCOUNT_ID,
        sso_group_id=group,
        strategy=strategy,
    )
    async with harness(tmp_path, config_text=lambda _: text) as h:
        yield h


async def test_a_permission_set_is_granted_on_approval_and_revoked_on_time(
    tmp_path: Path, aws: MotoAws
) -> None:
    user = await aws.sso_user(CAROL)
    permission_set = await aws.permission_set("Admin")
    group = await aws.sso_group("oncall")
    async with symbox_on(tmp_path, aws, permission_set, group) as h:
        run_id = await h.request(target="sso-admin", duration="10m")
        assert await aws.assignments(permission_set) == []
        approved = await h.approve(run_id)
        assert approved.json()["status"] == "escalated", approved.text
        assert await aws.assignments(permission_set) == [user]

        await h.advance(600)
        await h.wait_status(run_id, "deescalated")
        assert await aws.assignments(permission_set) == []

        # Access removed by hand before the end: the revoke finds nothing and succeeds.
        second = await h.request(target="sso-oncall", duration="10m")
        await h.approve(second)
        assert await aws.sso_members(group) == [user]
        sso = await aws.sso()
        membership = await aws.connection.identitystore().get_group_membership_id(
            IdentityStoreId=sso.identity_store_id, GroupId=group, MemberId={"UserId": user}
        )
        await aws.connection.identitystore().delete_group_membership(
            IdentityStoreId=sso.identity_store_id, MembershipId=membership["MembershipId"]
        )
        await h.advance(600)
        await h.wait_status(second, "deescalated")


async def test_overlapping_grants_keep_access_until_the_last_one_ends(
    tmp_path: Path, aws: MotoAws
) -> None:
    user = await aws.sso_user(CAROL)
    permission_set = await aws.permission_set("Admin")
    group = await aws.sso_group("oncall")
    async with symbox_on(tmp_path, aws, permission_set, group) as h:
        short = await h.request(target="sso-admin", duration="10m")
        long = await h.request(target="sso-admin", duration="1h")
        await h.approve(short)
        await h.approve(long)  # granting what exists: still one assignment
        assert await aws.assignments(permission_set) == [user]

        await h.advance(600)
        await h.wait_status(short, "deescalated")
        assert await aws.assignments(permission_set) == [user]  # the long grant covers it

        await h.advance(3000)
        await h.wait_status(long, "deescalated")
        assert await aws.assignments(permission_set) == []


async def test_a_requester_unknown_to_aws_is_refused_at_request_time(
    tmp_path: Path, aws: MotoAws
) -> None:
    await aws.sso_user(CAROL)
    permission_set = await aws.permission_set("Admin")
    async with symbox_on(tmp_path, aws, permission_set, "group-id") as h:
        response = await h.call(
            "POST",
            "/api/v1/events/request",
            "dave@example.com",
            {
                "flow": "access",
                "flow_inputs": {"reason": "x", "duration": "10m", "target": "sso-admin"},
            },
        )
        assert response.status_code == 400, response.text
        assert response.json()["message"] == (
            "dave@example.com cannot use flow access: no user in the AWS identity store has "
            "the user name dave@example.com"
        )
        listed = await h.call("GET", "/api/v1/runs", "reader")
        assert listed.json()["runs"] == []


async def test_iam_group_membership_and_an_early_revoke(tmp_path: Path, aws: MotoAws) -> None:
    await aws.iam_user("carol")
    await aws.iam_group("admins")
    unused = "arn:aws:sso:::permissionSet/ssoins-1/ps-1"
    async with symbox_on(tmp_path, aws, unused, "g", strategy="iam") as h:
        run_id = await h.request(target="iam-admins", duration="1h")
        await h.approve(run_id)
        assert await aws.iam_members("admins") == ["carol"]
        revoked = await h.call("POST", "/api/v1/events/deescalate", CAROL, {"run_id": run_id})
        assert revoked.status_code == 200, revoked.text
        await h.wait_status(run_id, "deescalated")
        assert await aws.iam_members("admins") == []


async def test_a_grant_made_before_a_restart_is_revoked_on_time_after_it(
    tmp_path: Path, aws: MotoAws
) -> None:
    user = await aws.sso_user(CAROL)
    permission_set = await aws.permission_set("Admin")
    sso = await aws.sso()
    text = aws_config(
        aws.server.url,
        instance_arn=sso.instance_arn,
        permission_set_arn=permission_set,
        account_id=ACCOUNT_ID,
        sso_group_id=await aws.sso_group("oncall"),
    )
    clock = FakeClock()
    async with harness(tmp_path, config_text=lambda _: text, clock=clock) as h:
        run_id = await h.request(target="sso-admin", duration="10m")
        assert (await h.approve(run_id)).json()["status"] == "escalated"
        await h.advance(300)
    # symbox is down for a while; the assignment stays, and so does its schedule.
    assert await aws.assignments(permission_set) == [user]
    async with harness(tmp_path, config_text=lambda _: text, clock=clock) as h:
        assert (await h.run(run_id))["status"] == "escalated"
        await h.advance(299)
        assert await aws.assignments(permission_set) == [user]
        await h.advance(1)
        await h.wait_status(run_id, "deescalated")
        assert await aws.assignments(permission_set) == []
