"""Who calls a strategy next: revocations first, oldest due first, within its call limits.

Pure: every method takes ``now``; the async gate around it does the waiting.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass
from enum import IntEnum

from symbox.config.call_limits import CallLimits

# Backoff after a throttled call when the target system says nothing of when to retry.
BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0


class Rank(IntEnum):
    """Which waiting calls go first: a revocation due is never behind a grant."""

    REVOKE = 0
    GRANT = 1


@dataclass(frozen=True, order=True)
class Place:
    """A call's place in the queue: its rank, then its due time, then its arrival."""

    rank: Rank
    due: float
    seq: int


class RateWindow:
    """Call starts in a sliding window: a call may start when fewer than ``calls`` started
    in the last ``per`` seconds, so no window of that length ever holds more."""

    def __init__(self, calls: int, per: float) -> None:
        self._calls = calls
        self._per = per
        self._starts: deque[float] = deque()

    def ready_in(self, now: float, reserved: int = 0) -> float | None:
        """Seconds until a call may start (0 if one may now), with ``reserved`` calls
        handed out but not started yet counted as starting now; None if only those
        calls' starts can tell."""
        while self._starts and self._starts[0] <= now - self._per:
            self._starts.popleft()
        if len(self._starts) + reserved < self._calls:
            return 0.0
        if reserved >= self._calls:
            return None
        return self._starts[reserved - self._calls + len(self._starts)] + self._per - now

    def started(self, at: float) -> None:
        """Note a call started ``at`` (kept in order even if the clock stepped back)."""
        self._starts.append(max(at, self._starts[-1]) if self._starts else at)


class CallQueue:
    """The waiting calls of one strategy and what lets the next one start.

    A call ``join``s, is handed out by ``next`` when its turn comes and the limits allow,
    then ends with ``finished`` or ``throttled``; a throttled call goes back to the same
    place, and the whole strategy pauses (as the target asked, else backing off
    exponentially from ``BACKOFF_BASE``).
    """

    def __init__(self, limits: CallLimits, *, slack: float = 0.0) -> None:
        self.limits = limits
        # ``slack``: seconds each start counts in the window beyond ``limits.per``.
        self._window = (
            None if limits.calls is None else RateWindow(limits.calls, limits.per + slack)
        )
        self._heap: list[Place] = []
        self._waiting: set[Place] = set()
        self._running: set[Place] = set()
        # Handed out, not yet started: the window counts them from when they start, so
        # the time a caller takes to resume never squeezes two calls closer together.
        self._reserved: set[Place] = set()
        self._seq = 0
        self._paused_until = 0.0
        self._backoff = BACKOFF_BASE

    @property
    def waiting(self) -> int:
        """Calls waiting for their turn."""
        return len(self._waiting)

    @property
    def running(self) -> int:
        """Calls handed out and not yet finished."""
        return len(self._running)

    def join(self, rank: Rank, due: float) -> Place:
        """Queue a call of ``rank`` due at ``due``; its place, for ``next`` and ``finished``."""
        self._seq += 1
        place = Place(rank, due, self._seq)
        self._push(place)
        return place

    def head(self) -> Place | None:
        """The waiting call that goes next."""
        while self._heap and self._heap[0] not in self._waiting:
            heapq.heappop(self._heap)
        return self._heap[0] if self._heap else None

    def ready_in(self, now: float) -> float | None:
        """Seconds until ``next`` can hand out the head; None if nobody waits, or if only
        a call finishing or starting can change that (not time passing)."""
        if self.head() is None:
            return None
        concurrency = self.limits.concurrency
        if concurrency is not None and len(self._running) >= concurrency:
            return None
        wait = max(0.0, self._paused_until - now)
        if self._window is not None:
            window = self._window.ready_in(now, len(self._reserved))
            if window is None:
                return None
            wait = max(wait, window)
        return wait

    def next(self, now: float) -> Place | None:
        """Hand out the head if it may start now (the caller then makes the call)."""
        if self.ready_in(now) != 0.0:
            return None
        place = heapq.heappop(self._heap)
        self._waiting.discard(place)
        self._running.add(place)
        self._reserved.add(place)
        return place

    def started(self, place: Place, now: float) -> None:
        """The handed-out call of ``place`` is being made now: it counts against the rate."""
        if place in self._reserved:
            self._reserved.discard(place)
            if self._window is not None:
                self._window.started(now)

    def finished(self, place: Place, *, ok: bool) -> None:
        """A handed-out call ended (``ok``: not refused as throttled); its slot is free."""
        self._reserved.discard(place)
        self._running.discard(place)
        if ok:
            self._backoff = BACKOFF_BASE

    def throttled(self, place: Place, now: float, retry_after: float | None) -> float:
        """The target refused ``place``'s call as one too many: pause every call of the
        strategy, and put this one back in its place. Returns the pause in seconds."""
        self._reserved.discard(place)
        self._running.discard(place)
        if retry_after is not None and retry_after >= 0:
            self._paused_until = max(self._paused_until, now + retry_after)
        elif now >= self._paused_until:
            self._paused_until = now + self._backoff
            self._backoff = min(self._backoff * 2, BACKOFF_CAP)
        # else: a call made before the pause began, refused with the others; the pause
        # already answers for it.
        self._push(place)
        return self._paused_until - now

    def leave(self, place: Place) -> None:
        """Forget ``place`` (its caller gave up), waiting or handed out."""
        self._waiting.discard(place)
        self._reserved.discard(place)
        self._running.discard(place)

    def _push(self, place: Place) -> None:
        self._waiting.add(place)
        heapq.heappush(self._heap, place)
