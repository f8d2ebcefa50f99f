"""Sym's Okta forms (group_id=, get_user_info) and aws_lambda.invoke_async, worker to host."""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from symbox.sandbox.errors import HookError
from symbox.sandbox.hooks import HookOutcome, HookRunner
from symbox.sandbox.integrations import Integrations, OktaClient
from symbox.sandbox.integrations.aws import AwsLambdaHooks
from symbox.sandbox.pool import HookPool
from tests.fakes.aws_proxy import FaultProxy
from tests.fakes.moto import MotoServer
from tests.sandbox.fake_services import OKTA_TOKEN, FakeOkta
from tests.sandbox.test_integrations import FILE, event_for
from tests.strategies.aws_requests import connection

pytestmark = pytest.mark.anyio

OKTA_BY_ID = """\
from sym.sdk.exceptions import OktaError
from sym.sdk.integrations import okta
from sym.sdk.templates import ApprovalTemplate


def on_approve(event):
    if not okta.is_user_in_group(event.user, group_id="00g1"):
        return ApprovalTemplate.ignore(message="Only Admins may approve.")


def members(event):
    return sorted(user.email for user in okta.users_in_group(group_id="00g2"))


def info(event):
    found = okta.get_user_info(event.user)
    return [found["id"], found["status"], found["profile"]["department"]]


def missing_group(event):
    try:
        okta.is_user_in_group(event.user, group_id="00g404")
    except OktaError as error:
        return str(error)


def call(event):
    kind, args, options = event.flow.vars["call"].split("|")
    arguments = [event.user] if args == "user" else []
    named = dict(pair.split("=") for pair in options.split(",")) if options else {}
    return getattr(okta, kind)(*arguments, **named)
"""


@pytest.fixture
def fake_okta() -> Iterator[FakeOkta]:
    with FakeOkta() as fake:
        yield fake


@pytest.fixture
async def okta_pool(fake_okta: FakeOkta) -> AsyncIterator[HookPool]:
    async with httpx.AsyncClient(trust_env=False, timeout=5.0) as client:
        provider = Integrations(okta=OktaClient(fake_okta.url, OKTA_TOKEN, client))
        async with HookPool(size=1, default_timeout=5.0, integrations=provider) as running:
            yield running


async def test_okta_groups_by_id_as_sym_names_them(
    okta_pool: HookPool, fake_okta: FakeOkta
) -> None:
    runner = HookRunner(okta_pool)
    alice, bob = event_for("alice@x.com"), event_for("bob@x.com")
    assert await runner.run_hook(OKTA_BY_ID, FILE, "approve", "on", alice) == HookOutcome.CONTINUE
    assert await runner.run_hook(OKTA_BY_ID, FILE, "approve", "on", bob) == HookOutcome(
        "ignore", "Only Admins may approve."
    )
    # Someone without an Okta account is in no group.
    nobody = event_for("zed@x.com")
    assert (await runner.run_hook(OKTA_BY_ID, FILE, "approve", "on", nobody)).action == "ignore"

    async def call(name: str, event: dict[str, Any]) -> Any:
        return await okta_pool.call(OKTA_BY_ID, FILE, name, [event], wrap_event=True)

    assert await call("members", alice) == ["alice@x.com", "bob@x.com"]
    # The group must exist, as in Sym: a wrong id is an error, not an empty group.
    assert await call("missing_group", alice) == "no Okta group has the id '00g404'"
    paths = {seen.path for seen in fake_okta.state.requests}
    assert {"/api/v1/groups/00g1", "/api/v1/groups/00g2", "/api/v1/groups/00g404"} <= paths
    assert {seen.authorization for seen in fake_okta.state.requests} == {f"SSWS {OKTA_TOKEN}"}


