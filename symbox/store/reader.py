"""Read-only queries over an aiosqlite connection, beside the single writer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import aiosqlite

from symbox.engine.model import GrantState, Run
from symbox.engine.runs import COVERING_STATES
from symbox.notify.model import Outgoing, Queued
from symbox.store.codec import run_from_json
from symbox.tokens import TokenRecord

_TOKEN_COLUMNS = (
    "id, secret_hash, kind, subject, label, created_at, expires_at, revoked_at, last_used_at"
)

_NOTIFICATION_COLUMNS = (
    "kind",
    "integration",
    "recipient",
    "attempts",
    "next_attempt_at",
    "last_error",
    "delivered_at",
    "failed_at",
)


def _token(row: Any) -> TokenRecord:
    return TokenRecord(*row)


class OutboxRecord(NamedTuple):
    """A sealed audit line with what destinations route and partition it by."""

    seq: int
    line: str
    id: str
    # The run and flow a run event belongs to; None for records of no run (config, tokens).
    run_id: str | None
    flow: str | None


class DueGrant(NamedTuple):
    """What tells a due run's revocation apart from its other due work, and its lock."""

    id: str
    flow: str
    status: str
    grant_key: str | None
    grant_state: str | None


class CommittedRunSource(Protocol):
    """Runs as committed, kept in memory by the process's own writer."""

    def get(self, run_id: str) -> Run | None:
        """The run as last committed, or None when it is not kept."""


