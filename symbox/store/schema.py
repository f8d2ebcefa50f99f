"""The database schema as numbered migrations, applied in order on open."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

# A migration is SQL, or a function for a change SQL cannot spell exactly.
Migration = str | Callable[[sqlite3.Connection], None]


def _key_grants_by_identity(conn: sqlite3.Connection) -> None:
    """Key grants that recorded their identity by it, as every grant is keyed from now on.

    Keys were ``strategy/target/requester``; only the last part changes, to the identity
    in lower case. Python's ``lower`` is used (SQLite's only folds ASCII) so a migrated key
    equals the one a new grant to the same identity gets. Grants with no recorded identity
    (made before identities were recorded, or by a strategy without identities of its own)
    keep the requester's key, and their revoke looks the identity up as before.
    """
    rows = conn.execute(
        "SELECT id, requester, grant_key, json_extract(body, '$.grant.identity') FROM runs"
        " WHERE grant_key IS NOT NULL AND json_extract(body, '$.grant.identity') IS NOT NULL"
    ).fetchall()
    for run_id, requester, key, identity in rows:
        if not key.endswith(f"/{requester}"):
            continue
        rekeyed = key[: len(key) - len(requester)] + str(identity).lower()
        conn.execute(
            "UPDATE runs SET grant_key = ?, body = json_set(body, '$.grant.key', ?) WHERE id = ?",
            (rekeyed, rekeyed, run_id),
        )


def _count_token_changes(conn: sqlite3.Connection) -> None:
    """Count every change to tokens in a one-row table, kept by triggers.

    A server keeps the tokens it has seen in memory and reads this count (one row, no
    thread hop) before trusting them, so a token revoked by any process, the CLI's
    ``tokens revoke`` included, is refused from the next call on. A token's last use is
    bookkeeping and does not count. (A function, as trigger bodies hold ';'; each statement
    may run again on a database whose recorded version was rewound.)
    """
    conn.execute(
        "CREATE TABLE IF NOT EXISTS token_changes"
        " (id INTEGER PRIMARY KEY CHECK (id = 1), count INTEGER NOT NULL)"
    )
    conn.execute("INSERT OR IGNORE INTO token_changes (id, count) VALUES (1, 0)")
    bump = "BEGIN UPDATE token_changes SET count = count + 1 WHERE id = 1; END"
    conn.execute(f"CREATE TRIGGER IF NOT EXISTS tokens_inserted AFTER INSERT ON tokens {bump}")
    conn.execute(f"CREATE TRIGGER IF NOT EXISTS tokens_deleted AFTER DELETE ON tokens {bump}")
    conn.execute(
        "CREATE TRIGGER IF NOT EXISTS tokens_changed AFTER UPDATE OF id, secret_hash, kind,"
        f" subject, label, created_at, expires_at, revoked_at ON tokens {bump}"
    )


# Each entry moves the schema from version i to i + 1; never edit a released one.
MIGRATIONS: tuple[Migration, ...] = (
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        flow TEXT NOT NULL,
        requester TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        -- When symbox must next act on the run by itself, NULL when never.
        due_at REAL,
        grant_key TEXT,
        grant_state TEXT,
        version INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX runs_by_created ON runs (created_at, id);
    CREATE INDEX runs_by_status ON runs (status, created_at, id);
    CREATE INDEX runs_by_flow ON runs (flow, created_at, id);
    CREATE INDEX runs_due ON runs (due_at) WHERE due_at IS NOT NULL;
    CREATE INDEX runs_by_grant ON runs (grant_key, grant_state) WHERE grant_key IS NOT NULL;

    CREATE TABLE events (
        id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs (id),
        name TEXT NOT NULL,
        at REAL NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX events_by_run ON events (run_id, at);

    CREATE TABLE audit_outbox (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        hash TEXT NOT NULL,
        line TEXT NOT NULL
    );

    CREATE TABLE audit_cursors (
        destination TEXT PRIMARY KEY,
        seq INTEGER NOT NULL
    );

    CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        secret_hash TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        label TEXT,
        created_at REAL NOT NULL,
        expires_at REAL,
        revoked_at REAL
    );
    """,
    """
    -- Slack messages that show a run, so they are updated in place as the run moves on.
    CREATE TABLE slack_messages (
        run_id TEXT NOT NULL REFERENCES runs (id),
        channel TEXT NOT NULL,
        ts TEXT NOT NULL,
        PRIMARY KEY (run_id, channel, ts)
    );
    """,
    """
    -- Who each user is in a system strategies grant in (an Okta login, a GitHub username),
    -- set with the users command. Without a row, the system's own rule applies.
    CREATE TABLE identities (
        email TEXT NOT NULL,
        system TEXT NOT NULL,
        identity TEXT NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (email, system)
    );
    """,
    _key_grants_by_identity,
    """
    -- When each token last authenticated a call, to the minute (bookkeeping, not audited:
    -- the access log has every call).
    ALTER TABLE tokens ADD COLUMN last_used_at REAL;
    """,
    """
    -- Notifications to deliver (webhook posts, emails), written with the run change that
    -- causes them and worked through by the deliverer with retries. next_attempt_at is NULL
    -- once a row is delivered or has failed for good.
    CREATE TABLE notifications (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs (id),
        event_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        integration TEXT NOT NULL,
        recipient TEXT NOT NULL,
        message TEXT NOT NULL,
        created_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL,
        last_error TEXT,
        delivered_at REAL,
        failed_at REAL
    );
    CREATE INDEX notifications_due ON notifications (next_attempt_at)
        WHERE next_attempt_at IS NOT NULL;
    CREATE INDEX notifications_by_run ON notifications (run_id);
    """,
    """
    -- A person's runs that have not ended, read for every request to refuse duplicates.
    CREATE INDEX runs_open_by_requester ON runs (requester, flow, created_at)
        WHERE status IN ('requested', 'approved', 'escalated');
    """,
    # Break-glass runs nobody has reviewed yet, for `symbox report --unreviewed`.
    """
    CREATE INDEX IF NOT EXISTS runs_unreviewed ON runs (created_at)
        WHERE json_extract(body, '$.review.state') = 'needs_review';
    """,
    _count_token_changes,
)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to the latest schema; return the version it is at."""
    while True:
        # The version is read inside the write lock: another process (the CLI beside a
        # starting server) may have migrated between our last look and now.
        conn.execute("BEGIN IMMEDIATE")
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version >= len(MIGRATIONS):
            conn.execute("COMMIT")
            break
        try:
            migration = MIGRATIONS[version]
            if callable(migration):
                migration(conn)
            else:
                for statement in _statements(migration):
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"database schema version {version} is newer than this symbox "
            f"({len(MIGRATIONS)}); upgrade symbox"
        )
    return len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    # Statements are split on ';' so that each runs inside the migration's transaction
    # (executescript would commit first); migrations therefore keep ';' out of comments.
    return [part.strip() for part in script.split(";") if part.strip()]
