"""The single writer, the schema and the readers, on a real SQLite file."""

from __future__ import annotations

import sqlite3
import stat
from dataclasses import replace
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from symbox.engine.model import Actor, Grant, GrantState, Run, RunStatus
from symbox.store.codec import run_to_json
from symbox.store.handle import open_store
from symbox.store.schema import MIGRATIONS
from symbox.store.txn import StaleWrite, WriteTxn
from symbox.store.writer import Writer, WriterClosed, open_database

pytestmark = pytest.mark.anyio


def make_run(run_id: str, *, version: int = 1, grant_key: str | None = None) -> Run:
    grant = None if grant_key is None else Grant(grant_key, GrantState.ACTIVE, expires_at=100.0)
    return Run(
        id=run_id,
        flow="access",
        requester="carol@example.com",
        submitted_by=Actor.user("carol@example.com"),
        channel="api",
        fields={"reason": "x", "duration": 60},
        strategy="grants" if grant_key else None,
        target="prod-db" if grant_key else None,
        status=RunStatus.ESCALATED if grant_key else RunStatus.REQUESTED,
        created_at=float(len(run_id)),
        request_expires_at=1000.0,
        grant=grant,
        version=version,
    )


async def test_database_and_its_folder_are_private(tmp_path: Path) -> None:
    database = tmp_path / "state" / "symbox.db"
    async with open_store(database) as store:
        await store.writer.submit(lambda txn: txn.save_run(make_run("r1"), None))
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert stat.S_IMODE(database.parent.stat().st_mode) == 0o700
    for suffix in ("-wal", "-shm"):
        sidecar = database.with_name(database.name + suffix)
        if sidecar.exists():
            assert stat.S_IMODE(sidecar.stat().st_mode) == 0o600


async def test_runs_round_trip_and_lost_updates_are_refused(tmp_path: Path) -> None:
    async with open_store(tmp_path / "s.db") as store:
        run = make_run("r1", grant_key="grants/prod_db/carol@example.com")
        await store.writer.submit(lambda txn: txn.save_run(run, 100.0))
        assert await store.reader.get_run("r1") == run
        newer = run.evolve(status=RunStatus.DEESCALATED)
        await store.writer.submit(lambda txn: txn.save_run(newer, None))
        assert await store.reader.get_run("r1") == newer
        with pytest.raises(StaleWrite):
            # Written from the old version again: someone else's change would be lost.
            await store.writer.submit(lambda txn: txn.save_run(run.evolve(), None))
        assert await store.reader.due_runs() == []


async def test_a_failing_job_does_not_undo_its_batch_neighbours(tmp_path: Path) -> None:
    async with open_store(tmp_path / "s.db") as store:
        outcomes: dict[str, str] = {}

        def failing(txn: WriteTxn) -> None:
            txn.save_run(make_run("bad"), None)
            txn.append_audit({"id": "bad-entry"})
            raise ValueError("boom")

        async def submit(name: str) -> None:
            try:
                if name == "bad":
                    await store.writer.submit(failing)
                else:

                    def succeeding(txn: WriteTxn) -> None:
                        txn.save_run(make_run(name), None)
                        txn.append_audit({"id": f"{name}-entry"})

                    await store.writer.submit(succeeding)
                outcomes[name] = "ok"
            except ValueError:
                outcomes[name] = "failed"

        async with anyio.create_task_group() as group:
            for name in ("a", "bad", "c", "d"):
                group.start_soon(submit, name)
        assert outcomes == {"a": "ok", "bad": "failed", "c": "ok", "d": "ok"}
        assert await store.reader.get_run("bad") is None
        lines = await store.reader.audit_after(0, 10)
        # The chain has no hole where the failed job's record would have been.
        assert [seq for seq, _ in lines] == [1, 2, 3]
        assert all("bad-entry" not in line for _, line in lines)


async def test_concurrent_jobs_share_commits(tmp_path: Path) -> None:
    async with open_store(tmp_path / "s.db") as store:
        async with anyio.create_task_group() as group:
            for number in range(300):
                run = make_run(f"run-{number}")
                group.start_soon(store.writer.submit, lambda txn, run=run: txn.save_run(run, None))
        assert len(await store.reader.list_runs(limit=500)) == 300