async def test_okta_user_info_is_oktas_user_object(okta_pool: HookPool) -> None:
    got = await okta_pool.call(OKTA_BY_ID, FILE, "info", [event_for("bob@x.com")], wrap_event=True)
    assert got == ["00u2", "ACTIVE", "Engineering"]
    with pytest.raises(HookError, match=r"OktaError: no Okta user has the login zed@x\.com"):
        await okta_pool.call(OKTA_BY_ID, FILE, "info", [event_for("zed@x.com")], wrap_event=True)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        # symbox's older forms keep working: by name, positionally or by keyword.
        ("is_user_in_group|user|group_name=Admins", True),
        ("users_in_group||group_name=Nobody", "OktaError: no Okta group is named 'Nobody'"),
        ("is_user_in_group|user|", "give the Okta group as group_id="),
        ("is_user_in_group|user|group_id=00g1,group_name=Admins", "not both"),
        ("users_in_group||group_id=", "give the Okta group as group_id="),
    ],
)
async def test_okta_group_forms(okta_pool: HookPool, spec: str, expected: object) -> None:
    event = event_for("alice@x.com", call=spec)
    if isinstance(expected, str):
        with pytest.raises(HookError, match=expected):
            await okta_pool.call(OKTA_BY_ID, FILE, "call", [event], wrap_event=True)
    else:
        assert await okta_pool.call(OKTA_BY_ID, FILE, "call", [event], wrap_event=True) is expected


LAMBDA_HOOKS = """\
from sym.sdk.exceptions import AWSLambdaError
from sym.sdk.integrations import aws_lambda


def after_escalate(event):
    queued = aws_lambda.invoke_async(event.flow.vars["arn"], {"email": event.user.email})
    answered = aws_lambda.invoke(event.flow.vars["arn"], {"email": event.user.email})
    return [queued, answered]


def missing(event):
    try:
        aws_lambda.invoke_async(event.flow.vars["arn"] + "-gone", {})
    except AWSLambdaError as error:
        return str(error)


def no_arn(event):
    return aws_lambda.invoke_async("")
"""


def moto_api(server: MotoServer, path: str, body: object) -> None:
    """POST to moto's own API."""
    request = urllib.request.Request(
        f"{server.url}/moto-api/{path}", method="POST", data=json.dumps(body).encode()
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


@pytest.fixture
async def function(aws_env: MotoServer) -> str:
    """A function in moto, invoked without Docker (it answers with its payload); its ARN."""
    moto_api(aws_env, "config", {"lambda": {"use_docker": False}})
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as built:
        built.writestr("handler.py", "def handle(event, context):\n    return event\n")
    async with connection(aws_env.url, "iam", "lambda") as opened:
        role = await opened.iam().create_role(RoleName="notify-fn", AssumeRolePolicyDocument="{}")
        created = await opened.lambda_().create_function(
            FunctionName="notify-fn",
            Runtime="python3.12",
            Role=role["Role"]["Arn"],
            Handler="handler.handle",
            Code={"ZipFile": archive.getvalue()},
        )
    return str(created["FunctionArn"])


@pytest.fixture
async def lambda_pool(fault_proxy: FaultProxy) -> AsyncIterator[HookPool]:
    async with connection(fault_proxy.url, "lambda") as opened:
        provider = Integrations(aws_lambda=AwsLambdaHooks(opened))
        async with HookPool(size=1, default_timeout=10.0, integrations=provider) as running:
            yield running


async def test_invoke_async_queues_the_invocation(
    lambda_pool: HookPool, fault_proxy: FaultProxy, function: str
) -> None:
    event = event_for("carol@x.com", arn=function)
    got = await lambda_pool.call(LAMBDA_HOOKS, FILE, "after_escalate", [event], wrap_event=True)
    assert got == [True, {"email": "carol@x.com"}]
    # Both reached Lambda's Invoke; the first asked for a queued (Event) invocation.
    assert fault_proxy.calls["Invoke"] == 2
    assert json.loads(fault_proxy.bodies["Invoke"]) == {"email": "carol@x.com"}
    assert fault_proxy.invocation_types == ["Event", "RequestResponse"]


async def test_invoke_async_failures_are_lambda_errors(
    lambda_pool: HookPool, fault_proxy: FaultProxy, function: str
) -> None:
    fault_proxy.add("Invoke", "no_function")
    event = event_for("carol@x.com", arn=function)
    missing = await lambda_pool.call(LAMBDA_HOOKS, FILE, "missing", [event], wrap_event=True)
    assert "ResourceNotFoundException" in missing
    with pytest.raises(HookError, match=r"aws_lambda\.invoke_async needs the function's ARN"):
        await lambda_pool.call(LAMBDA_HOOKS, FILE, "no_arn", [event], wrap_event=True)
