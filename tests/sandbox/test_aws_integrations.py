"""aws_iam and aws_sso in hooks: worker to host to moto, errors as Sym's exception types."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from symbox.aws.iam import IamDirectory, IamUserMapping
from symbox.aws.identity_center import IdentityCenter
from symbox.sandbox.errors import HookError
from symbox.sandbox.hooks import HookOutcome, HookRunner
from symbox.sandbox.integrations import Integrations
from symbox.sandbox.integrations.aws import AwsIamHooks, AwsSsoHooks
from symbox.sandbox.pool import HookPool
from tests.fakes.moto import MotoAws
from tests.sandbox.test_integrations import FILE, event_for
from tests.strategies.aws_requests import connection

pytestmark = pytest.mark.anyio

HOOKS = """\
from sym.sdk.exceptions import AWSError, AWSSSOError
from sym.sdk.integrations import aws_iam, aws_sso
from sym.sdk.templates import ApprovalTemplate


def on_approve(event):
    if not aws_iam.is_user_in_group(event.user, group_name="approvers"):
        return ApprovalTemplate.ignore(message="IAM approvers only")


def sso_member(event):
    return aws_sso.is_user_in_group(event.user, group_name="oncall")


def missing_iam_group(event):
    return aws_iam.is_user_in_group(event.user, group_name="nope")


def missing_sso_group(event):
    try:
        aws_sso.is_user_in_group(event.user, group_name="nope")
    except AWSError as error:
        return [isinstance(error, AWSSSOError), str(error)]


def positional(event):
    return aws_sso.is_user_in_group(event.user, "oncall")
"""


@pytest.fixture
async def pool(aws: MotoAws) -> AsyncIterator[HookPool]:
    sso = await aws.sso()
    async with connection(aws.server.url, "iam", "sso-admin", "identitystore") as opened:
        provider = Integrations(
            aws_iam=AwsIamHooks(IamDirectory(opened, IamUserMapping.parse("user_name"))),
            aws_sso=AwsSsoHooks(IdentityCenter(opened, sso.instance_arn)),
        )
        async with HookPool(size=1, default_timeout=5.0, integrations=provider) as running:
            yield running


async def test_hooks_check_iam_and_sso_groups(aws: MotoAws, pool: HookPool) -> None:
    await aws.iam_user("alice@x.com")
    await aws.iam_user("bob@x.com")
    await aws.iam_group("approvers", "alice@x.com")
    alice = await aws.sso_user("alice@x.com")
    group = await aws.sso_group("oncall")
    await aws.add_sso_member(group, alice)
    await aws.sso_user("bob@x.com")

    runner = HookRunner(pool)
    assert await runner.run_hook(HOOKS, FILE, "approve", "on", event_for("alice@x.com")) == (
        HookOutcome.CONTINUE
    )
    for outsider in ("bob@x.com", "nobody@x.com"):
        outcome = await runner.run_hook(HOOKS, FILE, "approve", "on", event_for(outsider))
        assert outcome == HookOutcome("ignore", "IAM approvers only")

    async def call(name: str, email: str) -> object:
        return await pool.call(HOOKS, FILE, name, [event_for(email)], wrap_event=True)

    assert await call("sso_member", "alice@x.com") is True
    assert await call("sso_member", "bob@x.com") is False
    assert await call("sso_member", "nobody@x.com") is False
    assert await call("missing_sso_group", "alice@x.com") == [
        True,
        "no AWS SSO group is named 'nope'",
    ]
    with pytest.raises(HookError, match="AWSIAMError: no AWS IAM group is named 'nope'"):
        await call("missing_iam_group", "alice@x.com")
    with pytest.raises(HookError, match="takes 2 positional arguments"):
        await call("positional", "alice@x.com")


async def test_without_an_aws_strategy_calls_fail_clearly() -> None:
    async with HookPool(size=1) as bare:
        with pytest.raises(HookError, match="AWSSSOError: no aws_sso integration is configured"):
            await bare.call(HOOKS, FILE, "sso_member", [event_for("a@x")], wrap_event=True)
