"""The single writer: jobs run one after another in one thread, committed in groups."""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from symbox.engine.model import Run
from symbox.store.committed import CommittedRuns
from symbox.store.schema import migrate
from symbox.store.txn import RunCache, WriteTxn

T = TypeVar("T")
# Runs kept decoded in the writer: enough for every run in flight at once.
RUN_CACHE_SIZE = 4096


class WriterClosed(Exception):
    """The writer stopped before the job could run."""


@dataclass
class _Job(Generic[T]):
    fn: Callable[[WriteTxn], T]
    done: anyio.Event = field(default_factory=anyio.Event)
    result: T | None = None
    error: BaseException | None = None


def open_database(path: Path, *, synchronous: str = "FULL") -> sqlite3.Connection:
    """Open (creating with mode 0600) and migrate the database; return the connection."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Create the file ourselves so that its mode never depends on the umask, and tighten
    # one created looser; SQLite gives the -wal and -shm files the database file's mode.
    descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
    finally:
        os.close(descriptor)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 5000")
    # Each job runs under a savepoint, whose journal of the pages it changes (megabytes for
    # a group of revocations) and the temporary tables of multi-row statements would
    # otherwise be spilled to temporary files.
    conn.execute("PRAGMA temp_store = MEMORY")
    migrate(conn)
    return conn


class Writer:
    """Runs write jobs in one transaction per batch; each job is all-or-nothing.

    A job is a synchronous function of a WriteTxn. Jobs queued while a batch commits form
    the next batch, so under load many state changes share one fsync (group commit).
    """

    def __init__(self, path: Path, *, synchronous: str = "FULL", batch_limit: int = 256) -> None:
        self._path = path
        self._synchronous = synchronous
        self._batch_limit = batch_limit
        self._conn: sqlite3.Connection | None = None
        self._limiter = anyio.CapacityLimiter(1)
        send, receive = anyio.create_memory_object_stream[_Job[Any]](math.inf)
        self._send: MemoryObjectSendStream[_Job[Any]] = send
        self._receive: MemoryObjectReceiveStream[_Job[Any]] = receive
        self._closed = False
        # Runs are written only here; the cache saves re-reading a run a step just wrote.
        self._runs = RunCache(RUN_CACHE_SIZE)
        self._data_version: int | None = None
        # What readers in this process may take instead of a query: the runs committed last.
        self.committed = CommittedRuns(RUN_CACHE_SIZE)

    async def open(self) -> None:
        """Open and migrate the database."""
        self._conn = await anyio.to_thread.run_sync(
            lambda: open_database(self._path, synchronous=self._synchronous),
            limiter=self._limiter,
        )

    async def submit(self, fn: Callable[[WriteTxn], T]) -> T:
        """Run ``fn`` in a transaction and return its result, or raise what it raised."""
        if self._closed:
            raise WriterClosed("the store is closed")
        job: _Job[T] = _Job(fn)
        self._send.send_nowait(job)
        await job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    async def serve(self) -> None:
        """Process jobs until cancelled; a batch in progress always completes."""
        try:
            async for first in self._receive:
                batch: list[_Job[Any]] = [first]
                while len(batch) < self._batch_limit:
                    try:
                        batch.append(self._receive.receive_nowait())
                    except anyio.WouldBlock:
                        break
                try:
                    fresh, cleared = await anyio.to_thread.run_sync(
                        self._run_batch, batch, limiter=self._limiter
                    )
                except BaseException:
                    self.committed.clear()
                    raise
                # Published before any job is answered: whoever waited for a change reads it.
                if cleared:
                    self.committed.clear()
                self.committed.publish(fresh)
                for job in batch:
                    job.done.set()
        finally:
            self._fail_pending()

    def _fail_pending(self) -> None:
        self._closed = True
        while True:
            try:
                job = self._receive.receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                return
            job.error = WriterClosed("the store closed before this change was made")
            job.done.set()

    def _run_batch(self, batch: list[_Job[Any]]) -> tuple[list[Run], bool]:
        """Run and commit ``batch``; return the runs as committed (see RunCache.take_fresh)."""
        conn = self._conn
        assert conn is not None, "Writer.open() was not called"
        txn = WriteTxn(conn, self._runs)
        try:
            conn.execute("BEGIN IMMEDIATE")
            # Another connection (the CLI) may have committed since our last batch.
            (version,) = conn.execute("PRAGMA data_version").fetchone()
            if version != self._data_version:
                self._runs.clear()
                self._data_version = version
            for job in batch:
                conn.execute("SAVEPOINT job")
                try:
                    job.result = job.fn(txn)
                except Exception as error:
                    conn.execute("ROLLBACK TO job")
                    txn.forget_cache()
                    job.error = error
                conn.execute("RELEASE job")
            conn.execute("COMMIT")
        except BaseException as error:
            # Nothing of this batch is durable: every job must say so.
            self._runs.clear()
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for job in batch:
                job.result = None
                job.error = error if isinstance(error, Exception) else WriterClosed(str(error))
            if not isinstance(error, Exception):
                raise
        return self._runs.take_fresh()

    async def close(self) -> None:
        """Close the job queue and the database connection."""
        self._closed = True
        self._fail_pending()
        self._send.close()
        self._receive.close()
        conn, self._conn = self._conn, None
        if conn is not None:
            await anyio.to_thread.run_sync(conn.close, limiter=self._limiter)
