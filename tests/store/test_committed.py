"""The runs the writer committed last, answered by the reader without a query."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from symbox.engine.model import RunStatus
from symbox.store.codec import run_to_json
from symbox.store.reader import Reader
from symbox.store.txn import WriteTxn
from symbox.store.writer import Writer
from tests.store.test_store import make_run

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def store(database: Path) -> AsyncIterator[tuple[Writer, Reader]]:
    """A writer serving jobs and a reader that takes runs from it, as symbox run wires them."""
    writer = Writer(database)
    reader = Reader(database, committed=writer.committed)
    await writer.open()
    await reader.open()
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(writer.serve)
            yield writer, reader
            group.cancel_scope.cancel()
    finally:
        await reader.close()
        await writer.close()


async def test_a_committed_run_is_read_from_memory(tmp_path: Path) -> None:
    async with store(tmp_path / "s.db") as (writer, _):
        run = make_run("r1")
        await writer.submit(lambda txn: txn.save_run(run, None))
        # A reader that never connected can only answer from what the writer committed.
        assert await Reader(tmp_path / "s.db", committed=writer.committed).get_run("r1") == run
        newer = run.evolve(status=RunStatus.EXPIRED)
        await writer.submit(lambda txn: txn.save_run(newer, None))
        assert writer.committed.get("r1") == newer


async def test_a_change_is_not_visible_before_its_commit(tmp_path: Path) -> None:
    async with store(tmp_path / "s.db") as (writer, reader):
        run = make_run("r1")
        await writer.submit(lambda txn: txn.save_run(run, None))
        newer = run.evolve(status=RunStatus.EXPIRED)

        def job(txn: WriteTxn) -> object:
            txn.save_run(newer, None)
            # Saved, not yet committed: the committed view still has the old version.
            return writer.committed.get("r1")

        assert await writer.submit(job) == run
        assert await reader.get_run("r1") == newer


async def test_a_failed_job_leaves_no_stale_run_behind(tmp_path: Path) -> None:
    async with store(tmp_path / "s.db") as (writer, reader):
        run = make_run("r1")
        await writer.submit(lambda txn: txn.save_run(run, None))
        newer = run.evolve(status=RunStatus.EXPIRED)

        def failing(txn: WriteTxn) -> None:
            raise ValueError("boom")

        async def fail() -> None:
            with pytest.raises(ValueError):
                await writer.submit(failing)

        # In one batch: the update commits, the failure rolls back only its own job and
        # leaves the writer unsure what it kept, so nothing older may be served.
        async with anyio.create_task_group() as group:
            group.start_soon(writer.submit, lambda txn: txn.save_run(newer, None))
            group.start_soon(fail)
        assert await reader.get_run("r1") == newer
        ghost = make_run("ghost")

        def rolled_back(txn: WriteTxn) -> None:
            txn.save_run(ghost, None)
            raise ValueError("boom")

        with pytest.raises(ValueError):
            await writer.submit(rolled_back)
        assert writer.committed.get("ghost") is None
        assert await reader.get_run("ghost") is None


async def test_another_connections_commit_empties_it(tmp_path: Path) -> None:
    database = tmp_path / "s.db"
    async with store(database) as (writer, reader):
        run = make_run("r1")
        await writer.submit(lambda txn: txn.save_run(run, None))
        changed = run.evolve(status=RunStatus.EXPIRED)
        with sqlite3.connect(database) as other:
            other.execute(
                "UPDATE runs SET status = ?, version = ?, body = ? WHERE id = ?",
                ("expired", changed.version, run_to_json(changed), "r1"),
            )
        # The writer's next batch notices the other connection and forgets what it kept.
        await writer.submit(lambda txn: None)
        assert writer.committed.get("r1") is None
        assert await reader.get_run("r1") == changed
