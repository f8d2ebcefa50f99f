"""Time as a dependency: the system clock, and the protocol tests replace it through."""

from __future__ import annotations

import time
from typing import Protocol

import anyio


class Clock(Protocol):
    """Wall-clock seconds since the epoch, and a way to wait until a moment."""

    def now(self) -> float:
        """Return the current time as POSIX seconds."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Return once ``now() >= deadline`` (at once if it already is)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        """Return the current time as POSIX seconds."""
        return time.time()

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until the wall clock reaches ``deadline``."""
        delay = deadline - time.time()
        if delay > 0:
            await anyio.sleep(delay)
