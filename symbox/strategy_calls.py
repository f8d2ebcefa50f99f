"""Calls into access strategies, with their outcome counted and timed, never raising."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from symbox.clock import Clock
from symbox.config.model import Target
from symbox.engine.model import Run
from symbox.metrics import STRATEGY_BUCKETS, Metrics
from symbox.strategies.base import AccessStrategy, GrantRequest, StrategyError

log = logging.getLogger(__name__)


class StrategyCalls:
    """Escalates and de-escalates runs through their strategy; failures come back as values."""

    def __init__(
        self,
        strategies: Mapping[str, AccessStrategy],
        target_of: Callable[[Run], Target | None],
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        self._strategies = strategies
        self._target_of = target_of
        self._clock = clock
        self._metrics = metrics

    async def call(
        self, action: str, run: Run, identity: str | None = None
    ) -> StrategyError | None:
        """Run ``action`` (escalate or deescalate) for ``run``; the error, or None if done.

        ``identity`` is the requester's identity in the target system; without it, the one
        the grant was made to (if recorded) is used.
        """
        strategy = self._strategies.get(run.strategy or "")
        target = self._target_of(run)
        if strategy is None or target is None:
            return StrategyError(
                f"strategy {run.strategy} or target {run.target} is no longer configured",
                permanent=True,
                reached_target=False,
            )
        request = GrantRequest(
            run_id=run.id,
            flow=run.flow,
            requester=run.requester,
            target=target,
            fields={key: value for key, value in run.fields.items() if key != "target"},
            at=self._clock.now(),
            identity=identity or (run.grant.identity if run.grant else None),
        )
        call = strategy.escalate if action == "escalate" else strategy.deescalate
        started = time.monotonic()
        try:
            await call(request)
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
        return result
