"""API tokens kept in memory by secret hash, trusted only while no token has changed."""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

from symbox.tokens import TokenRecord

# Tokens kept: far more than any deployment issues; a bound, so memory is too.
TOKEN_CACHE_SIZE = 1024


class TokenSource(Protocol):
    """Where tokens are looked up when they are not kept (the reader)."""

    async def token_by_hash(self, secret_hash: str) -> TokenRecord | None:
        """Return the token stored under ``secret_hash``, or None."""


class TokenCache:
    """Tokens by secret hash, kept while the database's count of token changes stands still.

    Every API call authenticates, so a lookup through the reader (a thread hop and a query)
    on each one is a large part of a small call. Instead the count that triggers keep in
    ``token_changes`` is read first, straight from SQLite on the calling thread (one row of
    a table nobody writes often: microseconds, no hop); when it moved, everything kept is
    dropped. So a token revoked or changed by any process, this one or the CLI, is never
    trusted again from the first call after its commit. Unknown secrets are not kept (a
    guesser cannot fill memory). Last uses are not counted as changes: a kept token's
    ``last_used_at`` may be older than the stored one (the writer of uses knows better).
    """

    def __init__(self, database: Path, source: TokenSource, size: int = TOKEN_CACHE_SIZE) -> None:
        self._database = database
        self._source = source
        self._size = size
        self._conn: sqlite3.Connection | None = None
        self._tokens: OrderedDict[str, TokenRecord] = OrderedDict()
        self._seen: int | None = None

    def _changes(self) -> int:
        if self._conn is None:
            # Opened on first use, on the thread that uses it, once the writer has migrated.
            conn = sqlite3.connect(self._database, isolation_level=None)
            conn.execute("PRAGMA query_only = ON")
            conn.execute("PRAGMA busy_timeout = 5000")
            self._conn = conn
        row = self._conn.execute("SELECT count FROM token_changes WHERE id = 1").fetchone()
        return int(row[0])

    async def token_by_hash(self, secret_hash: str) -> TokenRecord | None:
        """Return the token stored under ``secret_hash`` as it is now, or None."""
        changes = self._changes()
        if changes != self._seen:
            self._tokens.clear()
            self._seen = changes
        kept = self._tokens.get(secret_hash)
        if kept is not None:
            self._tokens.move_to_end(secret_hash)
            return kept
        token = await self._source.token_by_hash(secret_hash)
        # Read after the count was: kept only if no other call has seen the count move
        # meanwhile (a change committed during the lookup moves it for the next call).
        if token is not None and self._seen == changes and self._size > 0:
            self._tokens[secret_hash] = token
            if len(self._tokens) > self._size:
                self._tokens.popitem(last=False)
        return token

    def close(self) -> None:
        """Close the connection the count is read through."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
