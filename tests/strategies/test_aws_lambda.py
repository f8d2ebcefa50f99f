"""The aws_lambda strategy against moto's Lambda (its Docker-free mode), through the API.

moto's Lambda without Docker answers every invocation with the payload it was sent, or
with results queued through its API; the fault proxy adds what it never does: a function
that raises, and a function that does not exist.
"""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from symbox.strategies.aws_lambda import AwsLambdaStrategy, event_id
from symbox.strategies.base import StrategyError
from tests.fakes import aws_proxy
from tests.fakes.api_configs import lambda_config
from tests.fakes.aws_proxy import FaultProxy
from tests.fakes.moto import REGION, MotoServer
from tests.harness import Harness, harness
from tests.strategies.aws_requests import connection, grant

pytestmark = pytest.mark.anyio

CAROL = "carol@example.com"


def moto_api(server: MotoServer, path: str, body: object) -> None:
    """POST to moto's own API."""
    request = urllib.request.Request(
        f"{server.url}/moto-api/{path}", method="POST", data=json.dumps(body).encode()
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


@pytest.fixture
async def function(aws_env: MotoServer) -> str:
    """A function in moto, invoked without Docker; its ARN."""
    moto_api(aws_env, "config", {"lambda": {"use_docker": False}})
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as built:
        built.writestr("handler.py", "def handle(event, context):\n    return event\n")
    async with connection(aws_env.url, "iam", "lambda") as opened:
        role = await opened.iam().create_role(RoleName="access-fn", AssumeRolePolicyDocument="{}")
        created = await opened.lambda_().create_function(
            FunctionName="access-fn",
            Runtime="python3.12",
            Role=role["Role"]["Arn"],
            Handler="handler.handle",
            Code={"ZipFile": archive.getvalue()},
        )
    return created["FunctionArn"]


@asynccontextmanager
async def symbox_on(tmp_path: Path, proxy: FaultProxy, arn: str) -> AsyncIterator[Harness]:
    """symbox built from config, calling Lambda through the fault proxy."""
    text = lambda_config(proxy.url, arn)
    async with harness(tmp_path, config_text=lambda _: text) as h:
        yield h


def sent(proxy: FaultProxy) -> dict[str, object]:
    """The last payload symbox invoked the function with."""
    body: dict[str, object] = json.loads(proxy.bodies["Invoke"])
    return body


async def test_the_function_is_invoked_to_grant_and_to_revoke(
    tmp_path: Path, fault_proxy: FaultProxy, function: str
) -> None:
    async with symbox_on(tmp_path, fault_proxy, function) as h:
        run_id = await h.request(target="fn", duration="10m", reason="incident 7")
        approved = await h.approve(run_id)
        assert approved.json()["status"] == "escalated", approved.text
        escalate = sent(fault_proxy)
        assert escalate["event"] == {
            "type": "escalate",
            "timestamp": escalate["event"]["timestamp"],  # type: ignore[index]
            "channel": "symbox",
        }
        person = {"username": CAROL, "name": CAROL}
        assert escalate["id"] == event_id(run_id, "escalate")
        assert escalate["run"] == {"id": run_id, "flow": "access", "actors": {"request": person}}
        assert escalate["actor"] == person and escalate["user"] == {"email": CAROL}
        assert escalate["fields"] == {
            "reason": "incident 7",
            "duration": 600,
            "target": {
                "name": "fn",
                "label": "Access function",
                "type": "aws_lambda_function",
                "settings": {"arn": function},
            },
            "target_id": "fn",
        }
        assert escalate["meta"] == {"schema_version": 4} and escalate["type"] == "event"

        await h.advance(600)
        await h.wait_status(run_id, "deescalated")
        deescalate = sent(fault_proxy)
        assert deescalate["event"]["type"] == "deescalate"  # type: ignore[index]
        assert deescalate["id"] == event_id(run_id, "deescalate") != escalate["id"]
    assert fault_proxy.calls["Invoke"] == 2


async def test_errors_the_function_reports_or_raises_fail_the_attempt_and_it_is_retried(
    tmp_path: Path, fault_proxy: FaultProxy, aws_env: MotoServer, function: str
) -> None:
    moto_api(
        aws_env,
        "static/lambda-simple/response",
        {"results": [json.dumps({"body": {}, "errors": ["no such user", "try later"]})]},
    )
    async with symbox_on(tmp_path, fault_proxy, function) as h:
        reported = await h.request(target="fn")
        grant = (await h.approve(reported)).json()["grant"]
        assert grant["state"] == "escalating" and grant["attempts"] == 1
        expected = f"escalate: {function} returned errors: no such user; try later"
        assert expected in grant["last_error"]
        await h.advance(1.5)  # the next attempt gets the function's usual answer
        await h.wait_status(reported, "escalated")

        fault_proxy.add("Invoke", aws_proxy.FUNCTION_ERROR)
        raised = await h.request(target="fn")
        grant = (await h.approve(raised)).json()["grant"]
        assert f"escalate: {function} raised RuntimeError: boom xxx" in grant["last_error"]
        # The function's message is cut short: it is shown, not stored whole.
        assert "x" * 300 not in grant["last_error"]
        await h.advance(1.5)
        await h.wait_status(raised, "escalated")


async def test_a_missing_function_is_a_permanent_error(
    fault_proxy: FaultProxy, function: str
) -> None:
    fault_proxy.add("Invoke", aws_proxy.NO_FUNCTION)
    async with connection(fault_proxy.url, "lambda", max_attempts=1) as opened:
        strategy = AwsLambdaStrategy(opened)
        request = grant("aws_lambda_function", arn=function)
        with pytest.raises(StrategyError) as caught:
            await strategy.escalate(request)
        assert caught.value.permanent and not caught.value.reached_target
        assert "ResourceNotFoundException" in str(caught.value)
        # Throttling is retried by botocore; the grant then succeeds.
        fault_proxy.add("Invoke", aws_proxy.THROTTLE)
    async with connection(fault_proxy.url, "lambda", max_attempts=2) as opened:
        await AwsLambdaStrategy(opened).deescalate(request)
    assert fault_proxy.calls["Invoke"] == 3
    assert REGION in function


LAMBDA_HOOK = """
from sym.sdk.exceptions import AWSLambdaError
from sym.sdk.integrations import aws_lambda
from sym.sdk.templates import ApprovalTemplate


def on_request(event):
    arn = event.payload.fields["target"].settings["arn"]
    answer = aws_lambda.invoke(arn, {"approve": event.payload.fields["reason"] == "echo me"})
    try:
        aws_lambda.invoke(arn + "-missing", {})
    except AWSLambdaError as error:
        if "lambda:Invoke" not in str(error):
            raise
    if answer["approve"]:
        return ApprovalTemplate.approve(reason="the function said so")
"""


async def test_hooks_invoke_functions_through_the_host(
    tmp_path: Path, aws_env: MotoServer, function: str
) -> None:
    (tmp_path / "impl.py").write_text(LAMBDA_HOOK)
    text = lambda_config(aws_env.url, function).replace(
        'implementation = "# no hooks"', 'implementation = file("impl.py")'
    )
    async with harness(tmp_path, config_text=lambda _: text) as h:
        echoed = await h.request(target="fn", duration="10m", reason="echo me")
        run = await h.wait_status(echoed, "escalated")
        assert run["decisions"][0]["reason"] == "the function said so"
        other = await h.request(target="fn", duration="10m", reason="something else")
        assert (await h.run(other))["status"] == "requested"


# Sym's Lambda flows read the function's answer in after_escalate; the hooks here report
# what they read in their error, which the run keeps.
STEP_OUTPUT_HOOKS = """
from sym.sdk.exceptions import SymException
from sym.sdk.templates import ApprovalTemplateStep, get_step_output


def after_escalate(event):
    raise SymException("escalate said " + get_step_output()["body"]["message"])


def on_deescalate(event):
    earlier = get_step_output(ApprovalTemplateStep.ESCALATE)["body"]["message"]
    raise SymException("before revoking: " + earlier + "; now " + str(get_step_output()))


def after_deescalate(event):
    raise SymException("deescalate said " + get_step_output()["body"]["message"])
"""


async def test_hooks_read_the_functions_answers_with_get_step_output(
    tmp_path: Path, fault_proxy: FaultProxy, aws_env: MotoServer, function: str
) -> None:
    answers = [
        {"body": {"message": "connect as carol_tmp"}, "errors": []},
        {"body": {"message": "carol_tmp dropped"}, "errors": []},
    ]
    moto_api(
        aws_env,
        "static/lambda-simple/response",
        {"results": [json.dumps(answer) for answer in answers]},
    )
    (tmp_path / "impl.py").write_text(STEP_OUTPUT_HOOKS)
    text = lambda_config(fault_proxy.url, function).replace(
        'implementation = "# no hooks"', 'implementation = file("impl.py")'
    )
    async with harness(tmp_path, config_text=lambda _: text) as h:
        run_id = await h.request(target="fn", duration="10m")
        assert (await h.approve(run_id)).json()["status"] == "escalated"
        await h.advance(600)
        await h.wait_status(run_id, "deescalated")

        async def all_recorded() -> bool:
            return len((await h.run(run_id))["errors"]) == 3

        await h.wait_for(all_recorded, "the three hooks' reports")
        run = await h.run(run_id)
        said = [error.split("SymException: ", 1)[1] for error in run["errors"]]
        assert said == [
            "escalate said connect as carol_tmp",
            # Before the revocation, the deescalate step has no output yet.
            "before revoking: connect as carol_tmp; now {}",
            "deescalate said carol_tmp dropped",
        ]
        # The answers are for hooks only: neither the run nor its steps' events show them.
        steps = [event for event in run["events"] if event["name"] != "hook_error"]
        assert "step_outputs" not in run and "carol_tmp" not in json.dumps(steps)
