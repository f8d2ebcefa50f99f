"""Audit delivery: records per second end to end per destination type, and audit's cost.

``python -m bench.audit [--records 20000] [--tasks 8] [--duration 5]``

1. Shipping: ``--records`` sealed records (three per run, about 1 KiB each) are put in the
   outbox, then one ``AuditShipper`` delivers them all to one destination: the JSON-lines
   file (fsync per batch), ``http`` and ``datadog`` to ``bench.receiver`` (another
   process that answers every POST at once), and ``kinesis_data_stream`` and
   ``kinesis_firehose`` to moto in server mode (another process). Time runs from the
   first outbox read to the last cursor commit.
2. Cost: ``RunService.request`` + ``decide`` cycles (as ``bench.service``) from
   ``--tasks`` tasks for ``--duration`` seconds with audit shipping off, to the file only
   (the default), and to the file plus all four remote destinations.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import httpx

from bench.common import (
    FLOW,
    STRATEGY,
    TARGET,
    NoopStrategy,
    drive_cycles,
    print_machine,
    read_config,
    write_config,
)
from bench.cycles import started_process
from symbox.app import App, Options
from symbox.audit.delivery import RetryTiming
from symbox.audit.http_sink import DatadogSink, HttpSink
from symbox.audit.jsonl import JsonLinesFile
from symbox.audit.kinesis import DataStreamSink, FirehoseSink
from symbox.audit.shipper import AuditShipper, AuditSink, FileSink
from symbox.aws.session import AwsConnection
from symbox.aws.settings import ConnectionSettings
from symbox.metrics import Metrics
from symbox.store.handle import open_store
from symbox.store.txn import WriteTxn

STREAM = "audit"
REGION = "us-east-1"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}


def entry(seq: int) -> dict[str, Any]:
    """A record shaped like a run event's, three per run."""
    run = f"run-{seq // 3:08d}-{uuid.uuid4().hex[:8]}"
    return {
        "id": str(uuid.uuid4()),
        "type": "event",
        "timestamp": "2026-11-24T06:00:00.000Z",
        "service": "symbox",
        "status": "info",
        "meta": {"schema_version": 1},
        "event": {"type": "approve", "timestamp": "2026-11-24T06:00:00.000Z", "channel": "api"},
        "run": {
            "id": run,
            "flow": FLOW,
            "actors": {"request": {"kind": "user", "id": "carol@example.com"}},
        },
        "actor": {"kind": "user", "id": "alice@example.com"},
        "fields": {
            "reason": "investigating incident 4242 on the payments database " * 4,
            "duration": 3600,
            "target": {"name": TARGET, "label": "Production DB", "type": "custom", "settings": {}},
        },
        "details": {},
        "state": {"status": "escalated", "errors": []},
    }


def _seed(count: int, start: int, txn: WriteTxn) -> None:
    for seq in range(start, start + count):
        txn.append_audit(entry(seq))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def services(folder: Path) -> Iterator[tuple[str, str]]:
    """bench.receiver and a moto server, each in a process of its own; yield their URLs."""
    port = _free_port()
    moto = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    receiver = [sys.executable, "-m", "bench.receiver"]
    with (
        started_process(receiver, "port", folder / "receiver.log") as (_, line),
        started_process(moto, "Running on", folder / "moto.log"),
    ):
        yield f"http://127.0.0.1:{line.split()[1]}", f"http://127.0.0.1:{port}"


async def _aws(moto_url: str, receiver_url: str) -> AwsConnection:
    connection = AwsConnection(ConnectionSettings(region=REGION, endpoint_url=moto_url))
    connection.require("kinesis")
    connection.require("firehose")
    await connection.open()
    await connection.kinesis().create_stream(StreamName=STREAM, ShardCount=4)
    await connection.firehose().create_delivery_stream(
        DeliveryStreamName=STREAM,
        DeliveryStreamType="DirectPut",
        HttpEndpointDestinationConfiguration={
            "EndpointConfiguration": {"Url": f"{receiver_url}/firehose", "Name": "bench"},
            "S3Configuration": {
                "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                "BucketARN": "arn:aws:s3:::bench",
            },
        },
    )
    return connection


