"""A flow's hooks as the run service asks them, and the event they receive."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from symbox.audit.entry import redact
from symbox.clock import Clock
from symbox.config.durations import iso
from symbox.config.model import Config, Flow, Target
from symbox.engine.model import Actor, Run
from symbox.engine.permissions import DecisionRule, destinations_rule
from symbox.flowhooks.forms import check_forms, implementation_file
from symbox.flowhooks.integrations import (
    EnvironmentIntegrations,
    HookCall,
    environment_integrations,
)
from symbox.sandbox.errors import HookCompileError, HookFailure
from symbox.sandbox.hooks import HookOutcome, HookRunner
from symbox.sandbox.integrations.base import IntegrationProvider
from symbox.sandbox.integrations.scope import StepOutputs
from symbox.sandbox.policy import HookPolicy
from symbox.sandbox.views import actor_view, flow_view, user_view

log = logging.getLogger(__name__)

# Steps whose event.user is the requester: asking is theirs, also when a bot submits the
# request for them (``submitted_by`` keeps the bot).
REQUESTER_STEPS = frozenset({"prompt", "request"})


def hook_event(
    run: Run,
    flow: Flow,
    config: Config,
    target: Target | None,
    step: str,
    actor: Actor,
    clock: Clock,
) -> dict[str, Any]:
    """Build the event for ``step`` of ``run``, as ``actor`` takes it; secrets are redacted."""
    fields: dict[str, Any] = {key: value for key, value in run.fields.items() if key != "target"}
    if target is not None:
        fields["target"] = {
            "name": target.name,
            "label": target.label,
            "type": target.type,
            "settings": redact(target.settings),
        }
    if step == "extend" and run.extension is not None:
        # What the extension asks for, next to the request's own duration and reason.
        fields["extend_by"] = run.extension.duration
        fields["extend_reason"] = run.extension.reason
    if step == "break_glass" and run.decision is not None:
        # Why the requester skips the approval, for on_break_glass to judge.
        fields["break_glass_reason"] = run.decision.reason
    actors: dict[str, Any] = {"request": user_view(run.requester)}
    if run.decision is not None:
        actors["approve" if run.decision.approved else "deny"] = actor_view(run.decision.actor)
    # Whoever acts, never someone in their place: a bot's approval shown as the requester
    # would pass a hook's "is this person allowed" check for the wrong person.
    acting = user_view(run.requester) if step in REQUESTER_STEPS else actor_view(actor)
    return {
        "name": step,
        "user": acting,
        "payload": {"fields": fields, "timestamp": iso(clock.now())},
        "flow": flow_view(flow, config),
        "run": {"id": run.id, "actors": actors},
        # Sym's event.get_context("request"): what the request was sent with.
        "context": {"request": dict(run.context)} if run.context else {},
    }


class FlowHooks:
    """Runs a flow's hooks for the run service; failures come back as their error text."""

    def __init__(
        self,
        runner: HookRunner,
        config: Config,
        clock: Clock,
        target_of: Callable[[Run], Target | None],
        scopes: Mapping[str, IntegrationProvider] | None = None,
        environments: Mapping[str, EnvironmentIntegrations] | None = None,
    ) -> None:
        self._runner = runner
        self._config = config
        self._clock = clock
        self._target_of = target_of
        # What each environment's hooks may reach (its own HTTP allow-list), by environment.
        self._scopes = dict(scopes or {})
        # What each environment's hooks see as event.flow.environment.integrations.
        self._environments = (
            dict(environments) if environments is not None else environment_integrations(config)
        )

    @contextmanager
    def _call(
        self, run: Run, flow: Flow, step: str, actor: Actor
    ) -> Iterator[tuple[HookCall, dict[str, Any]]]:
        """One hook call's integrations and event; its secret handles end with it."""
        call = HookCall(
            self._scopes.get(flow.environment),
            self._environments.get(flow.environment),
            # Any of the run's hooks may read what its steps' strategy answered.
            outputs=StepOutputs(run.step_outputs, step),
        )
        try:
            target = self._target_of(run)
            event = hook_event(run, flow, self._config, target, step, actor, self._clock)
            yield call, call.bind(event)
        finally:
            call.close()

    async def on(self, run: Run, flow: Flow, step: str, actor: Actor) -> HookOutcome | str:
        """Run the flow's ``on_<step>`` hook, unless a hook is the one acting."""
        if actor.kind == "hook":
            return HookOutcome.CONTINUE
        with self._call(run, flow, step, actor) as (call, event):
            try:
                return await self._runner.run_hook(
                    flow.implementation,
                    implementation_file(flow),
                    step,
                    "on",
                    event,
                    integrations=call.integrations,
                )
            except HookFailure as error:
                log.warning("hook failed", extra={"run_id": run.id, "error": str(error)})
                return call.scrub(str(error))

    async def before(self, run: Run, flow: Flow, step: str, actor: Actor) -> str | None:
        """Run ``on_<step>`` for a step a hook cannot redirect; the error text if any.

        Escalation, de-escalation and request expiry are symbox's own steps: a template
        returned there would be silently meaningless, so it is reported as an error.
        """
        outcome = await self.on(run, flow, step, actor)
        if isinstance(outcome, str):
            return outcome
        if outcome.action != "continue":
            return (
                f"on_{step} returned ApprovalTemplate.{outcome.action}, which cannot change"
                f" a {step.replace('_', ' ')} step; return None"
            )
        return None

    async def notifications(
        self, run: Run, flow: Flow, actor: Actor
    ) -> tuple[dict[str, Any], ...] | str:
        """Where the request is posted (``get_request_notifications`` or ``get_approvers``).

        Returns plain data to store on the run, empty when neither reducer is defined, or
        the error text.
        """
        with self._call(run, flow, "request", actor) as (call, event):
            try:
                specs = await self._runner.reduce_notifications(
                    flow.implementation,
                    implementation_file(flow),
                    event,
                    integrations=call.integrations,
                )
            except HookFailure as error:
                log.warning(
                    "notification reducer failed", extra={"run_id": run.id, "error": str(error)}
                )
                return call.scrub(str(error))
        return tuple(
            {
                "destinations": [_plain(destination) for destination in spec.destinations],
                "timeout": spec.timeout,
            }
            for spec in specs or ()
        )

    async def identity(self, run: Run, flow: Flow) -> tuple[str | None, str | None]:
        """The flow's ``get_identity`` answer: (the name it gives or None, error text)."""
        with self._call(run, flow, "request", Actor.user(run.requester)) as (call, event):
            try:
                name = await self._runner.reduce_identity(
                    flow.implementation,
                    implementation_file(flow),
                    event,
                    integrations=call.integrations,
                )
            except HookFailure as error:
                log.warning("get_identity failed", extra={"run_id": run.id, "error": str(error)})
                return None, call.scrub(str(error))
        return name, None

    async def after(self, run: Run, flow: Flow, step: str, actor: Actor) -> str | None:
        """Run the flow's ``after_<step>`` hook for its side effects; the error text if any."""
        with self._call(run, flow, step, actor) as (call, event):
            try:
                await self._runner.run_hook(
                    flow.implementation,
                    implementation_file(flow),
                    step,
                    "after",
                    event,
                    integrations=call.integrations,
                )
            except HookFailure as error:
                log.warning("after hook failed", extra={"run_id": run.id, "error": str(error)})
                return call.scrub(str(error))
        return None

    async def decision_rule(self, run: Run, flow: Flow, actor: Actor) -> DecisionRule | str:
        """Who may decide: the flow's ``get_permissions`` answer, else its vars."""
        with self._call(run, flow, "approve", actor) as (call, event):
            try:
                permission = await self._runner.reduce_permissions(
                    flow.implementation,
                    implementation_file(flow),
                    event,
                    integrations=call.integrations,
                )
                if permission is None:
                    return self._default_rule(run, flow)
                return DecisionRule.from_permission(
                    permission.approve_deny,
                    permission.allow_self_approval,
                    flow.vars,
                    permission.approvals_required,
                )
            except (HookFailure, ValueError) as error:
                log.warning("get_permissions failed", extra={"run_id": run.id, "error": str(error)})
                return call.scrub(str(error))

    def _default_rule(self, run: Run, flow: Flow) -> DecisionRule:
        """Without ``get_permissions``: Sym's older ``get_approvers`` names who may decide."""
        names = self._runner.defined(flow.implementation, implementation_file(flow))
        if "get_approvers" in names and "get_request_notifications" not in names:
            return destinations_rule(run.notifications, flow.vars)
        return DecisionRule.from_vars(flow.vars)


def _plain(value: Any) -> Any:
    # Destinations arrive as read-only mappings; the run stores them as JSON.
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def check_implementations(config: Config) -> list[str]:
    """Compile every flow's hooks as the sandbox will; return each problem as file:line.

    Prefetch reducers and on_change functions are checked against the prompt fields too.
    """
    policy = HookPolicy()
    problems: list[str] = []
    for flow in config.flows.values():
        try:
            policy.compile(flow.implementation, implementation_file(flow))
        except HookCompileError as error:
            problems.append(str(error))
    return problems + check_forms(config)
