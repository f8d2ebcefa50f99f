"""The expiry schedule and the retry policy: pure data structures driven with ``now``."""

from __future__ import annotations

import heapq
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of failed grants and revokes: soon, then exponential backoff with jitter."""

    # A failed grant or revoke is first tried again this soon (jittered like the rest), not
    # after ``base``: most failures are momentary (a connection reset by a target flooded
    # with the work due after a restart), and while a revoke waits, or a grant whose failed
    # call may have reached the target, access is held past its time.
    first: float = 0.25
    base: float = 10.0
    factor: float = 2.0
    # A delay is scaled by a factor drawn from [1 - jitter, 1 + jitter).
    jitter: float = 0.5
    max_attempts: int = 6
    # Once a grant is failing it is retried at this interval until it is revoked.
    slow_interval: float = 3600.0

    def delay(self, attempt: int, sample: float) -> float:
        """Seconds to wait after failed ``attempt`` (1-based); ``sample`` is in [0, 1)."""
        spread = 1.0 - self.jitter + 2.0 * self.jitter * sample
        return float(self.base * self.factor ** (attempt - 1) * spread)

    def retry_delay(self, attempt: int, sample: float) -> float:
        """Seconds to wait after failed ``attempt``: ``first`` after the first, else ``delay``."""
        if attempt == 1:
            return float(self.first * (1.0 - self.jitter + 2.0 * self.jitter * sample))
        return self.delay(attempt, sample)


class ExpirySchedule:
    """When each run next needs attention: one due time per run, earliest first.

    Replacing or removing a run's entry is O(1); stale heap entries are skipped lazily,
    so re-arming a run many times costs no more than the heap's log factor.
    """

    def __init__(self) -> None:
        self._due: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._due)

    def set(self, run_id: str, due: float | None) -> None:
        """Arm ``run_id`` for ``due``, or disarm it when ``due`` is None."""
        if due is None:
            self._due.pop(run_id, None)
            return
        if self._due.get(run_id) == due:
            return
        self._due[run_id] = due
        heapq.heappush(self._heap, (due, run_id))

    def arm_unless_armed(self, run_id: str, due: float) -> None:
        """Arm ``run_id`` for ``due`` unless it is armed already (its stored due time wins)."""
        if run_id not in self._due:
            self.set(run_id, due)

    def arm_no_sooner(self, run_id: str, due: float) -> None:
        """Arm ``run_id`` for ``due``, or keep the time it is armed for if that is later."""
        if self._due.get(run_id, due) <= due:
            self.set(run_id, due)

    def load(self, entries: list[tuple[str, float]]) -> None:
        """Arm many runs at once (on start), in O(n)."""
        for run_id, due in entries:
            self._due[run_id] = due
        self._heap.extend((due, run_id) for run_id, due in entries)
        heapq.heapify(self._heap)

    def next_due(self) -> float | None:
        """The earliest due time, or None if nothing is armed."""
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float, limit: int) -> list[str]:
        """Disarm and return up to ``limit`` runs due at or before ``now``, earliest first."""
        due: list[str] = []
        while len(due) < limit:
            self._drop_stale()
            if not self._heap or self._heap[0][0] > now:
                break
            _, run_id = heapq.heappop(self._heap)
            del self._due[run_id]
            due.append(run_id)
        return due

    def _drop_stale(self) -> None:
        heap = self._heap
        while heap and self._due.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
