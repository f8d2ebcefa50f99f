"""Open the store outside ``symbox run``: for the CLI's admin commands and tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio

from symbox.store.reader import Reader
from symbox.store.writer import Writer


@dataclass(frozen=True)
class StoreHandle:
    """A writer and a reader over one database."""

    writer: Writer
    reader: Reader


@asynccontextmanager
async def open_store(path: Path) -> AsyncIterator[StoreHandle]:
    """Open the database at ``path`` (creating it) for the body of an ``async with``."""
    writer = Writer(path)
    reader = Reader(path)
    try:
        await writer.open()
        await reader.open()
        async with anyio.create_task_group() as group:
            group.start_soon(writer.serve)
            yield StoreHandle(writer, reader)
            group.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await reader.close()
            await writer.close()
