"""The ``segment`` audit destination: each record as a ``track`` event of Segment's batch API."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from symbox.audit.delivery import Item, RetryTiming
from symbox.audit.http_sink import HttpSink
from symbox.metrics import Metrics
from symbox.store.reader import OutboxRecord

SEGMENT_BASE_URL = "https://api.segment.io"
# Segment's batch limits are 500 KB a request and 32 KB an event; the margins leave room
# for the envelope and for Segment counting KB as 1,000 bytes.
SEGMENT_MAX_EVENT = 32_000
SEGMENT_MAX_BYTES = 475_000
SEGMENT_MAX_RECORDS = 500
ANONYMOUS_ID = "symbox"
# Kept in a trimmed event: what identifies the record and what happened, not its payload.
_TRIMMED_KEYS = ("id", "seq", "hash", "prev_hash", "type", "timestamp", "service", "status")


def batch_url(base_url: str) -> str:
    """Segment's batch endpoint under ``base_url`` (``https://api.segment.io`` by default)."""
    return base_url.rstrip("/") + "/v1/batch"


def _encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _basic(write_key: str) -> str:
    # Segment takes the write key as a Basic user name with no password.
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode("ascii")


class SegmentSink(HttpSink):
    """Segment's HTTP Tracking API: one ``track`` event per record, the write key as Basic auth.

    An event's ``messageId`` is the record's ``id``, so Segment drops the copies that
    at-least-once delivery may send after a restart.
    """

    def __init__(
        self,
        name: str,
        url: str,
        write_key: str | Callable[[], Awaitable[str]],
        client: httpx.AsyncClient,
        metrics: Metrics,
        *,
        stream_name: str | None = None,
        timeout: float = 10.0,
        timing: RetryTiming | None = None,
        rng: random.Random | None = None,
    ) -> None:
        known = write_key if isinstance(write_key, str) else None

        async def authorization() -> Mapping[str, str]:
            # Sym's write_key_secret: read from Secrets Manager (its reader caches it).
            assert not isinstance(write_key, str)
            return {"Authorization": _basic(await write_key())}

        super().__init__(
            name,
            url,
            client,
            metrics,
            headers={"Authorization": _basic(known)} if known is not None else None,
            auth=None if known is not None else authorization,
            max_records=SEGMENT_MAX_RECORDS,
            max_bytes=SEGMENT_MAX_BYTES,
            timeout=timeout,
            timing=timing,
            rng=rng,
            # Plain JSON: Segment's documented limits are on the uncompressed request.
            compress=False,
        )
        self._context: dict[str, Any] = {"library": {"name": "symbox"}}
        if stream_name:
            self._context["stream_name"] = stream_name

    def event(self, document: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
        """The ``track`` event for the record ``document``, carrying ``properties``."""
        what = document.get("event")
        actor = document.get("actor")
        event: dict[str, Any] = {
            "type": "track",
            "event": str(what.get("type")) if isinstance(what, dict) else str(document["type"]),
            "messageId": str(document["id"]),
            "properties": properties,
            "context": self._context,
        }
        if isinstance(actor, dict) and actor.get("kind") == "user" and actor.get("id"):
            event["userId"] = str(actor["id"])
        else:
            event["anonymousId"] = ANONYMOUS_ID
        if isinstance(document.get("timestamp"), str):
            event["timestamp"] = document["timestamp"]
        return event

    def prepare(self, record: OutboxRecord) -> Item:
        """The record's event, trimmed when it is over Segment's per-event limit."""
        document = json.loads(record.line)
        data = _encode(self.event(document, document))
        if len(data) > SEGMENT_MAX_EVENT:
            data = _encode(self.event(document, self._trimmed(document, len(data))))
        # The comma between events counts too.
        return Item(record, data, record.id, len(data) + 1)

    def _trimmed(self, document: dict[str, Any], size: int) -> dict[str, Any]:
        # Segment refuses a whole batch over one oversized event (a 400 retried forever),
        # so the event goes without the record's payload; the file has the record whole.
        note = {
            "truncated": True,
            "message": f"record of {size} bytes exceeds Segment's {SEGMENT_MAX_EVENT}-byte limit",
        }
        without = {k: v for k, v in document.items() if k not in ("fields", "details")}
        if len(_encode(self.event(document, {**without, **note}))) <= SEGMENT_MAX_EVENT:
            return {**without, **note}
        # Even without its fields the record is too big (huge errors or actors): keep only
        # what identifies it, and the run and event it belongs to.
        minimal = {key: document[key] for key in _TRIMMED_KEYS if key in document}
        run = document.get("run")
        if isinstance(run, dict):
            minimal["run"] = {"id": run.get("id"), "flow": run.get("flow")}
        what = document.get("event")
        if isinstance(what, dict):
            minimal["event"] = {"type": what.get("type")}
        return {**minimal, **note}

    def body(self, chunk: list[Item]) -> bytes:
        """The batch request: ``{"batch": [event, ...]}``."""
        return b'{"batch":[' + b",".join(item.data for item in chunk) + b"]}"
