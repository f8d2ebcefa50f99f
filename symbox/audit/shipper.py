"""Moves sealed audit records from the outbox to a destination, in order, each exactly once."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import anyio

from symbox.audit.entry import system_entry
from symbox.audit.jsonl import JsonLinesFile
from symbox.clock import Clock, SystemClock
from symbox.engine.model import Actor
from symbox.metrics import Metrics
from symbox.store.reader import OutboxRecord, Reader
from symbox.store.writer import Writer

log = logging.getLogger(__name__)


class AuditSink(Protocol):
    """A destination for sealed audit records (a file, Kinesis, an HTTP endpoint)."""

    name: str

    @property
    def failing(self) -> bool:
        """True while the destination refuses or cannot be reached."""
        ...

    async def delivered_up_to(self) -> int | None:
        """The destination's own knowledge of the last seq it holds, if it can tell."""
        ...

    async def deliver(self, records: Sequence[OutboxRecord]) -> None:
        """Store ``records`` in order; return once all are stored, or raise."""
        ...

    def close(self) -> None:
        """Release the destination's resources."""
        ...


@dataclass(frozen=True)
class Route:
    """Which records a destination receives: all, or those of its environments' flows.

    Records of no flow (config loads, tokens) and of flows the config no longer has go
    everywhere: sending a record to one destination too many is better than to none.
    """

    flows: frozenset[str] | None = None
    known: frozenset[str] = frozenset()

    def accepts(self, flow: str | None) -> bool:
        """Whether a record of ``flow`` (None: of no flow) goes to this destination."""
        return self.flows is None or flow is None or flow in self.flows or flow not in self.known


class FileSink:
    """The JSON-lines file a log agent tails."""

    failing = False  # a failed append raises, and the shipper keeps count

    def __init__(self, name: str, file: JsonLinesFile) -> None:
        self.name = name
        self._file = file

    async def delivered_up_to(self) -> int | None:
        """The seq of the file's last line: a crash after writing is not written twice."""
        return await anyio.to_thread.run_sync(self._file.last_seq)

    async def deliver(self, records: Sequence[OutboxRecord]) -> None:
        """Append (and fsync) the lines."""
        lines = [(record.seq, record.line) for record in records]
        await anyio.to_thread.run_sync(self._file.append, lines)

    def close(self) -> None:
        """Close the file."""
        self._file.close()


class AuditShipper:
    """Follows the outbox with a durable cursor for one sink."""

    def __init__(
        self,
        sink: AuditSink,
        reader: Reader,
        writer: Writer,
        metrics: Metrics,
        *,
        route: Route | None = None,
        clock: Clock | None = None,
        batch: int = 500,
        poll_interval: float = 1.0,
        retry_interval: float = 2.0,
        coalesce: float = 0.02,
    ) -> None:
        self._sink = sink
        self._reader = reader
        self._writer = writer
        self._metrics = metrics
        self._route = route or Route()
        self._clock = clock or SystemClock()
        self._batch = batch
        self._poll = poll_interval
        self._retry = retry_interval
        self._coalesce = coalesce
        self._wake = anyio.Event()
        self._cursor: int | None = None
        self._failed = False

    @property
    def name(self) -> str:
        """The destination's name, under which its cursor is stored."""
        return self._sink.name

    def close(self) -> None:
        """Close the destination."""
        self._sink.close()

    @property
    def cursor(self) -> int:
        """The last seq delivered (0 before the first delivery)."""
        return self._cursor or 0

    @property
    def failing(self) -> bool:
        """True while delivery to the destination is failing."""
        return self._failed or self._sink.failing

    def notify(self) -> None:
        """Say that new records were committed."""
        self._wake.set()

    async def restore(self) -> None:
        """Find where delivery stands: the stored cursor, or the sink's own knowledge."""
        stored = await self._reader.audit_cursor(self._sink.name)
        sink_has = await self._sink.delivered_up_to()
        if sink_has is not None and sink_has > await self._reader.audit_tip():
            # The destination holds records this database never wrote: a restored or
            # replaced database. Records up to its seq would be skipped, so say so loudly.
            log.error(
                "audit destination is ahead of the database; records up to its seq are skipped",
                extra={"destination": self._sink.name, "destination_seq": sink_has},
            )
        if sink_has is not None and sink_has < stored:
            await self._report_truncation(sink_has, stored)
            # Deliver again what the outbox still holds: the chain continues unbroken where
            # it can, and a gap that cannot be filled stays visible to `audit verify`.
            self._cursor = sink_has
            return
        self._cursor = max(stored, sink_has or 0)

    async def _report_truncation(self, ends_at: int, delivered: int) -> None:
        """Say loudly that records delivered to the destination are no longer at its end."""
        missing = f"seq {ends_at + 1} to {delivered}"
        log.error(
            "audit destination ends before the records delivered to it",
            extra={
                "missing": missing,
                "destination": self._sink.name,
                "ends_at_seq": ends_at,
                "delivered_seq": delivered,
            },
        )
        self._metrics.count(
            "symbox_audit_truncations_total",
            "Times a destination was found to end before the records delivered to it.",
            1,
            destination=self._sink.name,
        )
        entry = system_entry(
            "audit",
            "destination_truncated",
            actor=Actor.system(),
            at=self._clock.now(),
            channel="system",
            fields={
                "destination": self._sink.name,
                "ends_at_seq": ends_at,
                "delivered_seq": delivered,
                "missing": missing,
            },
            errors=(f"{self._sink.name} ends at seq {ends_at}; {missing} missing",),
        )
        await self._writer.submit(lambda txn: txn.append_audit(entry))

    async def catch_up(self) -> int:
        """Deliver everything committed so far; return how many records were delivered."""
        if self._cursor is None:
            await self.restore()
        delivered = 0
        while True:
            scanned = await self._reader.audit_records_after(self.cursor, self._batch)
            if not scanned:
                return delivered
            records = [record for record in scanned if self._route.accepts(record.flow)]
            if records:
                await self._sink.deliver(records)
            # Records routed elsewhere are passed over for good: the cursor moves past them.
            last = scanned[-1].seq
            await self._writer.submit(
                lambda txn, last=last: txn.set_cursor(self._sink.name, last)  # type: ignore[misc]
            )
            self._cursor = last
            self._failed = False
            delivered += len(records)
            self._metrics.count(
                "symbox_audit_records_shipped_total",
                "Audit records delivered.",
                len(records),
                destination=self._sink.name,
            )

    async def run(self) -> None:
        """Ship until cancelled; a failing sink is retried and delays only itself."""
        while True:
            self._wake = anyio.Event()
            try:
                await self.catch_up()
            except Exception:
                self._failed = True
                log.exception("audit delivery failed", extra={"destination": self._sink.name})
                # Start again from what the sink and the database say, not from memory.
                self._cursor = None
                await anyio.sleep(self._retry)
                continue
            with anyio.move_on_after(self._poll):
                await self._wake.wait()
            # Commits come in bursts: waiting a moment ships them in one batch and one fsync.
            await anyio.sleep(self._coalesce)
