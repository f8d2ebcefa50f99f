"""The store's parts for work done in groups: many rows a statement, savepoints, batch reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from symbox.engine.model import Actor, RunEvent, RunStatus
from symbox.store.handle import open_store
from symbox.store.txn import ROWS_PER_STATEMENT, StaleWrite, WriteTxn
from tests.store.test_store import make_run

pytestmark = pytest.mark.anyio

KEY = "grants/prod_db/carol@example.com"
MANY = ROWS_PER_STATEMENT + 3


async def test_audit_records_sealed_together_chain_as_those_sealed_one_by_one(
    tmp_path: Path,
) -> None:
    entries = [{"id": f"entry-{number}", "n": number} for number in range(MANY)]
    lines = []
    for name, together in (("one.db", False), ("many.db", True)):
        async with open_store(tmp_path / name) as store:

            def seal(txn: WriteTxn, together: bool = together) -> None:
                txn.append_audit({"id": "first"})
                if together:
                    txn.append_audits(entries)
                else:
                    for entry in entries:
                        txn.append_audit(entry)
                txn.append_audit({"id": "last"})

            await store.writer.submit(seal)
            lines.append(await store.reader.audit_after(0, MANY + 10))
    assert len(lines[0]) == MANY + 2
    assert lines[0] == lines[1]


async def test_many_events_are_stored_together(tmp_path: Path) -> None:
    async with open_store(tmp_path / "s.db") as store:
        run = make_run("r1")
        events = [
            RunEvent(
                f"r1.{number}",
                "r1",
                "request",
                Actor.system(),
                float(number),
                "api",
                RunStatus.REQUESTED,
            )
            for number in range(MANY)
        ]

        def store_them(txn: WriteTxn) -> None:
            txn.save_run(run, None)
            txn.add_events(events)

        await store.writer.submit(store_them)
        stored = await store.reader.run_events("r1")
    assert [event["event_id"] for event in stored] == [event.id for event in events]


async def test_a_savepoint_undoes_only_its_own_part(tmp_path: Path) -> None:
    async with open_store(tmp_path / "s.db") as store:

        def job(txn: WriteTxn) -> None:
            txn.save_run(make_run("kept"), None)
            with pytest.raises(ValueError), txn.savepoint():
                txn.save_run(make_run("undone"), None)
                txn.append_audit({"id": "undone-entry"})
                raise ValueError("no")
            txn.append_audit({"id": "kept-entry"})

        await store.writer.submit(job)
        assert await store.reader.get_run("undone") is None
        assert await store.reader.get_run("kept") is not None
        lines = await store.reader.audit_after(0, 10)
    assert [seq for seq, _ in lines] == [1]
    assert "kept-entry" in lines[0][1]


async def test_due_grants_and_their_covers_are_read_for_many_runs_at_once(
    tmp_path: Path,
) -> None:
    async with open_store(tmp_path / "s.db") as store:
        runs = [make_run("r1", grant_key=KEY), make_run("r22", grant_key=KEY), make_run("q")]

        def save(txn: WriteTxn) -> None:
            for run in runs:
                txn.save_run(run, 100.0)

        await store.writer.submit(save)
        grants = await store.reader.due_grants(["r1", "q", "gone"])
        assert sorted((g.id, g.status, g.grant_key, g.grant_state) for g in grants) == [
            ("q", "requested", None, None),
            ("r1", "escalated", KEY, "active"),
        ]
        found = await store.reader.runs_and_covers(["r1", "r22", "gone"])
    assert sorted((run.id, cover) for run, cover in found) == [("r1", "r22"), ("r22", "r1")]


async def test_a_known_run_is_written_back_only_if_it_did_not_change(tmp_path: Path) -> None:
    async with open_store(tmp_path / "s.db") as store:
        run = make_run("r1", grant_key=KEY)
        await store.writer.submit(lambda txn: txn.save_run(run, 100.0))
        newer = run.evolve(status=RunStatus.DEESCALATED)
        await store.writer.submit(lambda txn: txn.save_run(newer, None))

        def write_back_stale(txn: WriteTxn) -> None:
            txn.forget_cache()
            known = txn.get_run("r1", run)
            assert known is run  # not read again
            txn.save_run(known.evolve(), None)

        with pytest.raises(StaleWrite):
            await store.writer.submit(write_back_stale)
        assert await store.reader.get_run("r1") == newer


async def test_runs_saved_together_skip_those_that_changed(tmp_path: Path) -> None:
    async with open_store(tmp_path / "s.db") as store:
        runs = [make_run(f"r{number}", grant_key=f"{KEY}{number}") for number in range(MANY)]

        def save(txn: WriteTxn) -> None:
            for run in runs:
                txn.save_run(run, 100.0)

        await store.writer.submit(save)
        moved = runs[7].evolve(status=RunStatus.DEESCALATED)
        await store.writer.submit(lambda txn: txn.save_run(moved, None))
        # Stepped from what was read before r7 moved on: r7 is left as it is.
        ended = [(run.evolve(status=RunStatus.DEESCALATED), None) for run in runs]

        def save_together(txn: WriteTxn) -> set[str]:
            txn.forget_cache()
            return txn.save_runs(ended)

        assert await store.writer.submit(save_together) == {"r7"}
        assert await store.reader.get_run("r7") == moved
        assert await store.reader.get_run("r8") == ended[8][0]
        assert await store.reader.due_runs() == []
