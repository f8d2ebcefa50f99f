"""What remote audit destinations share: retries until every record is in, request sizing."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass

import anyio

from symbox.audit.chain import canonical_json
from symbox.metrics import Metrics
from symbox.store.reader import OutboxRecord

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A request to a destination failed; ``retry_after`` is the destination's own hint."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryTiming:
    """Exponential backoff with +-50% jitter between failed requests to one destination."""

    first: float = 0.5
    maximum: float = 60.0

    def delay(self, failures: int, sample: float, retry_after: float | None = None) -> float:
        """Seconds to wait after the ``failures``-th failure in a row (``sample`` in [0, 1))."""
        base = min(self.maximum, self.first * 2.0 ** min(failures - 1, 30))
        wait = base * (0.5 + sample)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return min(self.maximum, wait)


@dataclass(frozen=True)
class Item:
    """One record as a destination sends it: its bytes, and what orders it there."""

    record: OutboxRecord
    data: bytes
    # Records with one key reach the destination in seq order (Kinesis: the partition key).
    key: str
    # Bytes the destination counts against its request limit.
    size: int


def stand_in(record: OutboxRecord, size: int, limit: int) -> str:
    """A short line for a record too big for a destination: its id, seq and hash stay.

    The whole record is in the JSON-lines file, which has no size limit.
    """
    try:
        digest = json.loads(record.line).get("hash")
    except ValueError:
        digest = None
    return canonical_json(
        {
            "id": record.id,
            "seq": record.seq,
            "hash": digest,
            "type": "oversized",
            "service": "symbox",
            "status": "error",
            "run": {"id": record.run_id, "flow": record.flow},
            "message": f"record of {size} bytes exceeds this destination's {limit}-byte limit",
        }
    )


def first_chunk(pending: Sequence[Item], max_records: int, max_bytes: int) -> list[Item]:
    """The longest prefix of ``pending`` within the limits (never empty)."""
    chunk: list[Item] = []
    total = 0
    for item in pending:
        if chunk and (len(chunk) >= max_records or total + item.size > max_bytes):
            break
        chunk.append(item)
        total += item.size
    return chunk


def keyed_chunk(pending: Sequence[Item], max_records: int, max_bytes: int) -> list[Item]:
    """The first pending record of each key, in seq order, within the limits (never empty).

    A key's later records wait for its earlier ones, so a record that fails and is sent
    again can never be overtaken by a later record of the same run.
    """
    chunk: list[Item] = []
    blocked: set[str] = set()
    total = 0
    for item in pending:
        if len(chunk) >= max_records:
            break
        if item.key in blocked:
            continue
        blocked.add(item.key)
        if chunk and total + item.size > max_bytes:
            continue
        chunk.append(item)
        total += item.size
    return chunk


class RemoteSink:
    """A destination over the network: one request at a time, retried until all are in.

    Nothing is dropped and nothing accepted is sent again while the process runs: a
    failed request (or the failed records of a partly failed one) is retried with
    backoff for as long as it takes. The shipper's cursor only moves once a whole batch
    is in, so after a restart some records may arrive twice, with the same ``id``.
    """

    def __init__(
        self,
        name: str,
        metrics: Metrics,
        *,
        timing: RetryTiming | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self._metrics = metrics
        self._timing = timing or RetryTiming()
        self._rng = rng or random.Random()
        self.failures = 0

    @property
    def failing(self) -> bool:
        """True while the last request to the destination failed."""
        return self.failures > 0

    async def delivered_up_to(self) -> int | None:
        """Remote destinations cannot be asked what they hold."""
        return None

    def close(self) -> None:
        """Nothing to release: clients belong to the app."""

    def prepare(self, record: OutboxRecord) -> Item:
        """The record as this destination sends it."""
        raise NotImplementedError

    async def send(self, pending: list[Item]) -> tuple[list[Item], DeliveryError | None]:
        """Make one request from the head of ``pending``; return what is still pending."""
        raise NotImplementedError

    async def deliver(self, records: Sequence[OutboxRecord]) -> None:
        """Deliver ``records``, in order per key, retrying until every one is in."""
        pending = [self.prepare(record) for record in records]
        while pending:
            pending, error = await self.send(pending)
            if error is None:
                if self.failures:
                    log.info(
                        "audit destination recovered",
                        extra={"destination": self.name, "failures": self.failures},
                    )
                self.failures = 0
                continue
            self.failures += 1
            self._metrics.count(
                "symbox_audit_delivery_errors_total",
                "Failed requests to audit destinations.",
                destination=self.name,
            )
            delay = self._timing.delay(self.failures, self._rng.random(), error.retry_after)
            # The first failure of a streak is an error; the retries that follow are not news.
            log.log(
                logging.ERROR if self.failures == 1 else logging.WARNING,
                "audit delivery failed, retrying",
                extra={
                    "destination": self.name,
                    "error": str(error),
                    "failures": self.failures,
                    "retry_in": round(delay, 3),
                    "pending": len(pending),
                },
            )
            await anyio.sleep(delay)
