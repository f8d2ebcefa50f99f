"""The aws_iam strategy against moto: group membership and the email-to-user mappings."""

from __future__ import annotations

import pytest

from symbox.aws.iam import IamDirectory, IamUserMapping
from symbox.strategies.aws_iam import AwsIamStrategy
from symbox.strategies.base import StrategyError, Throttled
from tests.fakes import aws_proxy
from tests.fakes.aws_proxy import FaultProxy
from tests.fakes.moto import MotoAws
from tests.strategies.aws_requests import connection, grant

pytestmark = pytest.mark.anyio

CAROL = "carol@example.com"


async def test_membership_is_granted_and_revoked_idempotently(aws: MotoAws) -> None:
    await aws.iam_user(CAROL)
    await aws.iam_group("admins")
    request = grant("aws_iam_group", iam_group="admins")
    async with connection(aws.server.url, "iam") as opened:
        strategy = AwsIamStrategy(IamDirectory(opened, IamUserMapping.parse("user_name")))
        assert await strategy.remote_identity(CAROL) == CAROL
        await strategy.escalate(request)
        await strategy.escalate(request)
        assert await aws.iam_members("admins") == [CAROL]
        await strategy.deescalate(request)
        await strategy.deescalate(request)
        assert await aws.iam_members("admins") == []
        # A group that does not exist is a configuration problem, both ways.
        missing = grant("aws_iam_group", iam_group="nope")
        for action in (strategy.escalate, strategy.deescalate):
            with pytest.raises(StrategyError) as caught:
                await action(missing)
            assert caught.value.permanent and "NoSuchEntity" in str(caught.value)


@pytest.mark.parametrize(
    ("mapping", "user", "tags"),
    [
        ("user_name", CAROL, {}),
        ("local_part", "carol", {}),
        ("tag:email", "c.smith", {"email": "Carol@Example.com"}),
    ],
)
async def test_emails_map_to_iam_users(
    aws: MotoAws, mapping: str, user: str, tags: dict[str, str]
) -> None:
    await aws.iam_user(user, tags)
    await aws.iam_user("someone-else", {"email": "dave@example.com"})
    await aws.iam_group("admins")
    async with connection(aws.server.url, "iam") as opened:
        strategy = AwsIamStrategy(IamDirectory(opened, IamUserMapping.parse(mapping)))
        assert await strategy.remote_identity(CAROL) == user
        await strategy.escalate(grant("aws_iam_group", iam_group="admins"))
        assert await aws.iam_members("admins") == [user]
        with pytest.raises(StrategyError) as caught:
            await strategy.remote_identity("erin@example.com")
    assert str(caught.value).startswith("no IAM user for erin@example.com (expected an IAM user")
    assert caught.value.permanent and not caught.value.reached_target


async def test_the_tag_index_is_cached_and_refreshed_on_a_late_miss(
    aws: MotoAws, fault_proxy: FaultProxy
) -> None:
    now = [0.0]
    await aws.iam_user("c.smith", {"email": CAROL})
    async with connection(fault_proxy.url, "iam") as opened:
        directory = IamDirectory(opened, IamUserMapping.parse("tag:email"), clock=lambda: now[0])
        assert await directory.user_name(CAROL) == "c.smith"
        assert await directory.user_name(CAROL) == "c.smith"
        assert fault_proxy.calls["ListUsers"] == 1
        await aws.iam_user("d.jones", {"email": "dave@example.com"})
        assert await directory.user_name("dave@example.com") is None  # built just now
        now[0] = 11.0
        assert await directory.user_name("dave@example.com") == "d.jones"
        assert fault_proxy.calls["ListUsers"] == 2
        await aws.iam_user("d.other", {"email": "dave@example.com"})
        now[0] = 400.0
        with pytest.raises(Exception, match="more than one IAM user has tag email"):
            await directory.user_name("dave@example.com")


def test_unknown_mappings_are_refused() -> None:
    for text in ("email", "tag:", "Tag:x"):
        with pytest.raises(ValueError, match="expected user_name, local_part or tag:KEY"):
            IamUserMapping.parse(text)


async def test_revoking_for_a_deleted_user_succeeds_and_errors_are_classified(
    aws: MotoAws, fault_proxy: FaultProxy
) -> None:
    await aws.iam_user(CAROL)
    await aws.iam_group("admins", CAROL)
    request = grant("aws_iam_group", iam_group="admins")
    async with connection(fault_proxy.url, "iam", max_attempts=2) as opened:
        strategy = AwsIamStrategy(IamDirectory(opened, IamUserMapping.parse("user_name")))
        await strategy.deescalate(grant("aws_iam_group", "zed@example.com", iam_group="admins"))
        fault_proxy.add("RemoveUserFromGroup", aws_proxy.SERVER_ERROR)
        await strategy.deescalate(request)  # one 500, retried
        assert await aws.iam_members("admins") == []
        fault_proxy.add("AddUserToGroup", aws_proxy.DENIED)
        with pytest.raises(StrategyError) as denied:
            await strategy.escalate(request)
        fault_proxy.add("AddUserToGroup", aws_proxy.THROTTLE, times=2)
        with pytest.raises(StrategyError) as throttled:
            await strategy.escalate(request)
    assert str(denied.value) == (
        "escalate: iam:AddUserToGroup: AccessDenied: not authorized to perform this action"
    )
    assert denied.value.permanent and denied.value.reached_target
    assert "Throttling" in str(throttled.value) and not throttled.value.permanent
    # Throttling, so the strategy's calls back off together rather than fail.
    assert isinstance(throttled.value, Throttled)


async def test_a_name_from_get_identity_replaces_the_mapping(aws: MotoAws) -> None:
    await aws.iam_user("c.smith", {"email": "someone-else@example.com"})
    async with connection(aws.server.url, "iam") as opened:
        strategy = AwsIamStrategy(IamDirectory(opened, IamUserMapping.parse("tag:email")))
        assert await strategy.remote_identity(CAROL, "c.smith") == "c.smith"
        with pytest.raises(StrategyError) as caught:
            await strategy.remote_identity(CAROL, "nobody")
        assert str(caught.value) == f"no IAM user for {CAROL} (expected the IAM user nobody)"
