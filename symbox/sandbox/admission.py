"""Who may start a hook call now: fair shares of the pool's workers, and throttled owners.

Pure bookkeeping, no awaiting: the pool asks, waits for a release when refused, and asks
again. Times are passed in (the pool's clock), so the rules are tested without sleeping.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ThrottlePolicy:
    """When an owner (a flow's hooks, a custom strategy) counts as stuck, and for how long."""

    # This many timeouts within `window` seconds throttle the owner ...
    timeouts: int = 3
    window: float = 60.0
    # ... to one call at a time, for this long after the last timeout.
    cooldown: float = 60.0


@dataclass
class _Owner:
    timeouts: deque[float] = field(default_factory=deque)
    throttled_until: float = float("-inf")


class Admission:
    """Counts running calls by scope and owner, and decides whether one more may start.

    A scope may hold at most ``share`` of the ``size`` concurrent calls, and the last free
    place goes only to a scope with no call running, so a scope that has none always
    finds one soon; a throttled owner runs one call at a time.
    """

    def __init__(self, size: int, share: int, throttle: ThrottlePolicy | None = None) -> None:
        if not 1 <= share <= size:
            raise ValueError("a scope's share must be between 1 and the pool size")
        self.size = size
        self.share = share
        self._throttle = throttle or ThrottlePolicy()
        self._scopes: Counter[str] = Counter()
        self._owners: Counter[str] = Counter()
        self._history: dict[str, _Owner] = {}

    @property
    def running(self) -> int:
        """How many calls are admitted and not yet released."""
        return sum(self._scopes.values())

    def admit(self, scope: str, owner: str, now: float) -> bool:
        """Take a place for a call of ``owner`` in ``scope`` if the rules allow it now."""
        if self.running >= self.size or self._scopes[scope] >= self.share:
            return False
        # The last place is kept for a scope with nothing running, so that two busy
        # scopes cannot take the whole pool from a third.
        if self._scopes[scope] and self.running >= self.size - 1:
            return False
        if self.throttled(owner, now) and self._owners[owner] >= 1:
            return False
        self._scopes[scope] += 1
        self._owners[owner] += 1
        return True

    def release(self, scope: str, owner: str) -> None:
        """Give back the place of a finished call."""
        self._scopes[scope] -= 1
        self._owners[owner] -= 1
        if self._scopes[scope] <= 0:
            del self._scopes[scope]
        if self._owners[owner] <= 0:
            del self._owners[owner]

    def throttled(self, owner: str, now: float) -> bool:
        """Whether ``owner`` is limited to one call at a time now."""
        record = self._history.get(owner)
        return record is not None and now < record.throttled_until

    def timed_out(self, owner: str, now: float) -> bool:
        """Record a timeout of ``owner``; True when this one starts (or renews) a throttle."""
        record = self._history.setdefault(owner, _Owner())
        record.timeouts.append(now)
        while record.timeouts and record.timeouts[0] <= now - self._throttle.window:
            record.timeouts.popleft()
        if len(record.timeouts) < self._throttle.timeouts:
            return False
        starts = now >= record.throttled_until
        record.throttled_until = now + self._throttle.cooldown
        return starts