async def shipping(records: int, folder: Path, receiver: str, moto: str) -> list[str]:
    """Records per second through each destination type, as table rows."""
    rows: list[str] = []
    client = httpx.AsyncClient()
    aws = await _aws(moto, receiver)
    timing = RetryTiming(first=0.05, maximum=1.0)
    metrics = Metrics()
    sinks: list[tuple[str, AuditSink]] = [
        ("file", FileSink("file", JsonLinesFile(folder / "audit.jsonl"))),
        ("http", HttpSink("http:bench", f"{receiver}/in", client, metrics, timing=timing)),
        (
            "datadog",
            DatadogSink("datadog:bench", f"{receiver}/dd", "key", client, metrics, timing=timing),
        ),
        ("kinesis_data_stream", DataStreamSink("kds:bench", aws, STREAM, metrics, timing=timing)),
        ("kinesis_firehose", FirehoseSink("kf:bench", aws, STREAM, metrics, timing=timing)),
    ]
    try:
        async with open_store(folder / "symbox.db") as store:
            for start in range(1, records + 1, 1000):
                count = min(1000, records + 1 - start)
                await store.writer.submit(partial(_seed, count, start))
            for kind, sink in sinks:
                shipper = AuditShipper(sink, store.reader, store.writer, metrics)
                cpu = time.process_time()
                began = time.perf_counter()
                shipped = await shipper.catch_up()
                elapsed = time.perf_counter() - began
                cpu = time.process_time() - cpu
                rate, load = shipped / elapsed, 100 * cpu / elapsed
                rows.append(f"| {kind} | {shipped} | {elapsed:.2f} | {rate:,.0f} | {load:.0f}% |")
                print(rows[-1], flush=True)
                sink.close()
    finally:
        await aws.aclose()
        await client.aclose()
    return rows


def _destinations(receiver: str, moto: str) -> str:
    return f"""
resource "sym_log_destination" "http" {{
  type     = "http"
  settings = {{ url = "{receiver}/in" }}
}}
resource "sym_log_destination" "dd" {{
  type     = "datadog"
  settings = {{ api_key = env("SYMBOX_GRANT_SECRET"), url = "{receiver}/dd" }}
}}
resource "sym_log_destination" "kds" {{
  type     = "kinesis_data_stream"
  settings = {{ stream_name = "{STREAM}", region = "{REGION}", endpoint_url = "{moto}" }}
}}
resource "sym_log_destination" "kf" {{
  type     = "kinesis_firehose"
  settings = {{ stream_name = "{STREAM}", region = "{REGION}", endpoint_url = "{moto}" }}
}}
"""


async def cycles(folder: Path, mode: str, tasks: int, duration: float, extra: str) -> str:
    """Request + approve cycles per second with audit shipping ``mode``; a table row."""
    path = write_config(folder / mode)
    if extra:
        path.write_text(path.read_text() + extra)
    app = App(
        read_config(path),
        Options(data_dir=folder / mode / "data", port=0),
        None,
        {STRATEGY: NoopStrategy()},
    )
    if mode == "off":
        app.shippers.clear()
    async with anyio.create_task_group() as group:
        await group.start(app.serve)
        done, cpu = await drive_cycles(app, tasks, duration)
        tip = await app.reader.audit_tip()
        lag = max((tip - shipper.cursor for shipper in app.shippers), default=0)
        app.stop()
    return (
        f"| {mode} | {len(app.shippers)} | {done / duration:.0f} | "
        f"{100 * cpu / duration:.0f}% | {lag} |"
    )


def main(argv: list[str] | None = None) -> int:
    """Print both tables."""
    parser = argparse.ArgumentParser(prog="python -m bench.audit")
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args(argv)
    print_machine()
    with tempfile.TemporaryDirectory(prefix="symbox-bench-") as tmp:
        folder = Path(tmp)
        os.environ.update(AWS_ENV)
        with services(folder) as (receiver, moto):
            print()
            print("| destination | records | seconds | records/s | process CPU |")
            print("|---|---|---|---|---|")
            anyio.run(shipping, args.records, folder / "shipping", receiver, moto)
            print()
            print("| audit shipping | destinations | cycles/s | process CPU | backlog at end |")
            print("|---|---|---|---|---|")
            remote = _destinations(receiver, moto)
            for mode, extra in (
                ("off", ""),
                ("file", ""),
                ("file+http", remote.split('resource "sym_log_destination" "dd"')[0]),
                ("file+4 remote", remote),
            ):
                row = anyio.run(cycles, folder, mode, args.tasks, args.duration, extra)
                print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
