"""Tokens kept in memory: trusted only while no token changed, whichever process changed it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import pytest

from symbox.cli.tokens import issue_token, revoke_token
from symbox.engine.model import Actor
from symbox.store.handle import StoreHandle, open_store
from symbox.store.reader import Reader
from symbox.store.token_cache import TokenCache
from symbox.tokens import TokenRecord, hash_secret

pytestmark = pytest.mark.anyio

OPERATOR = Actor.user("ops@example.com")


class CountedLookups:
    """The reader's token lookup, counting the calls that reach it."""

    def __init__(self, reader: Reader) -> None:
        self._reader = reader
        self.calls = 0

    async def token_by_hash(self, secret_hash: str) -> TokenRecord | None:
        """Look the token up in the database."""
        self.calls += 1
        return await self._reader.token_by_hash(secret_hash)


async def _issue(store: StoreHandle, subject: str = "ci") -> tuple[str, TokenRecord]:
    return await issue_token(
        store.writer,
        kind="bot",
        subject=subject,
        label=None,
        now=100.0,
        expires_in=None,
        issued_by=OPERATOR,
    )


async def test_a_token_is_looked_up_once_then_kept(tmp_path: Path) -> None:
    database = tmp_path / "symbox.db"
    async with open_store(database) as store:
        secret, record = await _issue(store)
        lookups = CountedLookups(store.reader)
        cache = TokenCache(database, lookups)
        try:
            for _ in range(3):
                assert await cache.token_by_hash(hash_secret(secret)) == record
            assert lookups.calls == 1
            # A use is bookkeeping: recording it does not make the kept token doubtful.
            await store.writer.submit(lambda txn: txn.token_used(record.id, 200.0))
            assert await cache.token_by_hash(hash_secret(secret)) == record
            assert lookups.calls == 1
            # Unknown secrets are asked about each time, and never kept.
            for _ in range(2):
                assert await cache.token_by_hash(hash_secret("sbx_guess")) is None
            assert lookups.calls == 3
        finally:
            cache.close()


async def test_a_revoke_is_seen_by_the_next_lookup(tmp_path: Path) -> None:
    database = tmp_path / "symbox.db"
    async with open_store(database) as store:
        secret, record = await _issue(store)
        other_secret, other = await _issue(store, "deploy")
        cache = TokenCache(database, store.reader)
        try:
            assert await cache.token_by_hash(hash_secret(secret)) == record
            assert await cache.token_by_hash(hash_secret(other_secret)) == other
            assert await revoke_token(store.writer, record.id, now=150.0, revoked_by=OPERATOR)
            revoked = await cache.token_by_hash(hash_secret(secret))
            assert revoked is not None and revoked.revoked_at == 150.0
            assert not revoked.usable_at(151.0)
            still = await cache.token_by_hash(hash_secret(other_secret))
            assert still is not None and still.usable_at(151.0)
        finally:
            cache.close()


async def test_a_revoke_by_another_process_is_seen_by_the_next_lookup(tmp_path: Path) -> None:
    database = tmp_path / "symbox.db"
    async with open_store(database) as store:
        secret, record = await _issue(store)
        cache = TokenCache(database, store.reader)
        try:
            kept = await cache.token_by_hash(hash_secret(secret))
            assert kept is not None and kept.revoked_at is None
            revoked = await anyio.run_process(
                [sys.executable, "-m", "symbox", "tokens", "revoke", record.id],
                env={**os.environ, "SYMBOX_DATA_DIR": str(tmp_path)},
                check=False,
            )
            assert revoked.returncode == 0, revoked.stderr.decode()
            seen = await cache.token_by_hash(hash_secret(secret))
            assert seen is not None and seen.revoked_at is not None
        finally:
            cache.close()
