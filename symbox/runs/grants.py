"""Granting and taking back one run's access: its strategy call under the grant's lock."""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable

from symbox.clock import Clock
from symbox.config.model import Config, Flow
from symbox.engine import runs as engine
from symbox.engine.model import Actor, GrantState, Run
from symbox.engine.permissions import DecisionRule
from symbox.engine.schedule import RetryPolicy
from symbox.errors import NotFound
from symbox.flowhooks.calls import FlowHooks
from symbox.metrics import Metrics
from symbox.runs.grant_identities import GrantIdentities
from symbox.runs.ledger import RunLedger
from symbox.runs.locks import KeyedLocks
from symbox.runs.revocations import log_revoke_failure, observe_lateness, revoke_due_since
from symbox.runs.strategy_calls import StrategyCalls
from symbox.store.reader import Reader

log = logging.getLogger(__name__)


class Grants:
    """Escalates an approved run and de-escalates a due one, each on its own.

    RunService calls it after a decision or a revoke, and for the timer's runs that the
    grouped revocations leave (``DueRevocations``).
    """

    def __init__(
        self,
        *,
        config: Config,
        clock: Clock,
        reader: Reader,
        ledger: RunLedger,
        calls: StrategyCalls,
        locks: KeyedLocks,
        identities: GrantIdentities,
        metrics: Metrics,
        policy: RetryPolicy,
        rng: random.Random,
        hooks: FlowHooks | None,
        target_key: Callable[[Run], str | None],
        get_run: Callable[[str], Awaitable[Run]],
    ) -> None:
        self._config = config
        self._clock = clock
        self._reader = reader
        self._ledger = ledger
        self._calls = calls
        self._locks = locks
        self._identities = identities
        self._metrics = metrics
        self._policy = policy
        self._rng = rng
        self._hooks = hooks
        self._target_key = target_key
        self._get_run = get_run

    async def escalate(
        self, run_id: str, known: Run | None = None, rule: DecisionRule | None = None
    ) -> Run:
        """Grant an approved run's access, unless that already happened.

        ``known`` is the run as the caller just saw it; it is read again under the lock.
        ``rule`` is the one the approval was checked by, if the caller knows it.
        """
        run = known or await self._get_run(run_id)
        if run.grant is None or run.grant.state is not GrantState.ESCALATING:
            return run
        run = await self._bind_identity(run, rule)
        if run.grant is None or run.grant.state is not GrantState.ESCALATING:
            return run
        async with self._locks.hold(run.grant.key):
            run = await self._get_run(run_id)
            if run.grant is None or run.grant.state is not GrantState.ESCALATING:
                return run
            flow = self._config.flow_by_name(run.flow)
            reached_target = False
            retryable = False
            if flow is None:
                # Its flow was removed from the config: nothing says how long to grant for.
                message: str | None = f"flow {run.flow} is no longer configured"
            else:
                message = await before_step(self._hooks, run, flow, "escalate")
                if message is None:
                    error, output = await self._calls.call_for_output("escalate", run)
                    message = None if error is None else str(error)
                    reached_target = error is None or error.reached_target
                    retryable = error is not None and not error.permanent
            now = self._clock.now()
            if flow is not None and message is None:
                try:
                    run = await self._ledger.step(
                        run_id,
                        lambda current: engine.escalated(current, flow, now, output=output),
                    )
                except Exception as error:
                    # The grant exists at the target but could not be recorded: it must
                    # not stay there unrecorded, so the run errors and the grant is revoked.
                    log.exception("recording an escalation failed", extra={"run_id": run_id})
                    message = f"recording the grant failed: {type(error).__name__}"
            if message is not None:
                run = await self._escalation_failed(
                    run_id, flow if retryable else None, message, now, reached_target
                )
        if run.grant is not None and run.grant.state is GrantState.REVOKING:
            # Whatever part of the grant may have been made is taken back at once.
            run = await self.deescalate(run_id)
        return run

    async def _escalation_failed(
        self, run_id: str, retry_in: Flow | None, error: str, now: float, reached_target: bool
    ) -> Run:
        """Record a failed grant: tried again within ``retry_in``'s escalate_timeout, if given."""
        sample = self._rng.random()

        def step(current: Run) -> engine.Transition:
            at = None
            if retry_in is not None:
                at = engine.escalation_retry_at(current, retry_in, now, self._policy, sample)
            if at is not None:
                return engine.escalation_retried(current, error, now, at)
            return engine.escalation_failed(current, error, now, reached_target=reached_target)

        run = await self._ledger.step(run_id, step)
        if run.grant is not None and run.grant.state is GrantState.ESCALATING:
            log.warning(
                "grant failed; trying again",
                extra={
                    "run_id": run_id,
                    "attempt": run.grant.attempts,
                    "next_attempt_at": run.grant.next_attempt_at,
                    "error": error,
                },
            )
        return run

    async def _bind_identity(self, run: Run, rule: DecisionRule | None = None) -> Run:
        """Record who an approved run's grant goes to, before anything is granted.

        The grant key then names that identity, so the grant is locked, overlapped and
        revoked as what it is at the target, whatever the mapping says later. A grant
        that would go to its approver's own identity errors the run instead.
        """
        strategy = self._identities.resolver(run)
        target_key = self._target_key(run)
        grant = run.grant
        if grant is None or grant.identity is not None or target_key is None:
            # Bound already, or a target gone from the config (the escalation says so).
            return run
        if strategy is None:
            return run
        # One lookup per run, even when the timer's safety net and the approval overlap.
        async with self._locks.hold(f"identity/{run.id}"):
            run = await self._get_run(run.id)
            grant = run.grant
            if grant is None or grant.state is not GrantState.ESCALATING:
                return run
            if grant.identity is not None or self._config.flow_by_name(run.flow) is None:
                return run
            identity, failure = await self._identities.of(run)
            if identity is None:
                return await self._bind_failed(run, f"identity lookup: {failure}")
            refusal = await self._identities.approvers_own(run, strategy, identity, rule)
            if refusal is not None:
                return await self._bind_failed(run, refusal)
            # The caller escalates right away, so the timer keeps only its late safety net.
            return await self._ledger.step(
                run.id,
                lambda current: engine.bind_identity(current, target_key, identity),
                escalating_inline=True,
            )

    async def _bind_failed(self, run: Run, message: str) -> Run:
        # Nothing was asked of the target system yet, so there is nothing to take back.
        now = self._clock.now()
        return await self._ledger.step(
            run.id,
            lambda current: engine.escalation_failed(current, message, now, reached_target=False),
        )

    async def deescalate(self, run_id: str, known: Run | None = None) -> Run:
        """Take a run's access away if that is due, honouring overlapping grants."""
        run = known or await self._get_run(run_id)
        if run.grant is None or not engine.revoke_due(run, self._clock.now()):
            return run
        key = run.grant.key
        async with self._locks.hold(key):
            # A committed read is enough: a grant only becomes active (and so covers this
            # one) under the lock we hold. An approval only adds an escalating grant, which
            # covers nothing: it waits for the lock and grants again after this revoke, and
            # if it fails instead, this revoke has already ended the access.
            current, covering = await self._reader.run_and_cover(run_id, key)
            if current is None:
                raise NotFound(f"no run {run_id!r}")
            run = current
            due_since = revoke_due_since(run)
            if run.grant is None or not engine.revoke_due(run, self._clock.now()):
                return run
            flow = self._config.flow_by_name(run.flow)
            if flow is not None and run.grant.attempts == 0:
                # A failing hook never keeps access in place: it is recorded, not obeyed.
                hook_error = await before_step(self._hooks, run, flow, "deescalate")
                run = await self._ledger.record_hook_error(run, "on_deescalate", hook_error)
            error, output = None, None
            if not covering:
                error, output = await self._calls.call_for_output("deescalate", run)
            now = self._clock.now()
            if error is None:
                observe_lateness(self._metrics, due_since, now)
                return await self._ledger.step(
                    run_id, lambda current: engine.deescalated(current, now, covering, output)
                )
            sample = self._rng.random()
            run = await self._ledger.step(
                run_id,
                lambda current: engine.deescalation_failed(
                    current, str(error), now, self._policy, sample, error.permanent
                ),
            )
            log_revoke_failure(run)
            return run


async def before_step(hooks: FlowHooks | None, run: Run, flow: Flow, step: str) -> str | None:
    """Run ``on_<step>`` for one of symbox's own steps; the error text if it failed."""
    if hooks is None:
        return None
    # A revoke someone asked for is theirs; expiry, forwarding and granting are symbox's.
    revoker = run.ended_by if step == "deescalate" else None
    error = await hooks.before(run, flow, step, revoker or Actor.system())
    return None if error is None else f"on_{step}: {error}"
