"""Step outputs in a hook call's scope: alongside its secret handles, only for its own run."""

from __future__ import annotations

import pytest

from symbox.config.model import Secret
from symbox.flowhooks.integrations import EnvironmentIntegrations, HookCall
from symbox.sandbox.integrations.scope import CallScope, StepOutputs, scope_name
from symbox.sandbox.sdk.exceptions import TemplateError
from symbox.sandbox.sdk.strategies import SECRET_KEY

pytestmark = pytest.mark.anyio

OUTPUTS = {"escalate": {"body": {"message": "connect as carol_tmp"}}}


async def test_a_hook_call_reads_its_runs_outputs_beside_its_secrets() -> None:
    marker = {SECRET_KEY: {"id": "api.key", "label": "env(KEY)"}}
    environment = EnvironmentIntegrations(
        views={"api": {"settings": {"key": marker}}},
        secrets={"api.key": Secret("s3cret", "env(KEY)")},
    )
    base = CallScope(name="environment main")
    call = HookCall(base, environment, outputs=StepOutputs(OUTPUTS, "deescalate"))
    scope = call.integrations
    assert scope is not None and scope_name(scope) == "environment main"
    asked = await scope.call("templates", "get_step_output", {"step": "escalate"})
    assert asked == OUTPUTS["escalate"]
    # Without a step, the hook's own: de-escalation has not answered yet.
    assert await scope.call("templates", "get_step_output", {"step": None}) == {}
    # The call's secret handles still resolve through the same scope.
    views = call.bind({"flow": {"environment": {}}})["flow"]["environment"]["integrations"]
    handle = views["api"]["settings"]["key"][SECRET_KEY]["id"]
    assert await scope.call("secrets", "retrieve", {"id": handle}) == "s3cret"
    with pytest.raises(TemplateError, match="there is no step 'grant'"):
        await scope.call("templates", "get_step_output", {"step": "grant"})
    call.close()


async def test_scopes_without_outputs_refuse_the_call() -> None:
    scope = CallScope(name="integration api")
    with pytest.raises(TemplateError, match="only available in a run's hooks"):
        await scope.call("templates", "get_step_output", {"step": None})
    # A call with no scope at all keeps the pool's own provider (nothing to add outputs to).
    assert HookCall(None, None, outputs=StepOutputs(OUTPUTS, "escalate")).integrations is None
