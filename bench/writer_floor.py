"""The store's floor for revocations: SQLite alone writing what a revocation writes.

``python -m bench.writer_floor [--grants 100000] [--due 10000] [--batch 1024]``

The same database as ``bench.expiry``'s (symbox's schema, ``--grants`` escalated runs
seeded through the writer, ``synchronous=FULL``, WAL), then ``--due`` revocations written
with plain SQL and nothing else: each one's new run row, ``deescalate`` event and sealed
audit record are encoded by symbox *before* the clock starts, so what is timed is the
three statements per revocation and one commit per ``--batch``. Also timed: the least
possible durable commit (one row updated, one commit) in a row, and the Python that
encodes a revocation's rows (engine transition, run and event JSON, sealing). symbox's
revocations/s divided by this floor's is the share of the database's own speed that
symbox reaches; the table gives both, per batch size.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import anyio

from bench.common import (
    GrantSeeder,
    print_machine,
    read_config,
    seed_active_grants,
    write_config,
)
from symbox.app import DATABASE_NAME
from symbox.audit.chain import sealed_line
from symbox.audit.entry import run_entry
from symbox.config.model import Target
from symbox.engine import runs as engine
from symbox.store.codec import event_to_json, run_from_json, run_to_json
from symbox.store.writer import open_database

Row = tuple[str, str, str, float, str, str, str]


def encode_revocations(
    conn: sqlite3.Connection, run_ids: list[str], target: Target, now: float
) -> list[Row]:
    """Each run's revocation as symbox encodes it: new body, event, sealed audit line."""
    rows: list[Row] = []
    prev = "0" * 64
    for seq, run_id in enumerate(run_ids, start=1):
        (body,) = conn.execute("SELECT body FROM runs WHERE id = ?", (run_id,)).fetchone()
        run = run_from_json(body)
        transition = engine.deescalated(run, now)
        new = transition.run
        event = transition.events[0]
        entry = run_entry(event, new, target)
        digest, line = sealed_line(entry, seq, prev)
        prev = digest
        rows.append(
            (run_id, run_to_json(new), event.id, event.at, event_to_json(event), digest, line)
        )
    return rows


def write_batches(conn: sqlite3.Connection, rows: list[Row], batch: int, first_seq: int) -> float:
    """Write the revocations ``batch`` to a transaction; return the seconds it took."""
    started = time.perf_counter()
    seq = first_seq
    for first in range(0, len(rows), batch):
        conn.execute("BEGIN IMMEDIATE")
        for run_id, body, event_id, at, event_body, digest, line in rows[first : first + batch]:
            conn.execute(
                "UPDATE runs SET status = 'deescalated', due_at = NULL,"
                " grant_state = 'revoked', version = version + 1, body = ? WHERE id = ?",
                (body, run_id),
            )
            conn.execute(
                "INSERT INTO events (id, run_id, name, at, body) VALUES (?, ?, ?, ?, ?)",
                (event_id, run_id, "deescalate", at, event_body),
            )
            seq += 1
            conn.execute(
                "INSERT INTO audit_outbox (seq, id, hash, line) VALUES (?, ?, ?, ?)",
                (seq, event_id, digest, line),
            )
        conn.execute("COMMIT")
    return time.perf_counter() - started


def empty_commits(conn: sqlite3.Connection, count: int) -> float:
    """Seconds for ``count`` commits of one changed row each."""
    conn.execute("CREATE TABLE IF NOT EXISTS floor_tick (id INTEGER PRIMARY KEY, n INTEGER)")
    conn.execute("INSERT OR REPLACE INTO floor_tick (id, n) VALUES (1, 0)")
    started = time.perf_counter()
    for _ in range(count):
        conn.execute("UPDATE floor_tick SET n = n + 1 WHERE id = 1")
    return time.perf_counter() - started


def restore(
    conn: sqlite3.Connection, original: list[tuple[str, str, float, str, str]], top: int
) -> None:
    """Undo a timed pass: the runs as seeded, the new events and audit records gone."""
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "UPDATE runs SET status = ?, due_at = ?, grant_state = ?, version = version - 1,"
        " body = ? WHERE id = ?",
        [(status, due_at, state, body, run_id) for run_id, status, due_at, state, body in original],
    )
    conn.executemany(
        "DELETE FROM events WHERE run_id = ? AND name = 'deescalate'",
        [(row[0],) for row in original],
    )
    conn.execute("DELETE FROM audit_outbox WHERE seq > ?", (top,))
    conn.execute("COMMIT")


def run(args: argparse.Namespace) -> int:
    """Seed, then time the floor's writes; print a Markdown table."""
    with tempfile.TemporaryDirectory(prefix="symbox-floor-") as tmp:
        folder = Path(tmp)
        config = read_config(write_config(folder))
        later = time.time() + 3600
        expiries = [later + i * 1e-3 for i in range(args.grants)]
        seeded = anyio.run(
            lambda: seed_active_grants(folder / "data", config, expiries, audit=False)
        )
        print(f"seeded {args.grants:,} escalated runs in {seeded.seconds:.1f} s", file=sys.stderr)
        conn = open_database(folder / "data" / DATABASE_NAME)
        (top,) = conn.execute("SELECT coalesce(max(seq), 0) FROM audit_outbox").fetchone()
        due = seeded.run_ids[: args.due]
        original = [
            conn.execute(
                "SELECT id, status, due_at, grant_state, body FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            for run_id in due
        ]
        started = time.perf_counter()
        target = GrantSeeder.for_config(config).target
        rows = encode_revocations(conn, due, target, time.time())
        encode = time.perf_counter() - started
        commits = empty_commits(conn, args.commits)
        print_machine()
        print()
        print("| work | count | seconds | per second | µs each |")
        print("|---|---|---|---|---|")
        print(_row("durable commit of one changed row", args.commits, commits))
        print(_row("encoding a revocation (Python, no SQL)", len(rows), encode))
        for batch in args.batch:
            seconds = write_batches(conn, rows, batch, top)
            restore(conn, original, top)
            print(_row(f"revocations, {batch} per commit (SQL only)", len(rows), seconds))
        conn.close()
    return 0


def _row(work: str, count: int, seconds: float) -> str:
    each = seconds / count * 1e6
    return f"| {work} | {count:,} | {seconds:.3f} | {count / seconds:,.0f} | {each:,.1f} |"


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.writer_floor")
    parser.add_argument("--grants", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 64, 1024])
    parser.add_argument("--commits", type=int, default=2000)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
