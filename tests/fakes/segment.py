"""Segment's batch API on loopback: checks the write key and Segment's documented limits."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.fakes.audit_receiver import AuditReceiver

# Segment's documented limits: 500 KB a batch request, 32 KB an event.
MAX_REQUEST = 500 * 1024
MAX_EVENT = 32 * 1024


class SegmentReceiver(AuditReceiver):
    """Answers 200 to a valid batch, 401 to a wrong write key and 400 to a malformed batch."""

    def __init__(self, write_key: str) -> None:
        self.write_key = write_key
        super().__init__()

    def judge(self, headers: dict[str, str], raw: bytes, items: list[Any]) -> int:
        """Segment's answer to a batch that no queued failure answers."""
        expected = "Basic " + base64.b64encode(f"{self.write_key}:".encode()).decode()
        if headers.get("Authorization") != expected:
            return 401
        if len(raw) > MAX_REQUEST or not items:
            return 400
        for event in items:
            size = len(json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode())
            if (
                size > MAX_EVENT
                or event.get("type") != "track"
                or not event.get("event")
                or not event.get("messageId")
                or not (event.get("userId") or event.get("anonymousId"))
            ):
                return 400
        return 200

    def message_ids(self) -> list[str]:
        """The ``messageId`` of every accepted event, in arrival order."""
        return [event["messageId"] for event in self.items()]
