"""The gate every call of one strategy passes: its rate, its concurrency, throttling answers."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from symbox.clock import Clock
from symbox.config.call_limits import CallLimits
from symbox.engine.call_queue import CallQueue, Place, Rank
from symbox.metrics import Metrics
from symbox.strategies.base import Throttled

log = logging.getLogger(__name__)

T = TypeVar("T")

# How long one call keeps being retried while its target throttles it; after that the
# throttling answer is the call's failure, and the run's own retry policy takes over.
GIVE_UP_AFTER = 600.0
# Each call start holds its place in the rate window this much longer than the window:
# the target times a call a little after symbox does, by an amount that varies, and
# without slack a call could land in the target's second just before another left it.
WINDOW_SLACK = 0.005


class StrategyGate:
    """Lets calls through in queue order (``CallQueue``) as the limits allow; a call the
    target throttles waits in its place and goes again, without failing."""

    def __init__(
        self,
        strategy: str,
        limits: CallLimits,
        clock: Clock,
        metrics: Metrics,
        *,
        give_up_after: float = GIVE_UP_AFTER,
    ) -> None:
        self._strategy = strategy
        self._queue = CallQueue(limits, slack=WINDOW_SLACK)
        self._clock = clock
        self._metrics = metrics
        self._give_up_after = give_up_after
        # The event each waiting call sleeps on; set when it is handed out or must look again.
        self._events: dict[Place, anyio.Event] = {}
        # Handed out and not yet started, in queue order: they start in that order.
        self._handed: deque[Place] = deque()
        self._show_waiting()

    @property
    def waiting(self) -> int:
        """Calls waiting for their turn."""
        return self._queue.waiting

    async def run(self, rank: Rank, due: float, call: Callable[[], Awaitable[T]]) -> T:
        """Make ``call`` when its turn comes; throttled answers are retried in place."""
        place = self._queue.join(rank, due)
        self._show_waiting()
        throttled_since: float | None = None
        try:
            while True:
                await self._turn(place)
                self._queue.started(place, self._clock.now())
                # A start may be what the head was waiting for (a full rate window).
                self._dispatch()
                try:
                    result = await call()
                except Throttled as error:
                    now = self._clock.now()
                    throttled_since = now if throttled_since is None else throttled_since
                    self._count_throttle()
                    if now - throttled_since >= self._give_up_after:
                        self._queue.finished(place, ok=False)
                        raise
                    pause = self._queue.throttled(place, now, error.retry_after)
                    log.warning(
                        "strategy throttled; its calls pause",
                        extra={"strategy": self._strategy, "pause": pause, "error": str(error)},
                    )
                    self._dispatch()
                    continue
                except BaseException:
                    self._queue.finished(place, ok=False)
                    raise
                self._queue.finished(place, ok=True)
                return result
        finally:
            # A caller cancelled while waiting (or handed out) leaves nothing behind.
            self._queue.leave(place)
            if place in self._handed:
                self._handed.remove(place)
                self._wake_first_handed()
            self._events.pop(place, None)
            self._show_waiting()
            self._dispatch()

    async def _turn(self, place: Place) -> None:
        """Wait until ``place`` is handed out.

        The call at the head of the queue sleeps until the limits let it go; the others
        sleep until woken (handed out, or become the head).
        """
        while True:
            self._dispatch()
            if self._handed and self._handed[0] == place:
                self._handed.popleft()
                self._events.pop(place, None)
                self._wake_first_handed()
                return
            event = self._events[place] = anyio.Event()
            if place in self._handed:
                # Handed out behind others: they start first, so the target sees queue order.
                await event.wait()
                continue
            wait = self._queue.ready_in(self._clock.now())
            if wait is not None and self._queue.head() == place:
                await self._sleep(event, self._clock.now() + wait)
            else:
                await event.wait()

    def _dispatch(self) -> None:
        """Hand out every call that may start now, then make sure the head keeps time."""
        now = self._clock.now()
        handed = False
        while (place := self._queue.next(now)) is not None:
            handed = True
            self._handed.append(place)
        self._wake_first_handed()
        head = self._queue.head()
        if head is not None and (handed or self._queue.ready_in(now) is not None):
            self._wake(head)
        self._show_waiting()

    def _wake_first_handed(self) -> None:
        if self._handed:
            self._wake(self._handed[0])

    def _wake(self, place: Place) -> None:
        event = self._events.get(place)
        if event is not None:
            event.set()

    async def _sleep(self, event: anyio.Event, deadline: float) -> None:
        """Sleep until ``deadline`` on the gate's clock, or until ``event`` is set."""
        async with anyio.create_task_group() as waiters:

            async def until_deadline() -> None:
                await self._clock.sleep_until(deadline)
                waiters.cancel_scope.cancel()

            waiters.start_soon(until_deadline)
            await event.wait()
            waiters.cancel_scope.cancel()

    def _count_throttle(self) -> None:
        self._metrics.count(
            "symbox_strategy_throttled_total",
            "Strategy calls the target system refused as too many (retried in place).",
            strategy=self._strategy,
        )

    def _show_waiting(self) -> None:
        self._metrics.gauge(
            "symbox_strategy_waiting",
            "Strategy calls waiting for their turn under the strategy's call limits.",
            self._queue.waiting,
            strategy=self._strategy,
        )
