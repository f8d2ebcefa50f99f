"""The in-process timer: sleeps until the schedule's next due run and hands it to the service."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio

from symbox.clock import Clock
from symbox.engine.schedule import ExpirySchedule

log = logging.getLogger(__name__)

# A run whose processing raised is looked at again after this long, doubling each time.
RETRY_AFTER_ERROR = 5.0
MAX_RETRY_AFTER_ERROR = 600.0
# Sleeps are re-checked at least this often, so a wall-clock step or a suspended machine
# delays a revocation by at most this much.
MAX_SLEEP = 30.0


class ExpiryTimer:
    """Drives an ExpirySchedule: at most ``concurrency`` due runs are processed at once."""

    def __init__(
        self,
        schedule: ExpirySchedule,
        clock: Clock,
        process: Callable[[str], Awaitable[None]],
        *,
        concurrency: int = 64,
    ) -> None:
        self._schedule = schedule
        self._clock = clock
        self._process = process
        self._slots = anyio.Semaphore(concurrency)
        self._wake = anyio.Event()
        self._sleeping_until: float | None = None
        self._paused = False
        self._failures: dict[str, int] = {}

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
                due = self._schedule.pop_due(now, limit=1024)
                for index, run_id in enumerate(due):
                    await self._slots.acquire()
                    if self._paused:
                        # Shutting down: what was not started stays armed for the next start.
                        self._slots.release()
                        for unstarted in due[index:]:
                            self._schedule.set(unstarted, now)
                        break
                    workers.start_soon(self._guarded, run_id)
                if due:
                    # Yield so new arrivals and finished workers are seen before sleeping.
                    await anyio.lowlevel.checkpoint()
                    continue
                await self._sleep(self._schedule.next_due())

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
        except Exception:
            failures = self._failures[run_id] = self._failures.get(run_id, 0) + 1
            delay = min(RETRY_AFTER_ERROR * 2 ** (failures - 1), MAX_RETRY_AFTER_ERROR)
            log.exception(
                "processing a due run failed",
                extra={"run_id": run_id, "failures": failures, "retry_in": delay},
            )
            self._schedule.set(run_id, self._clock.now() + delay)
            self._wake.set()
        else:
            self._failures.pop(run_id, None)
        finally:
            self._slots.release()
