"""Runs one case through the real run service, its store and its hooks, with stand-ins outside."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from symbox.config.hosts import hook_allow_list
from symbox.config.model import Config, Flow
from symbox.engine.model import Actor, Run, RunStatus
from symbox.engine.permissions import DecisionRule
from symbox.engine.schedule import ExpirySchedule
from symbox.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    HiddenRun,
    InputError,
    NotFound,
    Unavailable,
)
from symbox.flowhooks.calls import FlowHooks
from symbox.flowhooks.forms import implementation_file
from symbox.flowtest.answers import STRATEGY
from symbox.flowtest.spec import ANY_USER, Attempt, Case
from symbox.flowtest.standins import (
    Grant,
    StatedIntegrations,
    Step,
    StillClock,
    Trace,
    reachable,
    recording_strategies,
    stated_http,
)
from symbox.metrics import Metrics
from symbox.runs.service import RunService
from symbox.sandbox.hooks import HookRunner
from symbox.sandbox.integrations.base import IntegrationProvider
from symbox.sandbox.integrations.http import HttpGateway
from symbox.sandbox.integrations.scope import CallScope, environment_scope
from symbox.sandbox.pool import HookPool
from symbox.store.reader import Reader
from symbox.store.writer import Writer

# When a case's request is made unless it says `at`: a fixed moment, so runs repeat exactly.
DEFAULT_MOMENT = 1_800_000_000.0
# What the service answers when it refuses a request or a decision.
REFUSALS = (BadRequest, Conflict, Forbidden, InputError, NotFound, Unavailable)
STATUS_OUTCOMES: Mapping[RunStatus, str] = {
    RunStatus.REQUESTED: "pending",
    RunStatus.APPROVED: "approved",
    RunStatus.ESCALATED: "approved",
    RunStatus.DEESCALATED: "approved",
    RunStatus.DENIED: "denied",
    RunStatus.EXPIRED: "expired",
    RunStatus.ERRORED: "errored",
    RunStatus.WITHDRAWN: "withdrawn",
}


@dataclass(frozen=True)
class Mismatch:
    """One expectation that did not hold."""

    key: str
    expected: Any
    got: Any


@dataclass
class CaseResult:
    """How a case went: passed, failed (with mismatches) or error (with why)."""

    case: Case
    status: str
    got: dict[str, Any] = field(default_factory=dict)
    mismatches: list[Mismatch] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    trace: list[Step] = field(default_factory=list)
    seconds: float = 0.0


class FlowTester:
    """Runs cases against one config; hooks run in ``pool`` (None when no flow has hooks)."""

    def __init__(self, config: Config, pool: HookPool | None, trace: Trace) -> None:
        self._config = config
        self._pool = pool
        self._trace = trace

    async def run(self, case: Case) -> CaseResult:
        """Run ``case`` in a temporary folder of its own and judge what happened."""
        self._trace.steps = []
        started = time.monotonic()
        result = CaseResult(case, "error")
        try:
            with tempfile.TemporaryDirectory(prefix="symbox-test-") as folder:
                result = await self._run(case, Path(folder))
        except Exception as error:
            # Whatever broke, the other cases still run; this one reports it as its error.
            result.errors.append(f"{type(error).__name__}: {error}")
        result.trace = self._trace.steps
        result.seconds = time.monotonic() - started
        return result

    async def _run(self, case: Case, folder: Path) -> CaseResult:
        flow = self._config.flow_by_name(case.flow)
        assert flow is not None, "test files are checked against the config as they are read"
        reach = reachable(self._config, flow.environment)
        missing = sorted(case.answers.stated - reach - {"http", STRATEGY})
        if missing:
            return CaseResult(
                case,
                "error",
                errors=[
                    f"the case states {name} answers, but the hooks of environment"
                    f" {flow.environment} reach no {name} integration in the config"
                    for name in missing
                ],
            )
        writer = Writer(folder / "symbox.db", synchronous="OFF")
        reader = Reader(folder / "symbox.db")
        await writer.open()
        await reader.open()
        try:
            async with (
                stated_http(case.answers, self._trace) as client,
                anyio.create_task_group() as group,
            ):
                scopes: dict[str, IntegrationProvider] = {
                    key: CallScope(
                        StatedIntegrations(case.answers, reachable(self._config, key), self._trace),
                        http=HttpGateway(client, hook_allow_list(self._config, key)),
                        name=environment_scope(key),
                    )
                    for key in self._config.environments
                }
                group.start_soon(writer.serve)
                try:
                    result = await self._scenario(case, flow, writer, reader, scopes)
                finally:
                    group.cancel_scope.cancel()
            return result
        finally:
            await reader.close()
            await writer.close()

    async def _scenario(
        self,
        case: Case,
        flow: Flow,
        writer: Writer,
        reader: Reader,
        scopes: Mapping[str, IntegrationProvider],
    ) -> CaseResult:
        trace = self._trace
        clock = StillClock(case.at or DEFAULT_MOMENT)
        grants: list[Grant] = []
        hooks = None if self._pool is None else HookRunner(self._pool)
        service = RunService(
            config=self._config,
            writer=writer,
            reader=reader,
            clock=clock,
            strategies=recording_strategies(self._config, case.answers, grants, trace),
            schedule=ExpirySchedule(),
            metrics=Metrics(),
            hooks=hooks,
            hook_scopes=scopes,
        )
        actor = (
            Actor.user(case.requester)
            if case.submitted_by is None
            else Actor.bot(case.submitted_by)
        )
        trace.add(
            "step", f"{actor} requests {case.flow} for {case.requester}: {_fields(case.fields)}"
        )
        try:
            run = await service.request(
                actor=actor,
                flow_name=case.flow,
                requester=None if case.submitted_by is None else case.requester,
                inputs=case.fields,
                channel=case.channel,
            )
        except REFUSALS as error:
            trace.add("step", f"the request is refused: {error}")
            got: dict[str, Any] = {"outcome": "refused", "granted": False, "errors": [str(error)]}
            untried = "not tried: the request was refused"
            return _judge(case, got, [(attempt, untried, None) for attempt in case.attempts])
        self._note_run(run, "request")
        results: list[tuple[Attempt, str, str | None]] = []
        for attempt in case.attempts:
            self._note_rule(flow, hooks)
            run, outcome, message = await self._decide(service, run, flow, attempt, case.channel)
            results.append((attempt, outcome, message))
        final = await reader.get_run(run.id)
        assert final is not None, "the run was just committed"
        events = await reader.run_events(run.id)
        got = _observe(final, events, grants)
        if "approvers" in case.expect or "self_approval" in case.expect:
            rule = await self._rule(final, flow, hooks, scopes, service)
            if isinstance(rule, str):
                got["errors"] = [*got["errors"], f"get_permissions: {rule}"]
                got["hook_errors"] = [*got["hook_errors"], "get_permissions"]
            else:
                got["approvers"] = ANY_USER if rule.approvers is None else sorted(rule.approvers)
                got["self_approval"] = rule.allow_self_approval
        return _judge(case, got, results)

    async def _decide(
        self, service: RunService, run: Run, flow: Flow, attempt: Attempt, channel: str
    ) -> tuple[Run, str, str | None]:
        """Try ``attempt``'s decision: the run after it, "allowed" or "refused", and why."""
        by = attempt.by
        decider = Actor.bot(by.removeprefix("bot:")) if by.startswith("bot:") else Actor.user(by)
        try:
            decided = await service.decide(
                actor=decider,
                run_id=run.id,
                approve=attempt.action == "approve",
                reason=attempt.reason,
                channel=channel,
            )
        except HiddenRun:
            # The service answers as if the run did not exist, so the message says why.
            why = (
                f"the run is hidden from {decider} (the API answers 404): neither its"
                f" requester nor in vars.approvers of flow {flow.name}"
            )
        except REFUSALS as error:
            why = str(error)
        else:
            self._note_run(decided, f"{attempt.action} by {by}")
            return decided, "allowed", None
        self._trace.add("step", f"{attempt.action} by {by} is refused: {why}")
        return run, "refused", why

    async def _rule(
        self,
        run: Run,
        flow: Flow,
        hooks: HookRunner | None,
        scopes: Mapping[str, IntegrationProvider],
        service: RunService,
    ) -> DecisionRule | str:
        """Who may decide, asked as when the request is made: event.user is the requester."""
        if hooks is None or not _asks_permissions(hooks, flow):
            rule = DecisionRule.from_vars(flow.vars)
            self._trace.add("rule", f"who may decide: vars.approvers {_who(rule)}")
            return rule
        clock = StillClock(run.created_at)
        asker = FlowHooks(hooks, self._config, clock, service.target, scopes)
        answer = await asker.decision_rule(run, flow, Actor.user(run.requester))
        if not isinstance(answer, str):
            self._trace.add("rule", f"who may decide: get_permissions {_who(answer)}")
        return answer

    def _note_rule(self, flow: Flow, hooks: HookRunner | None) -> None:
        """Say what a decision is checked against when no hook call will show it."""
        if hooks is not None and _asks_permissions(hooks, flow):
            return  # the get_permissions call and its answer are in the trace
        rule = DecisionRule.from_vars(flow.vars)
        self._trace.add("rule", f"who may decide: vars.approvers {_who(rule)}")

    def _note_run(self, run: Run, after: str) -> None:
        decision = run.decision
        text = f"after {after}: the run is {run.status}"
        if decision is not None:
            verb = "approved" if decision.approved else "denied"
            by = _decider(decision.actor)
            text += f"; {verb} by {by}" + (f" ({decision.reason})" if decision.reason else "")
        if run.errors:
            text += f"; errors: {'; '.join(run.errors)}"
        self._trace.add("step", text)


