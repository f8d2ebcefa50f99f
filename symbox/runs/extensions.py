"""More time on an escalated run: the requester asks, hooks and approvers have their say.

An extension within the flow's ``extend_without_approval_up_to`` (and its maximum
duration) moves the grant's expiry at once; any other waits on the run for a permitted
approver, while the grant keeps its current expiry. Every change is one ledger step: the
run, its events and their audit records in one transaction, the timer re-armed after.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from symbox import logs
from symbox.clock import Clock
from symbox.config.model import Config, Flow
from symbox.engine import extensions as engine
from symbox.engine.inputs import duration_seconds
from symbox.engine.model import Actor, ExtensionStatus, Run, RunStatus
from symbox.engine.permissions import DecisionRule, may_decide
from symbox.engine.runs import Transition
from symbox.errors import BadRequest, Conflict, Forbidden
from symbox.flowhooks.calls import FlowHooks
from symbox.runs.ledger import RunLedger
from symbox.sandbox.hooks import HookOutcome

# Who decides an extension when the flow's on_extend hook does.
HOOK = Actor.hook("on_extend")


def extension_seconds(raw: Any) -> int:
    """An extension's length as the API or Slack gives it (``30m`` or seconds)."""
    try:
        return duration_seconds(raw)
    except ValueError as error:
        raise BadRequest(f"duration: {error}") from None


def waiting(run: Run) -> bool:
    """Tell whether ``run`` is escalated with an extension waiting for a decision."""
    extension = run.extension
    return (
        run.status is RunStatus.ESCALATED
        and extension is not None
        and extension.status is ExtensionStatus.PENDING
    )


class RunExtensions:
    """Asks for, decides and applies extensions; the run service delegates to it."""

    def __init__(
        self,
        *,
        config: Config,
        clock: Clock,
        ledger: RunLedger,
        hooks: FlowHooks | None,
        get_run: Callable[[str], Awaitable[Run]],
        view_run: Callable[[str, Actor], Awaitable[Run]],
        admit: Callable[[], None],
    ) -> None:
        self._config = config
        self._clock = clock
        self._ledger = ledger
        self._hooks = hooks
        self._get_run = get_run
        self._view_run = view_run
        self._admit = admit

    def _flow(self, run: Run) -> Flow:
        flow = self._config.flow_by_name(run.flow)
        if flow is None:
            raise Conflict(f"flow {run.flow} of run {run.id} is no longer configured")
        return flow

    async def extend(
        self, *, actor: Actor, run_id: str, duration: int, reason: str | None, channel: str
    ) -> Run:
        """Ask for ``duration`` more seconds on ``run_id``'s grant, as its requester.

        The flow's ``on_extend`` hook runs first: ``deny`` or ``approve`` decides the
        extension as the hook, ``ignore`` refuses it (403); a hook that raises denies it,
        with the error kept on the run.
        """
        with logs.bound(run_id=run_id):
            return await self._extend(actor, run_id, duration, reason, channel)

    async def _extend(
        self, actor: Actor, run_id: str, duration: int, reason: str | None, channel: str
    ) -> Run:
        # Nobody who may not read the run learns it exists (404).
        run = await self._view_run(run_id, actor)
        flow = self._flow(run)
        if channel not in flow.params.allowed_sources:
            # More time is more access: it comes only from where the flow takes requests.
            raise Forbidden(f"flow {flow.name} does not accept requests from {channel}")
        ask = partial(
            engine.request_extension,
            actor=actor,
            duration=duration,
            reason=reason,
            channel=channel,
        )
        # Checked before any hook runs: a refused caller never reaches the flow's code.
        tentative = ask(run, flow, now=self._clock.now(), automatic=False)
        self._admit()
        outcome: HookOutcome | str = HookOutcome.CONTINUE
        if self._hooks is not None:
            outcome = await self._hooks.on(tentative.run, flow, "extend", actor)
        if isinstance(outcome, HookOutcome) and outcome.action == "ignore":
            raise Forbidden(outcome.message or "the flow's on_extend hook ignored this extension")

        # The hook's verdict: (approve, its message, its error) or None to go on as usual.
        verdict: tuple[bool, str | None, str | None] | None = None
        if isinstance(outcome, str):
            verdict = False, f"on_extend: {outcome}", f"on_extend: {outcome}"
        elif outcome.action in ("approve", "deny"):
            verdict = outcome.action == "approve", outcome.message, None

        def step(current: Run) -> Transition:
            now = self._clock.now()
            if verdict is not None:
                approve, message, error = verdict
                return engine.hook_decided_extension(
                    current,
                    actor=actor,
                    hook=HOOK,
                    duration=duration,
                    reason=reason,
                    now=now,
                    channel=channel,
                    approve=approve,
                    message=message,
                    error=error,
                )
            automatic = engine.extends_without_approval(current, flow, duration)
            return ask(current, flow, now=now, automatic=automatic)

        return await self._ledger.step(run_id, step)

    async def decide(
        self, *, actor: Actor, run_id: str, approve: bool, reason: str | None, channel: str
    ) -> Run:
        """Approve or deny a run's pending extension, as the run's approvers may.

        Who may decide is the same rule as for the request (the flow's ``get_permissions``,
        else its ``vars``); an approval may take the grant past the flow's maximum duration.
        """
        with logs.bound(run_id=run_id):
            return await self._decide(actor, run_id, approve, reason, channel)

    async def _decide(
        self, actor: Actor, run_id: str, approve: bool, reason: str | None, channel: str
    ) -> Run:
        if approve:
            self._admit()
        run = await self._get_run(run_id)
        flow = self._flow(run)
        rule: DecisionRule | None = None
        if self._hooks is None or actor.kind == "hook":
            # Without hooks the flow's vars decide, and all they admit may read the run:
            # anyone else learns nothing about it (404), as GET answers.
            await self._view_run(run_id, actor)
        else:
            found = await self._hooks.decision_rule(run, flow, actor)
            if not isinstance(found, DecisionRule):
                await self._ledger.record_hook_error(run, "get_permissions", found)
                await self._view_run(run_id, actor)
                raise Forbidden(f"get_permissions failed: {found}")
            rule = found
            refusal = may_decide(rule, run, actor)
            if refusal is not None:
                await self._view_run(run_id, actor)
                raise Forbidden(refusal)

        def step(current: Run) -> Transition:
            return engine.decide_extension(
                current,
                self._flow(current),
                actor=actor,
                approve=approve,
                reason=reason,
                now=self._clock.now(),
                channel=channel,
                rule=rule,
            )

        return await self._ledger.step(run_id, step)
