"""The in-process timer: sleeps until the schedule's next due run and hands it to the service."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import anyio
from anyio.abc import TaskGroup

from symbox.clock import Clock
from symbox.engine.schedule import ExpirySchedule

log = logging.getLogger(__name__)

# A run whose processing raised is looked at again after this long, doubling each time.
RETRY_AFTER_ERROR = 5.0
MAX_RETRY_AFTER_ERROR = 600.0
# Sleeps are re-checked at least this often, so a wall-clock step or a suspended machine
# delays a revocation by at most this much.
MAX_SLEEP = 30.0
# Due runs handed to the batch handler at once, and batches being read at once.
BATCH_SIZE = 1024
BATCHES_IN_FLIGHT = 4
# Runs a batch handler deferred (their strategy has all the work it may hold) are looked
# at again this much later.
DEFERRED_FOR = 1.0


class DueOutcomes(Protocol):
    """Where a batch's remaining work says, as it happens, what became of its runs."""

    def failed(self, run_id: str, error: Exception) -> None:
        """Processing ``run_id`` raised ``error``: look at it again after a back-off."""

    def deferred(self, run_ids: Sequence[str]) -> None:
        """``run_ids`` were put off: look at them again DEFERRED_FOR from now."""

    def finished(self, run_ids: Sequence[str]) -> None:
        """``run_ids``' outcomes are committed (failed ones are also reported as such)."""


@dataclass(frozen=True)
class DueReport:
    """What a batch handler took on from due runs, and what it left.

    The handler returns once it has read its runs; ``rest``, if any, is the work it took
    on (strategy calls and their commits), awaited afterwards without holding the timer
    back, and says through its argument which runs failed or were put off as that
    happens. Every run of the batch is left (``single``, ``deferred``, ``failed``),
    reported by ``rest``, or finished by its end.
    """

    # Runs it left to be processed one by one (not revocations, or their lock was busy).
    single: Sequence[str] = ()
    # Runs whose processing raised, with the error: looked at again after a back-off.
    failed: Mapping[str, Exception] = field(default_factory=dict)
    # Runs it had no room for (their strategy is backed up): looked at again DEFERRED_FOR on.
    deferred: Sequence[str] = ()
    rest: Callable[[DueOutcomes], Awaitable[None]] | None = None


class DueBatch(Protocol):
    """Processes many due runs at once (revocations in groups)."""

    async def __call__(self, run_ids: Sequence[str]) -> DueReport:
        """Take on ``run_ids``; say which were left for one-by-one processing or failed."""
        ...