def _asks_permissions(hooks: HookRunner, flow: Flow) -> bool:
    return "get_permissions" in hooks.defined(flow.implementation, implementation_file(flow))


def _who(rule: DecisionRule) -> str:
    people = "any signed-in user" if rule.approvers is None else ", ".join(sorted(rule.approvers))
    return f"{people or 'nobody'}" + (", self-approval allowed" if rule.allow_self_approval else "")


def _fields(fields: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in fields.items()) or "no fields"


def _decider(actor: Actor) -> str:
    # A flow's own hook is named as the hook, as a case expects it: decided_by = "on_request".
    return actor.id if actor.kind == "hook" else str(actor)


def _observe(run: Run, events: Sequence[Mapping[str, Any]], grants: list[Grant]) -> dict[str, Any]:
    """What happened to ``run``, in the shape a case's expect block states it."""
    granted = [grant for grant in grants if grant.action == "escalate"]
    decision = run.decision
    duration = None
    if run.grant is not None and run.grant.expires_at is not None and run.escalated_at is not None:
        duration = round(run.grant.expires_at - run.escalated_at)
    hook_errors = []
    for event in events:
        if event.get("name") == "hook_error":
            details = event.get("details") or {}
            hook_errors.append(str(details.get("hook")) if isinstance(details, Mapping) else "?")
    return {
        "outcome": STATUS_OUTCOMES[run.status],
        "decided_by": None if decision is None else _decider(decision.actor),
        "reason": None if decision is None else decision.reason,
        "notifications": [
            destination_text(item)
            for notification in run.notifications
            for item in notification.get("destinations", ())
        ],
        "hook_errors": hook_errors,
        "errors": list(run.errors),
        "granted": bool(granted),
        "target": granted[0].target if granted else None,
        "identity": granted[0].identity if granted else None,
        "duration": duration if granted else None,
    }


