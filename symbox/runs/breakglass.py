"""Break-glass access: granted by the requester at once, loudly, and reviewed afterwards.

A request with a reason on a flow with a ``break_glass`` block skips the approver: the
run is stored already approved by its requester (a ``break_glass`` event, audited like
every event), escalates at once and ends by its timer as usual. Its notifications go to
every destination and to the Slack error logger channel (``notify/plan.py``). It stays
``needs_review`` until someone permitted to approve the flow reviews it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from symbox import logs
from symbox.config.model import Config, Flow
from symbox.engine import breakglass as engine
from symbox.engine.model import Actor, Run
from symbox.engine.permissions import DecisionRule
from symbox.engine.runs import Transition
from symbox.errors import BadRequest, Conflict, Forbidden
from symbox.flowhooks.calls import FlowHooks
from symbox.metrics import Metrics
from symbox.runs.ledger import RunLedger
from symbox.sandbox.hooks import HookOutcome

log = logging.getLogger(__name__)


class BreakGlass:
    """Checks, grants and reviews break-glass runs; the run service delegates to it."""

    def __init__(
        self,
        *,
        config: Config,
        ledger: RunLedger,
        hooks: FlowHooks | None,
        metrics: Metrics,
        now: Callable[[], float],
        target_key: Callable[[Run], str | None],
        get_run: Callable[[str], Awaitable[Run]],
        view_run: Callable[[str, Actor], Awaitable[Run]],
    ) -> None:
        self._config = config
        self._ledger = ledger
        self._hooks = hooks
        self._metrics = metrics
        self._now = now
        self._target_key = target_key
        self._get_run = get_run
        self._view_run = view_run

    @staticmethod
    def refuse(flow: Flow, actor: Actor) -> None:
        """Refuse (403) a flow without break-glass, or anyone but the requester themself."""
        refusal = engine.refusal(flow, actor)
        if refusal is not None:
            raise Forbidden(refusal)

    async def grant(
        self, opened: Transition, flow: Flow, actor: Actor, reason: str, channel: str
    ) -> Transition:
        """The just-opened request approved by its requester, if the flow's hook allows it.

        The reason and duration are checked (400) and ``on_break_glass`` runs before
        anything is stored: a hook that denies, ignores or fails refuses it (403).
        """
        problem = engine.input_problem(flow, reason, opened.run.duration)
        if problem is not None:
            raise BadRequest(problem)
        glass = engine.break_glass(
            opened.run,
            reason=reason,
            now=self._now(),
            channel=channel,
            target_key=self._target_key(opened.run),
        )
        outcome: HookOutcome | str = HookOutcome.CONTINUE
        if self._hooks is not None:
            outcome = await self._hooks.on(glass.run, flow, "break_glass", actor)
        if isinstance(outcome, str):
            # Access nobody approved is only granted when the flow's code agrees.
            raise Forbidden(f"on_break_glass failed, so no access was granted: {outcome}")
        if outcome.action in ("deny", "ignore"):
            log.warning(
                "break-glass refused by the flow's hook",
                extra={"flow": flow.name, "requester": opened.run.requester},
            )
            raise Forbidden(outcome.message or "the flow's on_break_glass hook refused break-glass")
        return Transition(glass.run, opened.events + glass.events)

    def granted(self, run: Run) -> None:
        """Count a stored break-glass run and say so in the log, loudly."""
        self._metrics.count(
            "symbox_break_glass_total",
            "Break-glass grants (access without approval).",
            flow=run.flow,
        )
        log.warning(
            "break-glass access granted without approval",
            extra={"run_id": run.id, "requester": run.requester, "flow": run.flow},
        )

    async def review(self, *, actor: Actor, run_id: str, reason: str | None, channel: str) -> Run:
        """Mark a break-glass run reviewed, as someone permitted to approve its flow."""
        with logs.bound(run_id=run_id):
            # Nobody who may not read the run learns it exists (404).
            run = await self._view_run(run_id, actor)
            flow = self._config.flow_by_name(run.flow)
            if flow is None:
                raise Conflict(f"flow {run.flow} of run {run_id} is no longer configured")
            rule: DecisionRule | None = None
            if self._hooks is not None:
                found = await self._hooks.decision_rule(run, flow, actor)
                if not isinstance(found, DecisionRule):
                    raise Forbidden(f"get_permissions failed: {found}")
                rule = found

            def step(current: Run) -> Transition:
                return engine.review(
                    current,
                    flow,
                    actor=actor,
                    reason=reason,
                    now=self._now(),
                    channel=channel,
                    rule=rule,
                )

            reviewed = await self._ledger.step(run_id, step)
            self._metrics.count(
                "symbox_break_glass_reviews_total", "Break-glass runs reviewed.", flow=run.flow
            )
            return reviewed
