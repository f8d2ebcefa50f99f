"""A clock that tests move by hand: sleepers wake when time is advanced past their deadline."""

from __future__ import annotations

import anyio


class FakeClock:
    """Starts at ``start`` and only moves when ``advance`` or ``set`` is called."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._moved = anyio.Event()

    def now(self) -> float:
        """The current fake time."""
        return self._now

    async def sleep_until(self, deadline: float) -> None:
        """Wait until the fake time reaches ``deadline``."""
        while self._now < deadline:
            await self._moved.wait()

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose deadline has come."""
        self.set(self._now + seconds)

    def set(self, moment: float) -> None:
        """Jump to ``moment`` (never backwards)."""
        if moment < self._now:
            raise ValueError("the fake clock does not go backwards")
        self._now = moment
        moved, self._moved = self._moved, anyio.Event()
        moved.set()