def destination_text(destination: Any) -> str:
    """A notification destination as a case states it: ``#channel``, an email, ``group(a, b)``."""
    if not isinstance(destination, Mapping):
        return str(destination)
    kind = destination.get("type")
    if kind == "slack_channel":
        return str(destination.get("channel"))
    if kind == "slack_user":
        return destination_text(destination.get("user"))
    inner = destination.get("users") if kind == "slack_group" else destination.get("destinations")
    items = ", ".join(destination_text(item) for item in inner or ())
    return f"{'group' if kind == 'slack_group' else 'fallback'}({items})"


def _judge(
    case: Case, got: dict[str, Any], results: list[tuple[Attempt, str, str | None]]
) -> CaseResult:
    expect = case.expect
    errors_expected = (
        "hook_errors" in expect or "error_contains" in expect or expect.get("outcome") == "errored"
    )
    if got.get("hook_errors") and not errors_expected:
        hooks = ", ".join(dict.fromkeys(got["hook_errors"]))
        errors = [f"unexpected error from {hooks}: {error}" for error in got["errors"]]
        return CaseResult(case, "error", got=got, errors=errors)
    mismatches: list[Mismatch] = []
    for key, wanted in expect.items():
        if key == "error_contains":
            if not any(wanted in error for error in got.get("errors", ())):
                mismatches.append(Mismatch("errors", f"... {wanted} ...", got.get("errors", [])))
            continue
        value = got.get(key)
        if key == "approvers" and isinstance(value, list):
            value = sorted(value)
        if value != wanted:
            mismatches.append(Mismatch(key, wanted, value))
    for attempt, outcome, message in results:
        label = f"{attempt.action} by {attempt.by} (line {attempt.location.line})"
        if attempt.expect is not None and attempt.expect != outcome:
            shown = outcome if message is None else f"{outcome}: {message}"
            mismatches.append(Mismatch(label, attempt.expect, shown))
        elif attempt.message_contains is not None and attempt.message_contains not in (
            message or ""
        ):
            mismatches.append(Mismatch(label, f"... {attempt.message_contains} ...", message))
    return CaseResult(case, "failed" if mismatches else "passed", got=got, mismatches=mismatches)
