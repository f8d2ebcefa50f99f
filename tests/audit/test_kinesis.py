"""Firehose and Data Streams destinations against moto in server mode, with failed records."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from symbox.audit.chain import sealed_line
from symbox.audit.delivery import RetryTiming
from symbox.audit.kinesis import STREAM_MAX_RECORD, DataStreamSink, FirehoseSink
from symbox.aws.session import AwsConnection
from symbox.aws.settings import ConnectionSettings
from symbox.metrics import Metrics
from symbox.store.reader import OutboxRecord
from tests.fakes.audit_receiver import AuditReceiver
from tests.fakes.kinesis_faults import RecordFaults
from tests.fakes.moto import REGION, MotoServer

pytestmark = pytest.mark.anyio

FAST = RetryTiming(first=0.01, maximum=0.05)
STREAM = "symbox-audit"


def outbox(count: int, *, pad: int = 0, big: frozenset[int] = frozenset()) -> list[OutboxRecord]:
    """Records of runs with three records each, and a record of no run every tenth seq."""
    records = []
    prev = "0" * 64
    for seq in range(1, count + 1):
        run_id = None if seq % 10 == 0 else f"run-{seq // 3}"
        entry: dict[str, Any] = {"id": f"id-{seq}", "type": "event"}
        if run_id is not None:
            entry["run"] = {"id": run_id, "flow": "access"}
        entry["fields"] = {"reason": "x" * (STREAM_MAX_RECORD if seq in big else pad)}
        digest, line = sealed_line(entry, seq, prev)
        prev = digest
        records.append(
            OutboxRecord(seq, line, f"id-{seq}", run_id, None if run_id is None else "access")
        )
    return records


def check_arrival(arrived: list[dict[str, Any]], count: int) -> None:
    """Every record exactly once, and each run's records in seq order."""
    seqs = [item["seq"] for item in arrived]
    assert sorted(seqs) == list(range(1, count + 1))
    by_run: dict[str, list[int]] = defaultdict(list)
    for item in arrived:
        if "run" in item:
            by_run[item["run"]["id"]].append(item["seq"])
    assert all(runs == sorted(runs) for runs in by_run.values())


@pytest.fixture
async def moto(aws_env: MotoServer) -> AsyncIterator[AwsConnection]:
    """A Kinesis and Firehose client straight to moto, to create and read streams."""
    connection = AwsConnection(
        ConnectionSettings(region=REGION, endpoint_url=aws_env.url, max_attempts=1)
    )
    connection.require("kinesis")
    connection.require("firehose")
    await connection.open()
    try:
        yield connection
    finally:
        await connection.aclose()


@pytest.fixture
def faults(aws_env: MotoServer) -> Iterator[RecordFaults]:
    """The record-failing proxy before moto."""
    proxy = RecordFaults(aws_env.url)
    yield proxy
    proxy.stop()


@pytest.fixture
async def through_faults(faults: RecordFaults) -> AsyncIterator[AwsConnection]:
    """The destinations' connection, through the proxy."""
    connection = AwsConnection(
        ConnectionSettings(region=REGION, endpoint_url=faults.url, max_attempts=1)
    )
    connection.require("kinesis")
    connection.require("firehose")
    await connection.open()
    try:
        yield connection
    finally:
        await connection.aclose()


async def stream_records(moto: AwsConnection) -> list[dict[str, Any]]:
    """Everything in the one-shard stream, in the order the shard holds it, with its key."""
    kinesis = moto.kinesis()
    shards = (await kinesis.list_shards(StreamName=STREAM))["Shards"]
    assert len(shards) == 1
    iterator = (
        await kinesis.get_shard_iterator(
            StreamName=STREAM, ShardId=shards[0]["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )
    )["ShardIterator"]
    found: list[dict[str, Any]] = []
    while iterator:
        page = await kinesis.get_records(ShardIterator=iterator, Limit=10000)
        for record in page["Records"]:
            item = json.loads(record["Data"])
            item["partition_key"] = record["PartitionKey"]
            found.append(item)
        if not page["Records"]:
            break
        iterator = page.get("NextShardIterator")
    return found


async def test_data_stream_gets_every_record_once_with_failed_records_retried(
    moto: AwsConnection, through_faults: AwsConnection, faults: RecordFaults
) -> None:
    await moto.kinesis().create_stream(StreamName=STREAM, ShardCount=1)
    metrics = Metrics()
    sink = DataStreamSink("kinesis_data_stream:s", through_faults, STREAM, metrics, timing=FAST)
    faults.fail_records([0, 5, 17, 200], [1])
    faults.fail_calls(1)
    records = outbox(1200)
    for start in range(0, 1200, 500):
        await sink.deliver(records[start : start + 500])
    arrived = await stream_records(moto)
    check_arrival(arrived, 1200)
    # Partitioned by run (by the record's id when it has none).
    for item in arrived:
        expected = item["run"]["id"] if "run" in item else item["id"]
        assert item["partition_key"] == expected
    assert all(count <= 500 for count, _ in faults.puts)
    # Only the failed records were sent again: 1,200 records plus 5 failed, plus the call
    # that failed as a whole.
    whole = faults.puts[0][0]
    assert sum(count for count, _ in faults.puts) == 1200 + 5 + whole
    assert (
        metrics.counter_value(
            "symbox_audit_delivery_errors_total", destination="kinesis_data_stream:s"
        )
        == 3
    )
    assert not sink.failing


async def test_data_stream_replaces_a_record_over_one_mib(
    moto: AwsConnection, through_faults: AwsConnection
) -> None:
    await moto.kinesis().create_stream(StreamName=STREAM, ShardCount=1)
    sink = DataStreamSink("kinesis_data_stream:s", through_faults, STREAM, Metrics(), timing=FAST)
    await sink.deliver(outbox(4, big=frozenset({2})))
    arrived = {item["seq"]: item for item in await stream_records(moto)}
    assert sorted(arrived) == [1, 2, 3, 4]
    assert arrived[2]["type"] == "oversized" and arrived[2]["id"] == "id-2"


async def test_firehose_gets_json_lines_with_failed_records_retried(
    moto: AwsConnection, through_faults: AwsConnection, faults: RecordFaults
) -> None:
    receiver = AuditReceiver()
    try:
        await moto.firehose().create_delivery_stream(
            DeliveryStreamName=STREAM,
            DeliveryStreamType="DirectPut",
            HttpEndpointDestinationConfiguration={
                "EndpointConfiguration": {"Url": f"{receiver.url}/firehose", "Name": "audit"},
                "S3Configuration": {
                    "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                    "BucketARN": "arn:aws:s3:::audit-backup",
                },
            },
        )
        sink = FirehoseSink("kinesis_firehose:f", through_faults, STREAM, Metrics(), timing=FAST)
        faults.fail_records([2, 3, 4], [], [0])
        records = outbox(700)
        await sink.deliver(records[:500])
        await sink.deliver(records[500:])
        check_arrival(receiver.items(), 700)
        assert sum(count for count, _ in faults.puts) == 700 + 4
    finally:
        receiver.stop()
