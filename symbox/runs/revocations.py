"""Due revocations in groups: one read for many runs, their strategy calls side by side,
and one commit for each group of calls that finished."""

from __future__ import annotations

import ast
import logging
import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from symbox import logs
from symbox.clock import Clock
from symbox.config.model import Config
from symbox.engine import runs as engine
from symbox.engine.model import GrantState, Run, RunStatus
from symbox.engine.schedule import RetryPolicy
from symbox.metrics import LATENESS_BUCKETS, Metrics
from symbox.runs.expiry import BATCH_SIZE, BATCHES_IN_FLIGHT, DueOutcomes, DueReport
from symbox.runs.ledger import RunLedger, Step, timer_work
from symbox.runs.locks import KeyedLocks
from symbox.runs.strategy_calls import StrategyCalls, due_at
from symbox.store.reader import DueGrant, Reader
from symbox.strategies.base import StrategyError

log = logging.getLogger(__name__)

# Grant states whose due time means a revoke (or a retried one) is due.
_REVOKING = frozenset(
    {GrantState.ACTIVE.value, GrantState.REVOKING.value, GrantState.FAILING.value}
)
# Revocations one strategy may have taken on and not yet committed: as many as the timer
# reads at once, so a backed-up strategy still takes its share of a burst.
STRATEGY_BACKLOG = BATCH_SIZE * BATCHES_IN_FLIGHT
# Seconds without a commit after which a strategy that has all it may hold is taken to
# be stalled, and a group's further runs of it are deferred instead of waiting for room.
ROOM_WAIT = 1.0
# Hooks a revocation runs; a flow defining one keeps its runs on the one-by-one path.
_REVOKE_HOOKS = frozenset({"on_deescalate", "after_deescalate"})


def revoke_due_since(run: Run) -> float | None:
    """When an active grant's revocation fell due (its expiry), for the lateness metric."""
    grant = run.grant
    if grant is None or grant.state is not GrantState.ACTIVE:
        return None
    return grant.expires_at


def observe_lateness(metrics: Metrics, due_since: float | None, now: float) -> None:
    """Count a revocation made at ``now`` in the lateness histogram."""
    if due_since is None:
        return
    metrics.observe(
        "symbox_deescalation_lateness_seconds",
        "Seconds from a grant's expiry to its revocation.",
        max(0.0, now - due_since),
        LATENESS_BUCKETS,
    )


def log_revoke_failure(run: Run) -> None:
    """Say that a revoke failed, and whether and when it is tried again."""
    grant = run.grant
    if grant is not None and grant.state is GrantState.FAILING:
        log.error("grant is failing to revoke", extra={"run_id": run.id, "error": grant.last_error})
    elif grant is not None and grant.state is GrantState.REVOKING:
        # Access stays in place until the retry: the log says so, and until when.
        log.warning(
            "revoke failed; trying again",
            extra={
                "run_id": run.id,
                "attempt": grant.attempts,
                "next_attempt_at": grant.next_attempt_at,
                "error": grant.last_error,
            },
        )


def flows_with_revoke_hooks(config: Config) -> frozenset[str]:
    """The flows whose implementation defines a hook a revocation runs (or cannot be read)."""
    hooked = set()
    for flow in config.flows.values():
        try:
            tree = ast.parse(flow.implementation)
        except SyntaxError:
            hooked.add(flow.name)
            continue
        if any(
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in _REVOKE_HOOKS
            for node in tree.body
        ):
            hooked.add(flow.name)
    return frozenset(hooked)


@dataclass(frozen=True)
class _Revocation:
    run: Run
    covering: str | None
    due_since: float | None


@dataclass(frozen=True)
class _Done:
    """A revocation whose strategy call (if any) returned at ``now``."""

    revocation: _Revocation
    error: StrategyError | None
    output: object
    now: float


