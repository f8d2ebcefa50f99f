"""The aws_sso strategy against moto: assignments, memberships, identities and faults."""

from __future__ import annotations

import pytest

from symbox.aws.identity_center import IdentityCenter, Polling
from symbox.strategies.aws_sso import AwsSsoStrategy
from symbox.strategies.base import StrategyError, Throttled
from tests.fakes import aws_proxy
from tests.fakes.aws_proxy import FaultProxy
from tests.fakes.moto import ACCOUNT_ID, MotoAws
from tests.strategies.aws_requests import connection, grant

pytestmark = pytest.mark.anyio

CAROL = "carol@example.com"
SERVICES = ("sso-admin", "identitystore")


class Sleeps:
    """Records the polling delays instead of waiting them out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


async def test_a_permission_set_is_assigned_once_and_revoked_once(aws: MotoAws) -> None:
    user = await aws.sso_user(CAROL)
    permission_set = await aws.permission_set("Admin")
    sso = await aws.sso()
    request = grant(
        "aws_sso_permission_set", permission_set_arn=permission_set, account_id=ACCOUNT_ID
    )
    async with connection(aws.server.url, *SERVICES) as opened:
        strategy = AwsSsoStrategy(IdentityCenter(opened, sso.instance_arn))
        assert await strategy.remote_identity(CAROL) == user
        await strategy.escalate(request)
        await strategy.escalate(request)  # granting what exists succeeds, without a copy
        assert await aws.assignments(permission_set) == [user]
        await strategy.deescalate(request)
        assert await aws.assignments(permission_set) == []
        await strategy.deescalate(request)  # revoking what is gone succeeds


async def test_group_membership_is_idempotent_both_ways(aws: MotoAws) -> None:
    user = await aws.sso_user(CAROL)
    group = await aws.sso_group("oncall-admins")
    sso = await aws.sso()
    request = grant("aws_sso_group", group_id=group)
    async with connection(aws.server.url, *SERVICES) as opened:
        center = IdentityCenter(opened, sso.instance_arn, identity_store_id=sso.identity_store_id)
        strategy = AwsSsoStrategy(center)
        await strategy.escalate(request)
        await strategy.escalate(request)
        assert await aws.sso_members(group) == [user]
        await strategy.deescalate(request)
        await strategy.deescalate(request)
        assert await aws.sso_members(group) == []
        with pytest.raises(StrategyError) as caught:
            await strategy.escalate(grant("aws_sso_group", group_id="no-such-group"))
    assert caught.value.permanent and caught.value.reached_target
    assert "ResourceNotFoundException" in str(caught.value)


async def test_requesters_are_found_by_user_name_or_by_email(aws: MotoAws) -> None:
    by_name = await aws.sso_user(CAROL)
    by_email = await aws.sso_user("dave", email="dave@example.com")
    sso = await aws.sso()
    async with connection(aws.server.url, *SERVICES) as opened:
        names = AwsSsoStrategy(IdentityCenter(opened, sso.instance_arn))
        emails = AwsSsoStrategy(IdentityCenter(opened, sso.instance_arn, user_mapping="email"))
        assert await names.remote_identity(CAROL) == by_name
        assert await emails.remote_identity("dave@example.com") == by_email
        with pytest.raises(StrategyError) as caught:
            await names.remote_identity("dave@example.com")
        assert str(caught.value) == (
            "no user in the AWS identity store has the user name dave@example.com"
        )
        assert caught.value.permanent and not caught.value.reached_target
        # Revoking for someone the identity store does not know has nothing to take away.
        await names.deescalate(grant("aws_sso_group", "zed@example.com", group_id="g"))


async def test_an_unknown_instance_is_a_permanent_error(aws: MotoAws) -> None:
    await aws.sso_user(CAROL)
    async with connection(aws.server.url, *SERVICES) as opened:
        strategy = AwsSsoStrategy(IdentityCenter(opened, "arn:aws:sso:::instance/ssoins-nope"))
        with pytest.raises(StrategyError) as caught:
            await strategy.remote_identity(CAROL)
    assert "no Identity Center instance arn:aws:sso:::instance/ssoins-nope" in str(caught.value)
    assert caught.value.permanent


async def test_missing_target_settings_are_permanent_before_any_call(
    aws: MotoAws, fault_proxy: FaultProxy
) -> None:
    sso = await aws.sso()
    async with connection(fault_proxy.url, *SERVICES) as opened:
        strategy = AwsSsoStrategy(IdentityCenter(opened, sso.instance_arn))
        with pytest.raises(StrategyError, match=r"settings\.account_id is required") as caught:
            await strategy.escalate(grant("aws_sso_permission_set", permission_set_arn="arn"))
    assert caught.value.permanent and not caught.value.reached_target
    assert sum(fault_proxy.calls.values()) == 0


async def test_slow_assignments_are_polled_until_they_succeed(
    aws: MotoAws, fault_proxy: FaultProxy
) -> None:
    user = await aws.sso_user(CAROL)
    permission_set = await aws.permission_set("Admin")
    sso = await aws.sso()
    request = grant(
        "aws_sso_permission_set", permission_set_arn=permission_set, account_id=ACCOUNT_ID
    )
    sleeps = Sleeps()
    fault_proxy.add("CreateAccountAssignment", aws_proxy.IN_PROGRESS)
    fault_proxy.add("DescribeAccountAssignmentCreationStatus", aws_proxy.IN_PROGRESS, times=3)
    fault_proxy.add("DeleteAccountAssignment", aws_proxy.IN_PROGRESS)
    fault_proxy.add("DescribeAccountAssignmentDeletionStatus", aws_proxy.IN_PROGRESS)
    async with connection(fault_proxy.url, *SERVICES) as opened:
        center = IdentityCenter(opened, sso.instance_arn, sleep=sleeps)
        strategy = AwsSsoStrategy(center)
        await strategy.escalate(request)
        assert fault_proxy.calls["DescribeAccountAssignmentCreationStatus"] == 4
        assert sleeps.delays == [0.5, 0.75, 1.125, 1.6875]
        assert await aws.assignments(permission_set) == [user]
        await strategy.deescalate(request)
        assert fault_proxy.calls["DescribeAccountAssignmentDeletionStatus"] == 2
    assert await aws.assignments(permission_set) == []


async def test_polling_is_bounded_and_failures_are_reported(
    aws: MotoAws, fault_proxy: FaultProxy
) -> None:
    await aws.sso_user(CAROL)
    permission_set = await aws.permission_set("Admin")
    sso = await aws.sso()
    request = grant(
        "aws_sso_permission_set", permission_set_arn=permission_set, account_id=ACCOUNT_ID
    )
    fault_proxy.add("CreateAccountAssignment", aws_proxy.IN_PROGRESS)
    fault_proxy.add("DescribeAccountAssignmentCreationStatus", aws_proxy.IN_PROGRESS, times=100)
    polling = Polling(first=0.01, factor=1.0, longest=0.01, timeout=0.1)
    async with connection(fault_proxy.url, *SERVICES) as opened:
        strategy = AwsSsoStrategy(IdentityCenter(opened, sso.instance_arn, polling=polling))
        with pytest.raises(StrategyError) as caught:
            await strategy.escalate(request)
        assert "account assignment creation still IN_PROGRESS after 0.1 s" in str(caught.value)
        assert not caught.value.permanent and caught.value.reached_target
        polls = fault_proxy.calls["DescribeAccountAssignmentCreationStatus"]
        assert 2 <= polls <= 11  # every 10 ms for 100 ms, each poll taking a few ms

        # The assignment exists by now (moto made it); revoking it may report FAILED.
        fault_proxy.add("DeleteAccountAssignment", aws_proxy.FAILED)
        with pytest.raises(StrategyError) as failed:
            await strategy.deescalate(request)
    assert str(failed.value) == "deescalate: account assignment deletion failed: injected failure"
    assert not failed.value.permanent


async def test_throttling_and_server_errors_are_retried_briefly(
    aws: MotoAws, fault_proxy: FaultProxy
) -> None:
    user = await aws.sso_user(CAROL)
    permission_set = await aws.permission_set("Admin")
    sso = await aws.sso()
    request = grant(
        "aws_sso_permission_set", permission_set_arn=permission_set, account_id=ACCOUNT_ID
    )
    fault_proxy.add("ListAccountAssignments", aws_proxy.SERVER_ERROR)
    fault_proxy.add("CreateAccountAssignment", aws_proxy.THROTTLE)
    async with connection(fault_proxy.url, *SERVICES, max_attempts=2) as opened:
        strategy = AwsSsoStrategy(IdentityCenter(opened, sso.instance_arn))
        await strategy.escalate(request)
        assert fault_proxy.calls["CreateAccountAssignment"] == 2
        assert await aws.assignments(permission_set) == [user]

        # More throttling than the attempts allow: a transient error for the service to retry.
        fault_proxy.add("DeleteAccountAssignment", aws_proxy.THROTTLE, times=2)
        with pytest.raises(StrategyError) as caught:
            await strategy.deescalate(request)
    assert str(caught.value).startswith(
        "deescalate: sso-admin:DeleteAccountAssignment: ThrottlingException"
    )
    assert not caught.value.permanent and caught.value.reached_target
    assert isinstance(caught.value, Throttled)


async def test_access_denied_is_permanent(aws: MotoAws, fault_proxy: FaultProxy) -> None:
    await aws.sso_user(CAROL)
    sso = await aws.sso()
    fault_proxy.add("GetUserId", aws_proxy.DENIED)
    async with connection(fault_proxy.url, *SERVICES) as opened:
        strategy = AwsSsoStrategy(IdentityCenter(opened, sso.instance_arn))
        with pytest.raises(StrategyError) as caught:
            await strategy.escalate(grant("aws_sso_group", group_id="g"))
    assert str(caught.value) == (
        "identity lookup: identitystore:GetUserId: AccessDeniedException: "
        "not authorized to perform this action"
    )
    assert caught.value.permanent and not caught.value.reached_target


async def test_a_lost_answer_retried_leaves_no_access_behind(
    aws: MotoAws, fault_proxy: FaultProxy
) -> None:
    user = await aws.sso_user(CAROL)
    permission_set = await aws.permission_set("Admin")
    group = await aws.sso_group("admins")
    sso = await aws.sso()
    assignment = grant(
        "aws_sso_permission_set", permission_set_arn=permission_set, account_id=ACCOUNT_ID
    )
    membership = grant("aws_sso_group", group_id=group)
    # moto applies the create, the answer is lost, botocore sends it again: moto (unlike
    # AWS) now holds two copies, and a revoke must remove both.
    fault_proxy.add("CreateAccountAssignment", aws_proxy.DROP_AFTER)
    fault_proxy.add("CreateGroupMembership", aws_proxy.DROP_AFTER)
    fault_proxy.add("ListAccountAssignments", aws_proxy.DROP)
    async with connection(fault_proxy.url, *SERVICES, max_attempts=2) as opened:
        strategy = AwsSsoStrategy(IdentityCenter(opened, sso.instance_arn))
        await strategy.escalate(assignment)
        await strategy.escalate(membership)
        assert await aws.assignments(permission_set) == [user, user]
        assert await aws.sso_members(group) == [user, user]
        await strategy.deescalate(assignment)
        await strategy.deescalate(membership)
    assert await aws.assignments(permission_set) == []
    assert await aws.sso_members(group) == []
    assert fault_proxy.pending() == 0


async def test_a_name_from_get_identity_is_looked_up_as_a_user_name(aws: MotoAws) -> None:
    dave = await aws.sso_user("dave", email="dave@example.com")
    sso = await aws.sso()
    async with connection(aws.server.url, *SERVICES) as opened:
        # Even where emails are the mapping, a name is a user name.
        emails = AwsSsoStrategy(IdentityCenter(opened, sso.instance_arn, user_mapping="email"))
        assert await emails.remote_identity("carol@example.com", "dave") == dave
        with pytest.raises(StrategyError) as caught:
            await emails.remote_identity("carol@example.com", "zed")
        assert str(caught.value) == "no user in the AWS identity store has the user name zed"