class Reader:
    """Queries for the API, the CLI, the audit shipper and start-up."""

    def __init__(self, path: Path, committed: CommittedRunSource | None = None) -> None:
        self._path = path
        self._conn: aiosqlite.Connection | None = None
        # Runs the writer beside us just committed: answered without a thread hop.
        self._committed = committed

    async def open(self) -> None:
        """Connect; the writer must have created and migrated the database."""
        self._conn = await aiosqlite.connect(self._path)
        await self._conn.execute("PRAGMA busy_timeout = 5000")

    async def close(self) -> None:
        """Disconnect."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    @property
    def _db(self) -> aiosqlite.Connection:
        assert self._conn is not None, "Reader.open() was not called"
        return self._conn

    async def _one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        rows = await self._all(sql, params)
        return rows[0] if rows else None

    async def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        # One hop to the connection's thread runs the statement to completion. A cursor
        # left open across hops would keep its read snapshot, and every other query on
        # this connection would then see that old snapshot instead of the latest commit.
        return list(await self._db.execute_fetchall(sql, params))

    async def get_run(self, run_id: str) -> Run | None:
        """Return one run, or None."""
        if self._committed is not None:
            run = self._committed.get(run_id)
            if run is not None:
                return run
        row = await self._one("SELECT body FROM runs WHERE id = ?", (run_id,))
        return None if row is None else run_from_json(row[0])

    async def list_runs(
        self,
        *,
        status: str | None = None,
        flow: str | None = None,
        limit: int = 50,
        after: tuple[float, str] | None = None,
        visible_to: tuple[str, tuple[str, ...]] | None = None,
        requester: str | None = None,
    ) -> list[Run]:
        """Return runs newest first, optionally filtered, after a (created_at, id) cursor.

        ``visible_to`` is (requester, flows): only that requester's runs and those of the
        flows named are returned. ``requester`` keeps only that requester's runs.
        """
        clauses: list[str] = []
        params: list[Any] = []
        if visible_to is not None:
            viewer, flows = visible_to
            marks = ", ".join("?" for _ in flows)
            clauses.append(f"(requester = ? OR flow IN ({marks}))" if flows else "requester = ?")
            params.extend([viewer, *flows])
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        if flow is not None:
            clauses.append("flow = ?")
            params.append(flow)
        if requester is not None:
            clauses.append("requester = ?")
            params.append(requester)
        if after is not None:
            clauses.append("(created_at, id) < (?, ?)")
            params.extend(after)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = await self._all(
            f"SELECT body FROM runs {where} ORDER BY created_at DESC, id DESC LIMIT ?",
            (*params, limit),
        )
        return [run_from_json(row[0]) for row in rows]

    async def run_events(self, run_id: str) -> list[dict[str, Any]]:
        """Return a run's events, oldest first, in the API's shape."""
        rows = await self._all(
            "SELECT body FROM events WHERE run_id = ? ORDER BY at, rowid", (run_id,)
        )
        return [json.loads(row[0]) for row in rows]

    async def get_event(self, event_id: str) -> dict[str, Any] | None:
        """Return one event in the API's shape, or None."""
        row = await self._one("SELECT body FROM events WHERE id = ?", (event_id,))
        return None if row is None else dict(json.loads(row[0]))

    async def run_and_cover(self, run_id: str, grant_key: str) -> tuple[Run | None, str | None]:
        """Return the run and another run whose grant of the same key covers it, in one query."""
        states = tuple(state.value for state in COVERING_STATES)
        marks = ", ".join("?" for _ in states)
        row = await self._one(
            "SELECT body, (SELECT other.id FROM runs AS other WHERE other.grant_key = ?"
            f" AND other.grant_state IN ({marks}) AND other.id != ? LIMIT 1)"
            " FROM runs WHERE id = ?",
            (grant_key, *states, run_id, run_id),
        )
        if row is None:
            return None, None
        return run_from_json(row[0]), None if row[1] is None else str(row[1])

    async def due_grants(self, run_ids: Sequence[str]) -> list[DueGrant]:
        """The flow, status, grant key and grant state of each of ``run_ids`` that exists."""
        rows = await self._all(
            "SELECT id, flow, status, grant_key, grant_state FROM runs"
            " WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(run_ids)),),
        )
        return [DueGrant(*row) for row in rows]

    async def runs_and_covers(self, run_ids: Sequence[str]) -> list[tuple[Run, str | None]]:
        """Each of ``run_ids`` that exists, with another run whose grant of the same key
        covers it (or None), in one query."""
        states = tuple(state.value for state in COVERING_STATES)
        marks = ", ".join("?" for _ in states)
        rows = await self._all(
            "SELECT body, (SELECT other.id FROM runs AS other WHERE other.grant_key ="
            f" runs.grant_key AND other.grant_state IN ({marks}) AND other.id != runs.id"
            " LIMIT 1) FROM runs WHERE id IN (SELECT value FROM json_each(?))",
            (*states, json.dumps(list(run_ids))),
        )
        return [
            (run_from_json(body), None if cover is None else str(cover)) for body, cover in rows
        ]

    async def grants_at(self, key_prefix: str) -> list[tuple[str, str, str | None]]:
        """(requester, grant state, identity granted to) of runs whose grant key has the prefix."""
        rows = await self._all(
            "SELECT requester, grant_state, json_extract(body, '$.grant.identity') FROM runs"
            " WHERE grant_key >= ? AND grant_key < ?",
            (key_prefix, key_prefix + "\U0010ffff"),
        )
        return [
            (str(requester), str(state), None if identity is None else str(identity))
            for requester, state, identity in rows
        ]

    async def covering_grant(self, grant_key: str) -> str | None:
        """A run symbox still holds (or is granting or revoking) ``grant_key`` for, if any."""
        row = await self._one(
            "SELECT id FROM runs WHERE grant_key = ? AND grant_state != ? LIMIT 1",
            (grant_key, GrantState.REVOKED.value),
        )
        return None if row is None else str(row[0])

    async def due_runs(self) -> list[tuple[str, float]]:
        """Return every run symbox must act on later, with when."""
        rows = await self._all("SELECT id, due_at FROM runs WHERE due_at IS NOT NULL")
        return [(str(run_id), float(due)) for run_id, due in rows]

    async def status_counts(self) -> dict[tuple[str, str], int]:
        """Return how many runs each (flow, status) pair has."""
        rows = await self._all("SELECT flow, status, count(*) FROM runs GROUP BY flow, status")
        return {(flow, status): count for flow, status, count in rows}

    async def grant_state_counts(self) -> dict[str, int]:
        """Return how many runs' grants are in each state."""
        rows = await self._all(
            "SELECT grant_state, count(*) FROM runs WHERE grant_state IS NOT NULL"
            " GROUP BY grant_state"
        )
        return {state: count for state, count in rows}

    async def slack_messages(self, run_id: str) -> list[tuple[str, str]]:
        """The Slack messages (channel, ts) that show ``run_id``."""
        rows = await self._all(
            "SELECT channel, ts FROM slack_messages WHERE run_id = ? ORDER BY rowid", (run_id,)
        )
        return [(str(channel), str(ts)) for channel, ts in rows]

    async def due_notifications(self, now: float, limit: int) -> list[Queued]:
        """Queued notifications whose next attempt is due at ``now``, oldest first."""
        rows = await self._all(
            "SELECT id, run_id, event_id, kind, integration, recipient, message, attempts"
            " FROM notifications WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ?"
            " ORDER BY next_attempt_at, id LIMIT ?",
            (now, limit),
        )
        return [
            Queued(id_, Outgoing(run, event, kind, via, to, json.loads(message)), attempts)
            for id_, run, event, kind, via, to, message, attempts in rows
        ]

    async def next_notification_after(self, now: float) -> float | None:
        """When the next notification not yet due at ``now`` is due, or None."""
        row = await self._one(
            "SELECT min(next_attempt_at) FROM notifications WHERE next_attempt_at > ?", (now,)
        )
        return None if row is None or row[0] is None else float(row[0])

    async def pending_notifications(self) -> dict[str, int]:
        """Notifications not yet delivered nor failed for good, by kind."""
        rows = await self._all(
            "SELECT kind, count(*) FROM notifications WHERE next_attempt_at IS NOT NULL"
            " GROUP BY kind"
        )
        return {str(kind): int(count) for kind, count in rows}

    async def run_notifications(self, run_id: str) -> list[dict[str, Any]]:
        """A run's notifications and how their delivery went, oldest first."""
        rows = await self._all(
            f"SELECT {', '.join(_NOTIFICATION_COLUMNS)} FROM notifications"
            " WHERE run_id = ? ORDER BY id",
            (run_id,),
        )
        return [dict(zip(_NOTIFICATION_COLUMNS, row, strict=True)) for row in rows]

    async def token_by_hash(self, secret_hash: str) -> TokenRecord | None:
        """Return the token stored under ``secret_hash``, or None."""
        row = await self._one(
            f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE secret_hash = ?", (secret_hash,)
        )
        return None if row is None else _token(row)

    async def list_tokens(self) -> list[TokenRecord]:
        """Return every token, newest first."""
        rows = await self._all(f"SELECT {_TOKEN_COLUMNS} FROM tokens ORDER BY created_at DESC")
        return [_token(row) for row in rows]

    async def audit_after(self, seq: int, limit: int) -> list[tuple[int, str]]:
        """Return up to ``limit`` sealed audit lines with a sequence number above ``seq``."""
        rows = await self._all(
            "SELECT seq, line FROM audit_outbox WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
        )
        return [(int(number), str(line)) for number, line in rows]

    async def audit_records_after(self, seq: int, limit: int) -> list[OutboxRecord]:
        """Return up to ``limit`` outbox records above ``seq``, with their run and flow."""
        rows = await self._all(
            "SELECT seq, line, id, json_extract(line, '$.run.id'),"
            " json_extract(line, '$.run.flow') FROM audit_outbox WHERE seq > ?"
            " ORDER BY seq LIMIT ?",
            (seq, limit),
        )
        return [
            OutboxRecord(
                int(number),
                str(line),
                str(record_id),
                None if run_id is None else str(run_id),
                None if flow is None else str(flow),
            )
            for number, line, record_id, run_id, flow in rows
        ]

    async def audit_span(self) -> tuple[int, int]:
        """Return the oldest and newest seq still in the outbox, (0, 0) when it is empty."""
        row = await self._one("SELECT min(seq), max(seq) FROM audit_outbox")
        if row is None or row[0] is None:
            return 0, 0
        return int(row[0]), int(row[1])

    async def access_runs(self, since: float) -> list[Run]:
        """Runs created since ``since``, and runs whose access lasted into it, oldest first."""
        rows = await self._all(
            "SELECT body FROM runs WHERE created_at >= ? OR (grant_key IS NOT NULL AND"
            " (grant_state != ? OR json_extract(body, '$.ended_at') >= ?))"
            " ORDER BY created_at, id",
            (since, GrantState.REVOKED.value, since),
        )
        return [run_from_json(row[0]) for row in rows]

    async def unreviewed_runs(self) -> list[Run]:
        """Break-glass runs still waiting for their review, however old, oldest first."""
        rows = await self._all(
            "SELECT body FROM runs WHERE json_extract(body, '$.review.state') = 'needs_review'"
            " ORDER BY created_at, id"
        )
        return [run_from_json(row[0]) for row in rows]

    async def audit_cursor(self, destination: str) -> int:
        """Return the last audit sequence number ``destination`` has, 0 if none."""
        row = await self._one("SELECT seq FROM audit_cursors WHERE destination = ?", (destination,))
        return 0 if row is None else int(row[0])

    async def audit_cursors(self) -> dict[str, int]:
        """Every destination's last delivered seq, by destination name."""
        rows = await self._all("SELECT destination, seq FROM audit_cursors ORDER BY destination")
        return {str(name): int(seq) for name, seq in rows}

    async def audit_tip(self) -> int:
        """Return the newest audit sequence number, 0 if none."""
        row = await self._one("SELECT max(seq) FROM audit_outbox")
        return 0 if row is None or row[0] is None else int(row[0])

    async def identity_of(self, email: str, system: str) -> str | None:
        """The identity set for ``email`` in ``system``, or None."""
        row = await self._one(
            "SELECT identity FROM identities WHERE email = ? AND system = ?", (email, system)
        )
        return None if row is None else str(row[0])

    async def list_identities(self) -> list[tuple[str, str, str, float]]:
        """Every stored identity as (email, system, identity, updated_at), by email."""
        rows = await self._all(
            "SELECT email, system, identity, updated_at FROM identities ORDER BY email, system"
        )
        return [
            (str(email), str(system), str(ident), float(at)) for email, system, ident, at in rows
        ]

    async def identities_in(self, system: str) -> list[tuple[str, str]]:
        """Every (email, identity) set in ``system``, by email."""
        rows = await self._all(
            "SELECT email, identity FROM identities WHERE system = ? ORDER BY email", (system,)
        )
        return [(str(email), str(identity)) for email, identity in rows]
