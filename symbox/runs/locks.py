"""Locks by name, created on demand and dropped when nobody holds or waits for them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio


class KeyedLocks:
    """One lock per key: strategy calls for the same access never interleave."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[anyio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Hold the lock for ``key`` for the body of the ``async with``."""
        lock, users = self._locks.get(key, (anyio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def try_acquire(self, key: str) -> bool:
        """Take ``key``'s lock if nobody holds or waits for it; False (and nothing taken) if
        somebody does. The same task gives it back with ``release``."""
        if key in self._locks:
            return False
        lock = anyio.Lock()
        lock.acquire_nowait()
        self._locks[key] = (lock, 1)
        return True

    def release(self, key: str) -> None:
        """Give back a lock taken with ``try_acquire``."""
        lock, users = self._locks[key]
        lock.release()
        if users == 1:
            del self._locks[key]
        else:
            self._locks[key] = (lock, users - 1)

    def users(self, key: str) -> int:
        """How many tasks hold or wait for ``key``'s lock now."""
        return self._locks.get(key, (None, 0))[1]

    def __len__(self) -> int:
        return len(self._locks)