class DueRevocations:
    """Revokes many due grants at once, with the one-by-one path's guarantees.

    Each run's grant key is locked (without waiting: a busy key sends the run back to
    the one-by-one path) from before the run is read until its outcome is committed, so
    no other grant or revoke of that access interleaves. Runs of flows with revocation
    hooks, and due work that is not a revocation, go the one-by-one path too.

    Each strategy has its own calls in flight (``concurrency``) and holds at most
    ``backlog`` revocations taken on and not yet committed; as many more wait for room
    while it commits (without holding the timer) and are deferred when it stalls; beyond
    those, runs are deferred at once. So a strategy whose target hangs, or is slow, holds
    up its own revocations only.
    """

    def __init__(
        self,
        *,
        config: Config,
        reader: Reader,
        ledger: RunLedger,
        calls: StrategyCalls,
        locks: KeyedLocks,
        clock: Clock,
        metrics: Metrics,
        policy: RetryPolicy,
        rng: random.Random,
        hooks: bool,
        concurrency: int = 64,
        backlog: int = STRATEGY_BACKLOG,
    ) -> None:
        self._config = config
        self._reader = reader
        self._ledger = ledger
        self._calls = calls
        self._locks = locks
        self._clock = clock
        self._metrics = metrics
        self._policy = policy
        self._rng = rng
        self._hooked = flows_with_revoke_hooks(config) if hooks else frozenset()
        self._concurrency = concurrency
        self._backlog = backlog
        # By strategy: calls in flight (across every batch), and revocations taken on.
        self._slots: dict[str, anyio.CapacityLimiter] = {}
        self._taken: Counter[str] = Counter()
        # Runs taken from the timer that wait for room, by strategy (as many at most).
        self._waiting: Counter[str] = Counter()
        # Set when a strategy's revocations are committed: room for more.
        self._room: dict[str, anyio.Event] = {}

    async def __call__(self, run_ids: Sequence[str]) -> DueReport:
        """Take on what is due among ``run_ids``; the rest is left for one-by-one processing."""
        single: list[str] = []
        deferred: list[str] = []
        held: dict[str, str] = {}
        work: list[_Revocation] = []
        later: list[_Revocation] = []
        try:
            for grant in await self._reader.due_grants(run_ids):
                if not self._batchable(grant):
                    single.append(grant.id)
                elif grant.grant_key is not None and self._locks.try_acquire(grant.grant_key):
                    held[grant.id] = grant.grant_key
                else:
                    # Its access is being granted, revoked or reconciled: wait for it there.
                    single.append(grant.id)
            if held:
                await self._take_on(held, work, later, deferred)
        except BaseException:
            taken = {item.run.id: item.run.strategy or "" for item in work if not item.covering}
            self._uncount(taken, list(taken))
            self._unwait({item.run.id: item.run.strategy or "" for item in later})
            self._release(held, held)
            raise
        if not held:
            return DueReport(single=single, deferred=deferred)
        rest = partial(self._revoke, work, later, held)
        return DueReport(single=single, deferred=deferred, rest=rest)

    def _batchable(self, grant: DueGrant) -> bool:
        return (
            grant.status != RunStatus.REQUESTED.value
            and grant.grant_state in _REVOKING
            and grant.flow not in self._hooked
        )

    async def _take_on(
        self,
        held: dict[str, str],
        work: list[_Revocation],
        later: list[_Revocation],
        deferred: list[str],
    ) -> None:
        """Read the locked runs and sort the due ones: ``work`` their strategy has room for,
        ``later`` to wait for room, ``deferred`` beyond even that (their locks released)."""
        # A committed read is enough, as on the one-by-one path: we hold every run's key.
        now = self._clock.now()
        own: Counter[str] = Counter()
        taken_own: Counter[str] = Counter()
        stalled: set[str] = set()
        # A strategy with no room may hold the group (and the timer's read) this long at
        # most: a burst's groups wait their turn, as they always did, without one strategy
        # that is slow or hanging holding up the others' revocations for longer.
        deadline = now + ROOM_WAIT
        for run, covering in await self._reader.runs_and_covers(list(held)):
            strategy = run.strategy or ""
            revocation = _Revocation(run, covering, revoke_due_since(run))
            if run.grant is None or not engine.revoke_due(run, now):
                self._locks.release(held.pop(run.id))
            elif covering:
                work.append(revocation)
            elif self._taken[strategy] < self._backlog or (
                strategy not in stalled
                and await self._wait_for_room(strategy, self._taken, taken_own[strategy], deadline)
            ):
                self._taken[strategy] += 1
                taken_own[strategy] += 1
                work.append(revocation)
            # Only a strategy far behind (twice its backlog due) gets this far.
            elif strategy not in stalled and await self._wait_for_room(
                strategy, self._waiting, own[strategy], deadline
            ):
                self._waiting[strategy] += 1
                own[strategy] += 1
                later.append(revocation)
            else:
                stalled.add(strategy)
                self._locks.release(held.pop(run.id))
                deferred.append(run.id)
                self._count_deferred(strategy, 1)

    def _count_deferred(self, strategy: str, count: int) -> None:
        self._metrics.count(
            "symbox_revocations_deferred_total",
            "Due revocations put off for a second: their strategy had all it may hold.",
            count,
            strategy=strategy,
        )

    async def _wait_for_room(
        self,
        strategy: str,
        counts: Counter[str],
        own: int = 0,
        deadline: float | None = None,
    ) -> bool:
        """Wait until ``counts[strategy]`` (taken on, or waiting) is below the backlog;
        whether it is. False once the strategy makes no room for ROOM_WAIT (its calls
        hang) or, if given, at ``deadline``.

        A strategy working through a burst makes room with each group it commits, however
        slowly. ``own`` of the counted runs are this group's, whose work has not begun:
        when only they fill it, there is room (the group's own work will make more).
        """

        def full() -> bool:
            return own < counts[strategy] >= self._backlog

        while full() and (deadline is None or self._clock.now() < deadline):
            room = self._room.setdefault(strategy, anyio.Event())
            stalled = False
            async with anyio.create_task_group() as race:

                async def until_stalled() -> None:
                    nonlocal stalled
                    until = self._clock.now() + ROOM_WAIT
                    await self._clock.sleep_until(
                        until if deadline is None else min(until, deadline)
                    )
                    stalled = True
                    race.cancel_scope.cancel()

                race.start_soon(until_stalled)
                await room.wait()
                race.cancel_scope.cancel()
            # Room may have come as the stall timer fired: then it is not stalled.
            if stalled and full():
                return False
        return not full()

    def _release(self, held: dict[str, str], run_ids: Iterable[str]) -> None:
        for run_id in list(run_ids):
            key = held.pop(run_id, None)
            if key is not None:
                self._locks.release(key)

    async def _revoke(
        self,
        work: list[_Revocation],
        later: list[_Revocation],
        held: dict[str, str],
        outcomes: DueOutcomes,
    ) -> None:
        """Call the strategies side by side; commit what finished while the last commit ran.

        Runs waiting for room join their strategy's calls as its commits make room, or
        are deferred if it stalls; either way without holding the timer or other strategies.
        """
        uncounted = {item.run.id: item.run.strategy or "" for item in work if not item.covering}
        waiting = {item.run.id: item.run.strategy or "" for item in later}
        try:
            now = self._clock.now()
            finished = [_Done(item, None, None, now) for item in work if item.covering]
            by_strategy: dict[str, list[_Revocation]] = defaultdict(list)
            waiting_by_strategy: dict[str, list[_Revocation]] = defaultdict(list)
            for item in work:
                if not item.covering:
                    by_strategy[item.run.strategy or ""].append(item)
            for item in later:
                waiting_by_strategy[item.run.strategy or ""].append(item)
            arrived = anyio.Event()
            remaining = len(work) + len(later)
            # Runs put off while waiting for room, whose locks are still to be given back.
            released: list[str] = []

            def oldest_first(items: list[_Revocation]) -> list[_Revocation]:
                # As a strategy's gate orders them (the reads come in key order).
                return sorted(items, key=lambda item: due_at("deescalate", item.run, now))

            async def call_each(
                strategy: str, calls: MemoryObjectReceiveStream[_Revocation]
            ) -> None:
                nonlocal arrived
                slot = self._slots.get(strategy)
                if slot is None:
                    slot = self._slots[strategy] = anyio.CapacityLimiter(self._concurrency)
                async with calls:
                    async for item in calls:
                        with logs.bound(run_id=item.run.id):
                            error, output = await self._calls.call_for_output(
                                "deescalate", item.run, slot=slot
                            )
                        finished.append(_Done(item, error, output, self._clock.now()))
                        arrived.set()

            async def admit(
                strategy: str, items: list[_Revocation], calls: MemoryObjectSendStream[_Revocation]
            ) -> None:
                nonlocal remaining
                async with calls:
                    for index, item in enumerate(items):
                        if not await self._wait_for_room(strategy, self._taken):
                            put_off = [other.run.id for other in items[index:]]
                            self._unwait({run_id: waiting.pop(run_id) for run_id in put_off})
                            # Their locks are given back by the task that took them.
                            released.extend(put_off)
                            self._count_deferred(strategy, len(put_off))
                            remaining -= len(put_off)
                            arrived.set()
                            return
                        self._unwait({item.run.id: waiting.pop(item.run.id)})
                        self._taken[strategy] += 1
                        uncounted[item.run.id] = strategy
                        await calls.send(item)

            async with anyio.create_task_group() as group:
                # Each strategy's calls by workers of its own: one strategy's slow calls
                # never hold a place another's call could use.
                for strategy in {*by_strategy, *waiting_by_strategy}:
                    ready = oldest_first(by_strategy.get(strategy, []))
                    waits = oldest_first(waiting_by_strategy.get(strategy, []))
                    send, receive = anyio.create_memory_object_stream[_Revocation](math.inf)
                    for item in ready:
                        send.send_nowait(item)
                    for _ in range(min(len(ready) + len(waits), self._concurrency)):
                        group.start_soon(call_each, strategy, receive.clone())
                    receive.close()
                    if waits:
                        group.start_soon(admit, strategy, waits, send)
                    else:
                        send.close()
                while remaining or released:
                    if released:
                        put_off, released[:] = list(released), []
                        self._release(held, put_off)
                        outcomes.deferred(put_off)
                    if not finished:
                        if remaining:
                            await arrived.wait()
                            arrived = anyio.Event()
                        continue
                    group_done, finished[:] = list(finished), []
                    remaining -= len(group_done)
                    await self._commit(group_done, outcomes.failed)
                    done_ids = [done.revocation.run.id for done in group_done]
                    outcomes.finished(done_ids)
                    self._uncount(uncounted, done_ids)
                    self._release(held, done_ids)
        finally:
            self._uncount(uncounted, list(uncounted))
            self._unwait(waiting)
            self._release(held, held)

    def _uncount(self, uncounted: dict[str, str], run_ids: list[str]) -> None:
        """No longer count ``run_ids`` (those still counted) as taken on by their strategy."""
        for run_id in run_ids:
            strategy = uncounted.pop(run_id, None)
            if strategy is not None:
                self._taken[strategy] -= 1
                room = self._room.pop(strategy, None)
                if room is not None:
                    room.set()

    def _unwait(self, waiting: dict[str, str]) -> None:
        """No longer count these runs as waiting for room (and forget them)."""
        for strategy in waiting.values():
            self._waiting[strategy] -= 1
            room = self._room.pop(strategy, None)
            if room is not None:
                room.set()
        waiting.clear()

    async def _commit(self, group: list[_Done], failed: Callable[[str, Exception], None]) -> None:
        """Record a group of revocations (done or failed) in one writer job."""
        steps: list[tuple[str, Step]] = []
        for done in group:
            run = done.revocation.run
            if done.error is None:
                observe_lateness(self._metrics, done.revocation.due_since, done.now)
                step: Step = partial(
                    engine.deescalated,
                    now=done.now,
                    covered_by=done.revocation.covering,
                    output=done.output,
                )
            else:
                step = partial(
                    _failed,
                    error=done.error,
                    now=done.now,
                    policy=self._policy,
                    sample=self._rng.random(),
                )
            steps.append((run.id, step))
        try:
            # The runs as read under their locks: stepped without being read again.
            known = {done.revocation.run.id: done.revocation.run for done in group}
            with timer_work():
                outcomes = await self._ledger.step_each(steps, known)
        except Exception as error:
            # Nothing of the group was stored: each run is looked at again after a back-off.
            for done in group:
                failed(done.revocation.run.id, error)
            return
        for done, outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, Exception):
                failed(done.revocation.run.id, outcome)
            elif done.error is not None:
                log_revoke_failure(outcome)


def _failed(
    current: Run,
    *,
    error: StrategyError,
    now: float,
    policy: RetryPolicy,
    sample: float,
) -> engine.Transition:
    return engine.deescalation_failed(current, str(error), now, policy, sample, error.permanent)
