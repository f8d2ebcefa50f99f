"""A slow, rate-limited target system: each call takes ``latency``; more than ``limit`` calls
started in any ``window`` seconds are refused as throttled (as an HTTP 429 would be)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from symbox.clock import Clock
from symbox.strategies.base import GrantRequest, Throttled


@dataclass(frozen=True)
class Call:
    """One call the fake took: what, for which run, and when it started."""

    action: str
    run_id: str
    at: float


@dataclass
class ThrottlingStrategy:
    """An access strategy with a provider's manners: slow, and strict about its rate."""

    clock: Clock
    latency: float = 0.1
    limit: int = 20
    window: float = 1.0
    # The Retry-After the refusals carry (None: they say nothing).
    retry_after: float | None = None
    calls: list[Call] = field(default_factory=list)
    refused: list[Call] = field(default_factory=list)
    _starts: deque[float] = field(default_factory=deque)

    async def escalate(self, request: GrantRequest) -> None:
        """Grant, slowly; or refuse as throttled."""
        await self._call("escalate", request)

    async def deescalate(self, request: GrantRequest) -> None:
        """Revoke, slowly; or refuse as throttled."""
        await self._call("deescalate", request)

    def max_in_window(self) -> int:
        """The most accepted calls that started within any ``window`` seconds."""
        starts = sorted(call.at for call in self.calls)
        most, first = 0, 0
        for last, at in enumerate(starts):
            while starts[first] <= at - self.window:
                first += 1
            most = max(most, last - first + 1)
        return most

    async def _call(self, action: str, request: GrantRequest) -> None:
        now = self.clock.now()
        while self._starts and self._starts[0] <= now - self.window:
            self._starts.popleft()
        call = Call(action, request.run_id, now)
        if len(self._starts) >= self.limit:
            self.refused.append(call)
            raise Throttled(
                f"{action}: HTTP 429 (over {self.limit} calls a second)",
                retry_after=self.retry_after,
            )
        self._starts.append(now)
        self.calls.append(call)
        await self.clock.sleep_until(now + self.latency)