async def test_covering_runs_are_found_by_grant_key(tmp_path: Path) -> None:
    key = "grants/prod_db/carol@example.com"
    async with open_store(tmp_path / "s.db") as store:
        await store.writer.submit(lambda txn: txn.save_run(make_run("r1", grant_key=key), 100.0))
        await store.writer.submit(lambda txn: txn.save_run(make_run("r22", grant_key=key), 200.0))
        run, covering = await store.reader.run_and_cover("r1", key)
        assert run is not None and run.id == "r1" and covering == "r22"
        assert await store.reader.run_and_cover("r1", "other") == (run, None)
        assert await store.reader.run_and_cover("nope", key) == (None, None)
        assert sorted(await store.reader.due_runs()) == [("r1", 100.0), ("r22", 200.0)]


async def test_migrations_are_recorded_and_a_newer_schema_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "s.db"
    async with open_store(database):
        pass
    async with open_store(database):
        pass
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(RuntimeError, match="newer than this symbox"):
        async with open_store(database):
            pass


def test_the_writers_savepoint_journals_and_temporary_tables_stay_in_memory(
    tmp_path: Path,
) -> None:
    conn = open_database(tmp_path / "s.db")
    try:
        # 2 is MEMORY: a job's savepoint journal is not spilled to a temporary file.
        assert conn.execute("PRAGMA temp_store").fetchone()[0] == 2
    finally:
        conn.close()


async def test_grants_that_recorded_their_identity_are_keyed_by_it(tmp_path: Path) -> None:
    database = tmp_path / "s.db"
    old_key = "grants/prod_db/carol@example.com"
    made = make_run("r1", grant_key=old_key)
    assert made.grant is not None
    grant = replace(made.grant, identity="00uAbC")
    granted = replace(made, grant=grant)
    runs = (granted, make_run("r22", grant_key=old_key), make_run("r333"))

    def save(txn: WriteTxn) -> None:
        for run in runs:
            txn.save_run(run, None)

    async with open_store(database) as store:
        await store.writer.submit(save)
    with sqlite3.connect(database) as conn:
        # As stored by the release before grants were keyed by identity, which also had
        # no record of a token's last use, no notification outbox and no index of open runs.
        conn.execute("ALTER TABLE tokens DROP COLUMN last_used_at")
        conn.execute("DROP TABLE notifications")
        conn.execute("DROP INDEX runs_open_by_requester")
        conn.execute("PRAGMA user_version = 3")
    async with open_store(database) as store:
        rekeyed = await store.reader.get_run("r1")
        assert rekeyed is not None and rekeyed.grant is not None
        assert rekeyed.grant == replace(grant, key="grants/prod_db/00uabc")
        assert rekeyed == replace(granted, grant=rekeyed.grant)
        assert await store.reader.run_and_cover("r1", "grants/prod_db/00uabc") == (rekeyed, None)
        # No identity recorded: the requester's key stays, and so does a run without a grant.
        unrecorded = await store.reader.get_run("r22")
        assert unrecorded is not None and unrecorded.grant is not None
        assert unrecorded.grant.key == old_key
        assert await store.reader.run_and_cover("r22", old_key) == (unrecorded, None)
        assert await store.reader.get_run("r333") == make_run("r333")
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


async def test_jobs_after_close_fail_clearly(tmp_path: Path) -> None:
    writer = Writer(tmp_path / "s.db")
    await writer.open()
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as group:
            group.start_soon(writer.serve)
            await anyio.lowlevel.checkpoint()
            scope.cancel()
    await writer.close()
    with pytest.raises(WriterClosed):
        await writer.submit(lambda txn: None)


async def test_the_writer_never_serves_a_run_another_connection_changed(tmp_path: Path) -> None:
    database = tmp_path / "s.db"
    async with open_store(database) as store:
        run = make_run("r1")
        await store.writer.submit(lambda txn: txn.save_run(run, None))
        assert await store.writer.submit(lambda txn: txn.get_run("r1")) == run
        # Another process (say, a repair tool) rewrites the run behind the writer's back.
        changed = run.evolve(status=RunStatus.EXPIRED)
        with sqlite3.connect(database) as other:
            other.execute(
                "UPDATE runs SET status = ?, version = ?, body = ? WHERE id = ?",
                ("expired", changed.version, run_to_json(changed), "r1"),
            )
        assert await store.writer.submit(lambda txn: txn.get_run("r1")) == changed


async def test_a_rolled_back_job_leaves_no_run_behind_in_the_writer(tmp_path: Path) -> None:
    async with open_store(tmp_path / "s.db") as store:

        def failing(txn: WriteTxn) -> None:
            txn.save_run(make_run("ghost"), None)
            raise ValueError("boom")

        with pytest.raises(ValueError):
            await store.writer.submit(failing)
        assert await store.writer.submit(lambda txn: txn.get_run("ghost")) is None
