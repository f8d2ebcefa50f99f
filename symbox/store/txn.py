"""Everything a write job can do, as SQL inside the writer's transaction."""

from __future__ import annotations

import json
import sqlite3
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from symbox.audit.chain import GENESIS_HASH, sealed_line
from symbox.engine.model import GrantState, Run, RunEvent
from symbox.notify.model import Outgoing
from symbox.store.codec import event_to_json, run_from_json, run_to_json
from symbox.tokens import TokenRecord

# Rows one multi-row INSERT writes at most (SQLite allows 32,766 parameters a statement).
ROWS_PER_STATEMENT = 500


class StaleWrite(Exception):
    """A run changed between reading it and writing it back."""


class RunCache:
    """The runs the writer wrote or read last, so a step need not decode its run again.

    Only valid while this connection is the only one writing runs: the writer clears it
    whenever another connection has committed (``PRAGMA data_version`` moved) and when a
    job is rolled back.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._runs: OrderedDict[str, Run] = OrderedDict()
        # Runs put since the last take_fresh(), and whether clear() was called meanwhile.
        self._fresh: dict[str, Run] = {}
        self._cleared = False

    def get(self, run_id: str) -> Run | None:
        """The cached run, if any."""
        return self._runs.get(run_id)

    def put(self, run: Run) -> None:
        """Remember ``run`` as stored now."""
        if self._size <= 0:
            return
        self._runs[run.id] = run
        self._runs.move_to_end(run.id)
        self._fresh[run.id] = run
        if len(self._runs) > self._size:
            self._runs.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        self._runs.clear()
        self._fresh.clear()
        self._cleared = True

    def take_fresh(self) -> tuple[list[Run], bool]:
        """The runs put since the last call, and whether the cache was cleared meanwhile.

        Called right after a commit: the runs are then as committed. After a clear, runs
        put before it may have been committed in a newer version than any kept here.
        """
        fresh, cleared = list(self._fresh.values()), self._cleared
        self._fresh.clear()
        self._cleared = False
        return fresh, cleared


class WriteTxn:
    """A transaction handle given to write jobs; only the writer thread uses it."""

    def __init__(self, conn: sqlite3.Connection, runs: RunCache | None = None) -> None:
        self._conn = conn
        self._chain_tip: tuple[int, str] | None = None
        self._runs = runs if runs is not None else RunCache(0)

    def forget_cache(self) -> None:
        """Drop what was read inside a job that was rolled back."""
        self._chain_tip = None
        self._runs.clear()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Undo what the body wrote if it raises; the rest of the transaction stays."""
        self._conn.execute("SAVEPOINT part")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK TO part")
            self._conn.execute("RELEASE part")
            # What the body read or sealed may be gone with it.
            self.forget_cache()
            raise
        self._conn.execute("RELEASE part")

    # Runs and events

    @property
    def in_transaction(self) -> bool:
        """False once the database has given up the transaction (after some errors)."""
        return self._conn.in_transaction

    def get_run(self, run_id: str, known: Run | None = None) -> Run | None:
        """Return the run as it is now, or None.

        With ``known`` (the run as read on another connection), a run not cached here is
        taken to be ``known`` without reading it: saving it back checks its version.
        """
        cached = self._runs.get(run_id)
        if cached is not None:
            return cached
        if known is not None:
            return known
        row = self._conn.execute("SELECT body FROM runs WHERE id = ?", (run_id,)).fetchone()
        run = None if row is None else run_from_json(row[0])
        if run is not None:
            self._runs.put(run)
        return run

    def open_runs(self, flow: str, requester: str) -> list[Run]:
        """``requester``'s runs of ``flow`` that have not ended (requested, approved or
        escalated), oldest first."""
        rows = self._conn.execute(
            "SELECT body FROM runs WHERE requester = ? AND flow = ?"
            " AND status IN ('requested', 'approved', 'escalated') ORDER BY created_at",
            (requester, flow),
        ).fetchall()
        return [run_from_json(row[0]) for row in rows]

    def save_run(self, run: Run, due_at: float | None, *, new: bool | None = None) -> None:
        """Insert a new run or replace the stored one, refusing a lost update.

        A run is new at version 1, unless ``new`` says otherwise (a run first stored after
        several steps, such as a break-glass request approved as it is made).
        """
        grant = run.grant
        values = (
            run.flow,
            run.requester,
            run.status.value,
            run.created_at,
            due_at,
            grant.key if grant else None,
            grant.state.value if grant else None,
            run.version,
            run_to_json(run),
            run.id,
        )
        if run.version == 1 if new is None else new:
            self._conn.execute(
                "INSERT INTO runs (flow, requester, status, created_at, due_at, grant_key,"
                " grant_state, version, body, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
        else:
            # A run's flow, requester and creation time never change: leaving them out of
            # the SET spares SQLite the upkeep of the indexes only they are in.
            cursor = self._conn.execute(
                "UPDATE runs SET status = ?, due_at = ?, grant_key = ?, grant_state = ?,"
                " version = ?, body = ? WHERE id = ? AND version = ?",
                (*values[2:3], *values[4:], run.version - 1),
            )
            if cursor.rowcount != 1:
                raise StaleWrite(f"run {run.id} changed concurrently")
        self._runs.put(run)

    def save_runs(self, runs: Sequence[tuple[Run, float | None]]) -> set[str]:
        """Replace many stored runs (each with its due time), a few statements for all of
        them; return the ids of those left as they were because they changed concurrently.

        Each statement hands the GIL to the event loop and waits to get it back, so one a
        run would cost a busy process far more than SQLite's own work.
        """
        stale: set[str] = set()
        for start in range(0, len(runs), ROWS_PER_STATEMENT):
            chunk = runs[start : start + ROWS_PER_STATEMENT]
            values: list[Any] = []
            for run, due_at in chunk:
                grant = run.grant
                values.extend(
                    (
                        run.id,
                        run.status.value,
                        due_at,
                        grant.key if grant else None,
                        grant.state.value if grant else None,
                        run.version,
                        run_to_json(run),
                    )
                )
            marks = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
            saved = {
                row[0]
                for row in self._conn.execute(
                    "WITH new (id, status, due_at, grant_key, grant_state, version, body) AS"
                    f" (VALUES {marks}) UPDATE runs SET status = new.status,"
                    " due_at = new.due_at, grant_key = new.grant_key,"
                    " grant_state = new.grant_state, version = new.version, body = new.body"
                    " FROM new WHERE runs.id = new.id AND runs.version = new.version - 1"
                    " RETURNING runs.id",
                    values,
                ).fetchall()
            }
            for run, _ in chunk:
                if run.id in saved:
                    self._runs.put(run)
                else:
                    stale.add(run.id)
        return stale

    def add_event(self, event: RunEvent) -> None:
        """Record a run event."""
        self._conn.execute(
            "INSERT INTO events (id, run_id, name, at, body) VALUES (?, ?, ?, ?, ?)",
            (event.id, event.run_id, event.name, event.at, event_to_json(event)),
        )

    def add_events(self, events: Sequence[RunEvent]) -> None:
        """Record many run events, a few statements for all of them."""
        for start in range(0, len(events), ROWS_PER_STATEMENT):
            chunk = events[start : start + ROWS_PER_STATEMENT]
            marks = ", ".join(["(?, ?, ?, ?, ?)"] * len(chunk))
            self._conn.execute(
                f"INSERT INTO events (id, run_id, name, at, body) VALUES {marks}",
                [
                    value
                    for event in chunk
                    for value in (
                        event.id,
                        event.run_id,
                        event.name,
                        event.at,
                        event_to_json(event),
                    )
                ],
            )

    # Audit outbox

    def append_audit(self, entry: Mapping[str, Any]) -> int:
        """Seal ``entry`` onto the hash chain and queue it for every destination."""
        if self._chain_tip is None:
            row = self._conn.execute(
                "SELECT seq, hash FROM audit_outbox ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            self._chain_tip = (0, GENESIS_HASH) if row is None else (row[0], row[1])
        seq = self._chain_tip[0] + 1
        digest, line = sealed_line(entry, seq, self._chain_tip[1])
        self._conn.execute(
            "INSERT INTO audit_outbox (seq, id, hash, line) VALUES (?, ?, ?, ?)",
            (seq, entry["id"], digest, line),
        )
        self._chain_tip = (seq, digest)
        return seq

    def append_audits(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """Seal ``entries`` onto the hash chain in order and queue them, a few statements
        for all of them."""
        for start in range(0, len(entries), ROWS_PER_STATEMENT):
            rows: list[Any] = []
            for entry in entries[start : start + ROWS_PER_STATEMENT]:
                seq, prev_hash = self._tip()
                digest, line = sealed_line(entry, seq + 1, prev_hash)
                rows.extend((seq + 1, entry["id"], digest, line))
                self._chain_tip = (seq + 1, digest)
            marks = ", ".join(["(?, ?, ?, ?)"] * (len(rows) // 4))
            self._conn.execute(
                f"INSERT INTO audit_outbox (seq, id, hash, line) VALUES {marks}", rows
            )

    def _tip(self) -> tuple[int, str]:
        if self._chain_tip is None:
            row = self._conn.execute(
                "SELECT seq, hash FROM audit_outbox ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            self._chain_tip = (0, GENESIS_HASH) if row is None else (row[0], row[1])
        return self._chain_tip

    def audit_head(self) -> tuple[int, str, str] | None:
        """The newest sealed record's seq, hash and event type, or None before the first."""
        row = self._conn.execute(
            "SELECT seq, hash, json_extract(line, '$.event.type') FROM audit_outbox"
            " ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]), str(row[2]))

    def set_cursor(self, destination: str, seq: int) -> None:
        """Record that ``destination`` has every audit record up to ``seq``."""
        self._conn.execute(
            "INSERT INTO audit_cursors (destination, seq) VALUES (?, ?)"
            " ON CONFLICT (destination) DO UPDATE SET seq = max(seq, excluded.seq)",
            (destination, seq),
        )

    def prune_audit(self, up_to: int) -> int:
        """Delete outbox records up to ``up_to`` (every destination has them); return how many.

        The newest record always stays: the next record chains onto its hash and seq.
        """
        cursor = self._conn.execute(
            "DELETE FROM audit_outbox WHERE seq <= ? AND seq < (SELECT max(seq) FROM audit_outbox)",
            (up_to,),
        )
        return cursor.rowcount

    # Slack

    def add_slack_message(self, run_id: str, channel: str, ts: str) -> None:
        """Remember a Slack message that shows ``run_id`` (delivery bookkeeping, not audited)."""
        self._conn.execute(
            "INSERT OR IGNORE INTO slack_messages (run_id, channel, ts) VALUES (?, ?, ?)",
            (run_id, channel, ts),
        )

    # Notifications

    def add_notification(self, outgoing: Outgoing, now: float) -> None:
        """Queue a notification, due at once (it commits with the change that causes it)."""
        self._conn.execute(
            "INSERT INTO notifications (run_id, event_id, kind, integration, recipient, message,"
            " created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                outgoing.run_id,
                outgoing.event_id,
                outgoing.kind,
                outgoing.integration,
                outgoing.recipient,
                json.dumps(outgoing.message, sort_keys=True),
                now,
                now,
            ),
        )

    def notification_delivered(self, row_id: int, now: float) -> None:
        """Mark a notification delivered (delivery bookkeeping, not audited)."""
        self._conn.execute(
            "UPDATE notifications SET attempts = attempts + 1, delivered_at = ?,"
            " next_attempt_at = NULL, last_error = NULL WHERE id = ?",
            (now, row_id),
        )

    def notification_failed(
        self, row_id: int, error: str, now: float, retry_at: float | None
    ) -> None:
        """Record a failed attempt: try again at ``retry_at``, or never (None: failed for good)."""
        self._conn.execute(
            "UPDATE notifications SET attempts = attempts + 1, last_error = ?,"
            " next_attempt_at = ?, failed_at = CASE WHEN ? IS NULL THEN ? END WHERE id = ?",
            (error, retry_at, retry_at, now, row_id),
        )

    def prune_notifications(self, before: float) -> int:
        """Delete notifications delivered or failed before ``before``; return how many."""
        cursor = self._conn.execute(
            "DELETE FROM notifications WHERE next_attempt_at IS NULL"
            " AND coalesce(delivered_at, failed_at) < ?",
            (before,),
        )
        return cursor.rowcount

    # Tokens

    def insert_token(self, token: TokenRecord) -> None:
        """Store a newly issued token (its hash only)."""
        self._conn.execute(
            "INSERT INTO tokens (id, secret_hash, kind, subject, label, created_at, expires_at,"
            " revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                token.id,
                token.secret_hash,
                token.kind,
                token.subject,
                token.label,
                token.created_at,
                token.expires_at,
                token.revoked_at,
            ),
        )

    def revoke_token(self, token_id: str, now: float) -> bool:
        """Mark a token revoked; return False if there is no such live token."""
        cursor = self._conn.execute(
            "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (now, token_id),
        )
        return cursor.rowcount == 1

    def token_used(self, token_id: str, now: float) -> None:
        """Record that a token authenticated a call at ``now`` (bookkeeping, not audited)."""
        self._conn.execute(
            "UPDATE tokens SET last_used_at = ? WHERE id = ?"
            " AND (last_used_at IS NULL OR last_used_at < ?)",
            (now, token_id, now),
        )

    # Identities

    def identity_of(self, email: str, system: str) -> str | None:
        """The identity set for ``email`` in ``system``, or None."""
        row = self._conn.execute(
            "SELECT identity FROM identities WHERE email = ? AND system = ?", (email, system)
        ).fetchone()
        return None if row is None else str(row[0])

    def set_identity(self, email: str, system: str, identity: str, now: float) -> None:
        """Store ``email``'s identity in ``system``, replacing any."""
        self._conn.execute(
            "INSERT INTO identities (email, system, identity, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (email, system) DO UPDATE SET identity = excluded.identity,"
            " updated_at = excluded.updated_at",
            (email, system, identity, now),
        )

    def unset_identity(self, email: str, system: str) -> None:
        """Forget ``email``'s identity in ``system``."""
        self._conn.execute("DELETE FROM identities WHERE email = ? AND system = ?", (email, system))

    def live_grant_of(self, requester: str) -> str | None:
        """A run whose grant to ``requester`` is being made, held or not yet revoked."""
        row = self._conn.execute(
            "SELECT id FROM runs WHERE requester = ? AND grant_state IS NOT NULL"
            " AND grant_state != ? ORDER BY created_at LIMIT 1",
            (requester, GrantState.REVOKED.value),
        ).fetchone()
        return None if row is None else str(row[0])
