"""The segment destination against a fake Segment batch API on loopback."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from symbox.audit.chain import sealed_line
from symbox.audit.delivery import RetryTiming
from symbox.audit.segment import ANONYMOUS_ID, SEGMENT_MAX_EVENT, SegmentSink, batch_url
from symbox.metrics import Metrics
from symbox.store.reader import OutboxRecord
from tests.fakes.segment import SegmentReceiver

pytestmark = pytest.mark.anyio

FAST = RetryTiming(first=0.01, maximum=0.05)
WRITE_KEY = "seg-write-key-0123"


def outbox(count: int, *, start: int = 1, pad: int = 0) -> list[OutboxRecord]:
    """Sealed run events, as the outbox holds them: even seqs by a user, odd ones by a bot."""
    records = []
    prev = "0" * 64
    for seq in range(start, start + count):
        run_id = f"run-{seq % 3}"
        actor = (
            {"kind": "user", "id": f"user{seq}@example.com"}
            if seq % 2 == 0
            else {"kind": "bot", "id": "deploy"}
        )
        entry = {
            "id": f"id-{seq}",
            "type": "event",
            "timestamp": f"2024-05-01T12:00:{seq % 60:02d}.000Z",
            "service": "symbox",
            "status": "info",
            "event": {"type": "approve" if seq % 2 == 0 else "request", "channel": "api"},
            "run": {"id": run_id, "flow": "access"},
            "actor": actor,
            "fields": {"reason": "é" + "x" * pad},
            "details": {},
        }
        digest, line = sealed_line(entry, seq, prev)
        prev = digest
        records.append(OutboxRecord(seq, line, f"id-{seq}", run_id, "access"))
    return records


@pytest.fixture
def segment() -> Iterator[SegmentReceiver]:
    """Segment's batch API on loopback."""
    intake = SegmentReceiver(WRITE_KEY)
    yield intake
    intake.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP client the sinks share."""
    async with httpx.AsyncClient() as shared:
        yield shared


def sink(
    segment: SegmentReceiver,
    client: httpx.AsyncClient,
    metrics: Metrics | None = None,
    **kwargs: object,
) -> SegmentSink:
    """A segment sink pointed at the fake."""
    return SegmentSink(
        "segment:seg",
        batch_url(segment.url),
        WRITE_KEY,
        client,
        metrics or Metrics(),
        timing=FAST,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_batches_arrive_with_basic_auth_as_track_events(
    segment: SegmentReceiver, client: httpx.AsyncClient
) -> None:
    records = outbox(1001)
    await sink(segment, client, stream_name="symbox-audit").deliver(records)
    requests = segment.accepted()
    assert [len(request.items) for request in requests] == [500, 500, 1]
    credentials = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    for request in requests:
        assert request.path == "/v1/batch"
        assert request.headers["Authorization"] == f"Basic {credentials}"
        assert request.headers["Content-Type"] == "application/json"
        assert "Content-Encoding" not in request.headers
    events = segment.items()
    assert segment.message_ids() == [f"id-{seq}" for seq in range(1, 1002)]
    bot, user = events[0], events[1]
    assert bot["type"] == "track"
    assert bot["event"] == "request"
    assert bot["anonymousId"] == ANONYMOUS_ID and "userId" not in bot
    assert user["event"] == "approve"
    assert user["userId"] == "user2@example.com" and "anonymousId" not in user
    assert user["timestamp"] == "2024-05-01T12:00:02.000Z"
    # The whole sealed record, so its hash can still be checked.
    assert user["properties"] == json.loads(records[1].line)
    assert user["context"] == {"library": {"name": "symbox"}, "stream_name": "symbox-audit"}


async def test_429_and_503_are_retried_and_each_event_arrives_once(
    segment: SegmentReceiver, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    metrics = Metrics()
    segment.fail(429, retry_after="0")
    segment.fail(503)
    target = sink(segment, client, metrics)
    await target.deliver(outbox(30))
    assert segment.message_ids() == [f"id-{seq}" for seq in range(1, 31)]
    # The refused requests carried the same events: a retry is the same batch again.
    refused = [request for request in segment.state.requests if request.status >= 300]
    assert [request.status for request in refused] == [429, 503]
    assert (
        metrics.counter_value("symbox_audit_delivery_errors_total", destination="segment:seg") == 2
    )
    assert not target.failing
    messages = [record.getMessage() for record in caplog.records]
    assert "audit destination recovered" in messages


async def test_a_400_is_the_sinks_error_and_retried_until_accepted(
    segment: SegmentReceiver, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    segment.fail(400)
    await sink(segment, client).deliver(outbox(3))
    failed = [r for r in caplog.records if r.getMessage() == "audit delivery failed, retrying"]
    assert [r.__dict__["error"] for r in failed] == ["HTTP 400 (check the destination's settings)"]
    assert [r.__dict__["destination"] for r in failed] == ["segment:seg"]
    assert segment.message_ids() == ["id-1", "id-2", "id-3"]
    assert all(WRITE_KEY not in str(r.__dict__) for r in caplog.records)


async def test_a_wrong_write_key_is_refused_by_segment(
    segment: SegmentReceiver, client: httpx.AsyncClient
) -> None:
    wrong = SegmentSink("segment:seg", batch_url(segment.url), "not-the-key", client, Metrics())
    pending, error = await wrong.send([wrong.prepare(record) for record in outbox(1)])
    assert error is not None and str(error) == "HTTP 401 (check the destination's settings)"
    assert len(pending) == 1


async def test_an_oversized_record_is_trimmed_not_refused_forever(
    segment: SegmentReceiver, client: httpx.AsyncClient
) -> None:
    big = outbox(1, start=4, pad=SEGMENT_MAX_EVENT)
    await sink(segment, client).deliver(outbox(2) + big)
    events = segment.items()
    assert segment.message_ids() == ["id-1", "id-2", "id-4"]
    trimmed = events[2]
    assert trimmed["event"] == "approve"
    assert trimmed["userId"] == "user4@example.com"
    assert trimmed["properties"]["truncated"] is True
    assert "fields" not in trimmed["properties"]
    assert trimmed["properties"]["hash"] == json.loads(big[0].line)["hash"]
    assert trimmed["properties"]["seq"] == 4
    assert "exceeds Segment's" in trimmed["properties"]["message"]
    assert "truncated" not in events[0]["properties"]


async def test_requests_stay_under_segments_batch_size(
    segment: SegmentReceiver, client: httpx.AsyncClient
) -> None:
    # About 20 KB each: 500 of them would be 10 MB, far over Segment's 500 KB a request.
    await sink(segment, client).deliver(outbox(60, pad=20_000))
    requests = segment.accepted()
    assert len(requests) > 1
    assert all(len(request.items) <= 24 for request in requests)
    assert segment.message_ids() == [f"id-{seq}" for seq in range(1, 61)]


async def test_a_write_key_kept_in_a_secret_is_read_when_sending(
    segment: SegmentReceiver, client: httpx.AsyncClient
) -> None:
    reads: list[str] = []

    async def key() -> str:
        reads.append("read")
        if len(reads) == 1:
            # Secrets Manager briefly unreachable: the batch waits and is sent again.
            raise RuntimeError("reading secret sym/segment: unreachable")
        return WRITE_KEY

    delivered = SegmentSink(
        "segment:seg", batch_url(segment.url), key, client, Metrics(), timing=FAST
    )
    await delivered.deliver(outbox(3))
    assert segment.message_ids() == ["id-1", "id-2", "id-3"]
    credentials = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    assert segment.accepted()[0].headers["Authorization"] == f"Basic {credentials}"
    assert len(reads) == 2