class ExpiryTimer:
    """Drives an ExpirySchedule: at most ``concurrency`` due runs are processed at once.

    With a ``batch`` handler, due runs go to it up to BATCH_SIZE at a time (at most
    BATCHES_IN_FLIGHT batches being read at once); what it leaves is processed one by one.
    The work a batch took on does not hold the timer: a strategy that hangs delays only
    its own runs.
    """

    def __init__(
        self,
        schedule: ExpirySchedule,
        clock: Clock,
        process: Callable[[str], Awaitable[None]],
        *,
        concurrency: int = 64,
        batch: DueBatch | None = None,
    ) -> None:
        self._schedule = schedule
        self._clock = clock
        self._process = process
        self._slots = anyio.Semaphore(concurrency)
        self._wake = anyio.Event()
        self._sleeping_until: float | None = None
        self._paused = False
        self._failures: dict[str, int] = {}
        self._batch = batch
        self._batches = anyio.Semaphore(BATCHES_IN_FLIGHT)

    def armed(self, due: float | None) -> None:
        """Tell the timer a run was armed for ``due``, so it wakes if that is sooner."""
        if due is None:
            return
        if self._sleeping_until is None or due < self._sleeping_until:
            self._wake.set()

    def pause(self) -> None:
        """Stop starting new work (used while shutting down); work in progress finishes."""
        self._paused = True
        self._wake.set()

    async def run(self) -> None:
        """Process due runs until cancelled or paused."""
        async with anyio.create_task_group() as workers:
            while not self._paused:
                now = self._clock.now()
                if self._batch is not None:
                    await self._batches.acquire()
                due = self._schedule.pop_due(now, limit=BATCH_SIZE)
                if self._batch is not None:
                    if due and not self._paused:
                        workers.start_soon(self._batched, self._batch, due, workers)
                    else:
                        self._batches.release()
                        self._rearm(due, now)
                else:
                    await self._start_each(due, workers)
                if due:
                    # Yield so new arrivals and finished workers are seen before sleeping.
                    await anyio.lowlevel.checkpoint()
                    continue
                await self._sleep(self._schedule.next_due())

    async def _start_each(self, due: Sequence[str], workers: TaskGroup) -> None:
        """Start processing each of ``due`` as a slot frees up."""
        for index, run_id in enumerate(due):
            await self._slots.acquire()
            if self._paused:
                # Shutting down: what was not started stays armed for the next start.
                self._slots.release()
                self._rearm(due[index:], self._clock.now())
                return
            workers.start_soon(self._guarded, run_id)

    def _rearm(self, run_ids: Sequence[str], due: float) -> None:
        for run_id in run_ids:
            self._schedule.set(run_id, due)

    async def _batched(self, batch: DueBatch, due: Sequence[str], workers: TaskGroup) -> None:
        try:
            try:
                report = await batch(due)
            except Exception as raised:
                report = DueReport(failed=dict.fromkeys(due, raised))
        finally:
            self._batches.release()
        outcomes = _BatchOutcomes(self)
        outcomes.deferred(report.deferred)
        for run_id, error in report.failed.items():
            outcomes.failed(run_id, error)
        if report.single:
            workers.start_soon(self._start_each, report.single, workers)
        if report.rest is not None:
            try:
                await report.rest(outcomes)
            except Exception as raised:
                accounted = {*report.single, *outcomes.left, *outcomes.done}
                for run_id in due:
                    if run_id not in accounted:
                        outcomes.failed(run_id, raised)
        # Runs gone one by one keep their count of failures: they are not done yet.
        unfinished = {*report.single, *outcomes.left}
        for run_id in due:
            if run_id not in unfinished:
                self._failures.pop(run_id, None)

    def _defer(self, run_ids: Sequence[str]) -> None:
        """Look at ``run_ids`` again DEFERRED_FOR from now (unless armed meanwhile)."""
        later = self._clock.now() + DEFERRED_FOR
        for run_id in run_ids:
            self._schedule.arm_unless_armed(run_id, later)
        self.armed(later)

    async def _sleep(self, deadline: float | None) -> None:
        self._sleeping_until = deadline
        try:
            async with anyio.create_task_group() as waiters:

                async def until_woken() -> None:
                    await self._wake.wait()
                    waiters.cancel_scope.cancel()

                waiters.start_soon(until_woken)
                cap = self._clock.now() + MAX_SLEEP
                await self._clock.sleep_until(cap if deadline is None else min(deadline, cap))
                waiters.cancel_scope.cancel()
        finally:
            self._sleeping_until = None
            self._wake = anyio.Event()

    async def _guarded(self, run_id: str) -> None:
        try:
            await self._process(run_id)
        except Exception as error:
            self._failed(run_id, error)
        else:
            self._failures.pop(run_id, None)
        finally:
            self._slots.release()

    def _failed(self, run_id: str, error: Exception) -> None:
        """Look at a run whose processing raised again later, backing off."""
        failures = self._failures[run_id] = self._failures.get(run_id, 0) + 1
        delay = min(RETRY_AFTER_ERROR * 2 ** (failures - 1), MAX_RETRY_AFTER_ERROR)
        log.error(
            "processing a due run failed",
            exc_info=error,
            extra={"run_id": run_id, "failures": failures, "retry_in": delay},
        )
        # A run armed since it was taken (a commit of its new state did) keeps a later
        # time: that is the stored one, and a look before it would find nothing due.
        self._schedule.arm_no_sooner(run_id, self._clock.now() + delay)
        self._wake.set()


class _BatchOutcomes:
    """The timer's side of DueOutcomes for one batch: re-arms runs, notes which."""

    def __init__(self, timer: ExpiryTimer) -> None:
        self._timer = timer
        self.left: set[str] = set()
        self.done: set[str] = set()

    def failed(self, run_id: str, error: Exception) -> None:
        self.left.add(run_id)
        self._timer._failed(run_id, error)

    def deferred(self, run_ids: Sequence[str]) -> None:
        self.left.update(run_ids)
        if run_ids:
            self._timer._defer(run_ids)

    def finished(self, run_ids: Sequence[str]) -> None:
        self.done.update(run_ids)
