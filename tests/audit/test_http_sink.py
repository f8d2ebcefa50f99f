"""The http and datadog destinations against a local intake that fails, stalls and goes down."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import anyio
import httpx
import pytest

from symbox.audit.chain import sealed_line
from symbox.audit.delivery import RetryTiming
from symbox.audit.http_sink import DATADOG_MAX_RECORD, DatadogSink, HttpSink
from symbox.metrics import Metrics
from symbox.store.reader import OutboxRecord
from tests.fakes.audit_receiver import AuditReceiver

pytestmark = pytest.mark.anyio

FAST = RetryTiming(first=0.01, maximum=0.05)
API_KEY = "dd-secret-key-0123"


def outbox(count: int, *, start: int = 1, runs: int = 7, pad: int = 0) -> list[OutboxRecord]:
    """Sealed records of ``runs`` interleaved runs, as the outbox holds them."""
    records = []
    prev = "0" * 64
    for seq in range(start, start + count):
        run_id = f"run-{seq % runs}"
        entry = {
            "id": f"id-{seq}",
            "type": "event",
            "run": {"id": run_id, "flow": "access"},
            "fields": {"reason": "é" + "x" * pad},
        }
        digest, line = sealed_line(entry, seq, prev)
        prev = digest
        records.append(OutboxRecord(seq, line, f"id-{seq}", run_id, "access"))
    return records


@pytest.fixture
def receiver() -> Iterator[AuditReceiver]:
    """A log intake on loopback."""
    intake = AuditReceiver()
    yield intake
    intake.stop()


@pytest.fixture
async def client() -> httpx.AsyncClient:
    """The HTTP client the sinks share."""
    return httpx.AsyncClient()


async def test_records_go_as_gzipped_json_arrays_in_order_byte_for_byte(
    receiver: AuditReceiver, client: httpx.AsyncClient
) -> None:
    records = outbox(1201)
    sink = HttpSink(
        "http:siem",
        f"{receiver.url}/ingest",
        client,
        Metrics(),
        headers={"Authorization": "Bearer token-1"},
        timing=FAST,
    )
    await sink.deliver(records)
    requests = receiver.accepted()
    assert [len(request.items) for request in requests] == [500, 500, 201]
    for request in requests:
        assert request.path == "/ingest"
        assert request.headers["Content-Encoding"] == "gzip"
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["Authorization"] == "Bearer token-1"
    assert [item["seq"] for item in receiver.items()] == list(range(1, 1202))
    # Byte for byte the sealed record, so a receiver can check each hash.
    assert receiver.items()[0]["hash"] == records[0].line.split('"hash":"')[1][:64]
    assert not sink.failing
    await client.aclose()


async def test_429_and_5xx_are_retried_and_nothing_is_sent_twice(
    receiver: AuditReceiver, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    metrics = Metrics()
    receiver.fail(429, retry_after="0")
    receiver.fail(500)
    receiver.fail(503, times=2)
    sink = HttpSink("http:siem", receiver.url, client, metrics, max_records=100, timing=FAST)
    await sink.deliver(outbox(250))
    assert [item["id"] for item in receiver.items()] == [f"id-{seq}" for seq in range(1, 251)]
    assert metrics.counter_value("symbox_audit_delivery_errors_total", destination="http:siem") == 4
    assert not sink.failing
    messages = [record.getMessage() for record in caplog.records]
    assert "audit delivery failed, retrying" in messages
    assert "audit destination recovered" in messages
    await client.aclose()


async def test_a_slow_receiver_times_out_and_the_retry_keeps_the_same_ids(
    receiver: AuditReceiver, client: httpx.AsyncClient
) -> None:
    receiver.stall(0.5)
    sink = HttpSink("http:siem", receiver.url, client, Metrics(), timeout=0.2, timing=FAST)
    await sink.deliver(outbox(20))
    # The stalled request may have been taken in as well: delivery is at least once,
    # and a record delivered again has the same id.
    ids = [item["id"] for item in receiver.items()]
    assert ids[-20:] == [f"id-{seq}" for seq in range(1, 21)]
    assert set(ids) == {f"id-{seq}" for seq in range(1, 21)}
    await client.aclose()


async def test_a_receiver_that_is_down_delays_delivery_until_it_is_back(
    receiver: AuditReceiver, client: httpx.AsyncClient
) -> None:
    receiver.down()
    sink = HttpSink("http:siem", receiver.url, client, Metrics(), timing=FAST)
    async with anyio.create_task_group() as group:
        group.start_soon(sink.deliver, outbox(30))
        with anyio.fail_after(5):
            while True:
                if sink.failures >= 3:
                    break
                await anyio.sleep(0.01)
        assert sink.failing
        receiver.up()
    assert [item["seq"] for item in receiver.items()] == list(range(1, 31))
    assert not sink.failing
    await client.aclose()


async def test_413_makes_requests_smaller(
    receiver: AuditReceiver, client: httpx.AsyncClient
) -> None:
    receiver.fail(413)
    sink = HttpSink("http:siem", receiver.url, client, Metrics(), timing=FAST)
    await sink.deliver(outbox(400))
    assert [len(request.items) for request in receiver.accepted()] == [200, 200]
    await client.aclose()


async def test_datadog_gets_its_attributes_and_key_and_never_sees_it_logged(
    receiver: AuditReceiver, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver.fail(403)
    sink = DatadogSink(
        "datadog:dd",
        f"{receiver.url}/api/v2/logs",
        API_KEY,
        client,
        Metrics(),
        service="access",
        tags="env:prod,team:security",
        timing=FAST,
    )
    await sink.deliver(outbox(1001))
    requests = receiver.accepted()
    assert [len(request.items) for request in requests] == [1000, 1]
    assert requests[0].path == "/api/v2/logs"
    assert requests[0].headers["DD-API-KEY"] == API_KEY
    first = receiver.items()[0]
    assert first["ddsource"] == "symbox"
    assert first["service"] == "access"
    assert first["ddtags"] == "env:prod,team:security"
    assert first["fields"]["reason"].startswith("é")
    assert all(API_KEY not in record.getMessage() for record in caplog.records)
    assert all(API_KEY not in str(record.__dict__) for record in caplog.records)
    await client.aclose()


async def test_a_record_over_datadogs_limit_is_replaced_by_a_stand_in(
    receiver: AuditReceiver, client: httpx.AsyncClient
) -> None:
    big = outbox(1, start=5, pad=DATADOG_MAX_RECORD)
    sink = DatadogSink("datadog:dd", receiver.url, API_KEY, client, Metrics(), timing=FAST)
    await sink.deliver(outbox(2) + big)
    items = receiver.items()
    assert [item["seq"] for item in items] == [1, 2, 5]
    assert items[0]["ddsource"] == "symbox"
    assert "ddtags" not in items[0]
    assert items[2]["type"] == "oversized"
    assert items[2]["id"] == "id-5"
    assert items[2]["hash"] == big[0].line.split('"hash":"')[1][:64]
    await client.aclose()
