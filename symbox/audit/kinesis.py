"""The ``kinesis_firehose`` and ``kinesis_data_stream`` audit destinations, through aioboto3."""

from __future__ import annotations

import random
from typing import Any

from symbox.audit.delivery import (
    DeliveryError,
    Item,
    RemoteSink,
    RetryTiming,
    keyed_chunk,
    stand_in,
)
from symbox.aws.errors import AwsCallError, call
from symbox.aws.session import AwsConnection
from symbox.metrics import Metrics
from symbox.store.reader import OutboxRecord

MAX_RECORDS = 500
# PutRecordBatch: 4 MiB a request, 1,000 KiB a record (before base64).
FIREHOSE_MAX_BYTES = 4 * 1024 * 1024
FIREHOSE_MAX_RECORD = 1000 * 1024
# PutRecords: 5 MiB a request and 1 MiB a record, partition keys included.
STREAM_MAX_BYTES = 5 * 1024 * 1024
STREAM_MAX_RECORD = 1024 * 1024


def _key(record: OutboxRecord) -> str:
    # A run's records share a shard, so a reader of the stream sees them in order.
    return record.run_id or record.id


class _KinesisSink(RemoteSink):
    """Sends the first pending record of each run per call; failed records are sent again."""

    max_bytes: int
    max_record: int
    # Whether the partition key counts against the service's size limits.
    key_counts: bool

    def __init__(
        self,
        name: str,
        connection: AwsConnection,
        stream_name: str,
        metrics: Metrics,
        *,
        timing: RetryTiming | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(name, metrics, timing=timing, rng=rng)
        self._connection = connection
        self._stream = stream_name

    def payload(self, line: str) -> bytes:
        """The bytes stored for one audit line."""
        return line.encode("utf-8")

    def prepare(self, record: OutboxRecord) -> Item:
        """The record's line, or a stand-in when it is over the per-record limit."""
        key = _key(record)
        data = self.payload(record.line)
        size = len(data) + (len(key.encode("utf-8")) if self.key_counts else 0)
        if size > self.max_record:
            data = self.payload(stand_in(record, size, self.max_record))
            size = len(data) + (len(key.encode("utf-8")) if self.key_counts else 0)
        return Item(record, data, key, size)

    async def put(self, chunk: list[Item]) -> list[dict[str, Any]]:
        """Make the service call; return its per-record results, in request order."""
        raise NotImplementedError

    async def send(self, pending: list[Item]) -> tuple[list[Item], DeliveryError | None]:
        """Put one batch; keep the records that failed, in their original order."""
        chunk = keyed_chunk(pending, MAX_RECORDS, self.max_bytes)
        try:
            results = await self.put(chunk)
        except AwsCallError as error:
            return pending, DeliveryError(str(error))
        failed = {
            item.record.seq
            for item, result in zip(chunk, results, strict=True)
            if result.get("ErrorCode")
        }
        sent = {item.record.seq for item in chunk} - failed
        remaining = [item for item in pending if item.record.seq not in sent]
        if not failed:
            return remaining, None
        codes = sorted({str(result["ErrorCode"]) for result in results if result.get("ErrorCode")})
        return remaining, DeliveryError(
            f"{len(failed)} of {len(chunk)} records failed ({', '.join(codes)})"
        )


class FirehoseSink(_KinesisSink):
    """PutRecordBatch to a Firehose stream; each record is one JSON line with its newline."""

    max_bytes = FIREHOSE_MAX_BYTES
    max_record = FIREHOSE_MAX_RECORD
    # Firehose has no partition key; the run id still orders a run's records.
    key_counts = False

    def payload(self, line: str) -> bytes:
        """The line and a newline, so the objects Firehose writes are JSON lines."""
        return line.encode("utf-8") + b"\n"

    async def put(self, chunk: list[Item]) -> list[dict[str, Any]]:
        """One PutRecordBatch call."""
        response = await call(
            "firehose:PutRecordBatch",
            self._connection.firehose().put_record_batch(
                DeliveryStreamName=self._stream,
                Records=[{"Data": item.data} for item in chunk],
            ),
        )
        return list(response["RequestResponses"])


class DataStreamSink(_KinesisSink):
    """PutRecords to a Kinesis data stream, partitioned by run id (record id otherwise)."""

    max_bytes = STREAM_MAX_BYTES
    max_record = STREAM_MAX_RECORD
    key_counts = True

    async def put(self, chunk: list[Item]) -> list[dict[str, Any]]:
        """One PutRecords call."""
        response = await call(
            "kinesis:PutRecords",
            self._connection.kinesis().put_records(
                StreamName=self._stream,
                Records=[{"Data": item.data, "PartitionKey": item.key} for item in chunk],
            ),
        )
        return list(response["Records"])
