"""Calls into access strategies, with their outcome counted and timed, never raising."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import anyio

from symbox.clock import Clock
from symbox.config.call_limits import CallLimits
from symbox.config.model import Target
from symbox.engine.call_queue import Rank
from symbox.engine.model import GrantState, Run
from symbox.metrics import STRATEGY_BUCKETS, Metrics
from symbox.runs.strategy_gate import StrategyGate
from symbox.strategies.base import AccessStrategy, GrantRequest, StrategyError

log = logging.getLogger(__name__)

# The most of a step's output a run keeps (as JSON), for hooks' get_step_output.
MAX_STEP_OUTPUT = 64 * 1024


class StrategyCalls:
    """Escalates and de-escalates runs through their strategy; failures come back as values.

    Each strategy with ``limits`` has one gate shared by all its targets: calls beyond its
    rate or concurrency wait, revocations before grants and oldest due first, and a call
    its target throttles waits its turn again instead of failing.
    """

    def __init__(
        self,
        strategies: Mapping[str, AccessStrategy],
        target_of: Callable[[Run], Target | None],
        clock: Clock,
        metrics: Metrics,
        limits: Mapping[str, CallLimits] | None = None,
    ) -> None:
        self._strategies = strategies
        self._target_of = target_of
        self._clock = clock
        self._metrics = metrics
        self._gates = {
            key: StrategyGate(key, bound, clock, metrics)
            for key, bound in (limits or {}).items()
            if bound.calls is not None or bound.concurrency is not None
        }

    async def call(
        self, action: str, run: Run, identity: str | None = None
    ) -> StrategyError | None:
        """Run ``action`` (escalate or deescalate) for ``run``; the error, or None if done.

        ``identity`` is the requester's identity in the target system; without it, the one
        the grant was made to (if recorded) is used.
        """
        error, _ = await self.call_for_output(action, run, identity)
        return error

    async def call_for_output(
        self,
        action: str,
        run: Run,
        identity: str | None = None,
        *,
        slot: anyio.CapacityLimiter | None = None,
    ) -> tuple[StrategyError | None, Any]:
        """As ``call``, with what the strategy answered (None if nothing, or too large).

        ``slot``, if given, is held while the call is made, not while it waits for its turn
        under its strategy's limits: callers sharing it across strategies would otherwise
        let later-due calls fill the gate and go before earlier ones still outside it.
        """
        strategy = self._strategies.get(run.strategy or "")
        target = self._target_of(run)
        if strategy is None or target is None:
            missing = StrategyError(
                f"strategy {run.strategy} or target {run.target} is no longer configured",
                permanent=True,
                reached_target=False,
            )
            return missing, None
        call = strategy.escalate if action == "escalate" else strategy.deescalate
        started = time.monotonic()

        async def make() -> object:
            nonlocal started
            # Stamped when the call is made, not when it began waiting for its turn.
            started = time.monotonic()
            request = GrantRequest(
                run_id=run.id,
                flow=run.flow,
                requester=run.requester,
                target=target,
                fields={key: value for key, value in run.fields.items() if key != "target"},
                at=self._clock.now(),
                identity=identity or (run.grant.identity if run.grant else None),
                outputs=run.step_outputs,
            )
            if slot is None:
                return await call(request)
            async with slot:
                return await call(request)

        gate = self._gates.get(run.strategy or "")
        output: Any = None
        try:
            if gate is None:
                answer = await make()
            else:
                rank = Rank.GRANT if action == "escalate" else Rank.REVOKE
                answer = await gate.run(rank, due_at(action, run, self._clock.now()), make)
            output = _kept(action, run, answer)
        except StrategyError as error:
            outcome = "failed"
            result: StrategyError | None = error
        except Exception as error:
            # A bug or an unexpected library error must not leave a grant half-handled.
            log.exception("strategy %s raised", action, extra={"run_id": run.id})
            outcome = "failed"
            result = StrategyError(f"{action} failed: {type(error).__name__}")
        else:
            outcome = "ok"
            result = None
        self._metrics.count(f"symbox_{action}_total", f"Strategy {action} calls.", outcome=outcome)
        self._metrics.observe(
            "symbox_strategy_call_seconds",
            "Seconds a strategy's escalate or deescalate call took.",
            time.monotonic() - started,
            STRATEGY_BUCKETS,
            action=action,
            strategy=run.strategy or "",
        )
        return result, output


def due_at(action: str, run: Run, now: float) -> float:
    """When the call fell due, for its place in the queue: a revocation since its grant's
    expiry (or retry time, if sooner); an escalation since its approval."""
    if action == "escalate":
        return run.decision.at if run.decision is not None else run.created_at
    grant = run.grant
    if grant is None:
        return now
    moments = [grant.expires_at]
    if grant.state is not GrantState.ACTIVE:
        moments.append(grant.next_attempt_at)
    return min([moment for moment in moments if moment is not None] + [now])


def _kept(action: str, run: Run, output: object) -> Any:
    """``output`` if a run can keep it: JSON data of a bounded size, else None."""
    if output is None:
        return None
    try:
        size = len(json.dumps(output))
    except (TypeError, ValueError):
        log.warning("strategy %s answered non-JSON data", action, extra={"run_id": run.id})
        return None
    if size > MAX_STEP_OUTPUT:
        log.warning(
            "strategy %s answered %d bytes; not kept", action, size, extra={"run_id": run.id}
        )
        return None
    return output
