"""A proxy before moto that fails chosen records of PutRecords and PutRecordBatch calls.

moto accepts every record; AWS fails some (a hot shard's throughput, a transient service
error) and says which in the answer. The proxy forwards only the records meant to
succeed and splices the failures back into moto's answer at their positions.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.loopback import LoopbackHttp

PUTS = {
    "PutRecords": ("FailedRecordCount", "Records", "ProvisionedThroughputExceededException"),
    "PutRecordBatch": ("FailedPutCount", "RequestResponses", "ServiceUnavailableException"),
}


class RecordFaults(LoopbackHttp):
    """Forwards to ``upstream``; ``plan`` says which records of the next put calls fail."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._lock = threading.Lock()
        # For each coming put call: the positions of the records that fail in it.
        self._plan: list[set[int]] = []
        self._whole_failures = 0
        # Per put call: how many records it carried and how many failed.
        self.puts: list[tuple[int, int]] = []
        super().__init__(self._handler())
        self.start()

    def fail_records(self, *calls: Sequence[int]) -> None:
        """For each of the next put calls, the record positions that fail."""
        with self._lock:
            self._plan.extend(set(call) for call in calls)

    def fail_calls(self, times: int) -> None:
        """Answer the next ``times`` put calls with a 500 as a whole."""
        with self._lock:
            self._whole_failures += times

    def _take(self, count: int) -> tuple[bool, set[int]]:
        with self._lock:
            if self._whole_failures:
                self._whole_failures -= 1
                self.puts.append((count, count))
                return True, set()
            failing = {i for i in (self._plan.pop(0) if self._plan else set()) if i < count}
            self.puts.append((count, len(failing)))
            return False, failing

    def _forward(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, str, bytes]:
        connection = http.client.HTTPConnection(*self._upstream, timeout=10)
        try:
            sent = {
                key: value
                for key, value in headers.items()
                if key.lower() not in ("connection", "keep-alive", "content-length")
            }
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type") or "", response.read()
        finally:
            connection.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests look at ``puts``."""

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                operation = str(self.headers.get("X-Amz-Target", "")).rpartition(".")[2]
                if operation not in PUTS:
                    self._reply(*proxy._forward("POST", self.path, self.headers, body))
                    return
                count_key, results_key, code = PUTS[operation]
                document = json.loads(body)
                records = document["Records"]
                whole, failing = proxy._take(len(records))
                if whole:
                    error = {"__type": "InternalFailure", "message": "injected"}
                    self._reply(500, "application/x-amz-json-1.1", json.dumps(error).encode())
                    return
                kept = [record for i, record in enumerate(records) if i not in failing]
                answers: list[dict[str, Any]] = []
                if kept:
                    document["Records"] = kept
                    status, kind, raw = proxy._forward(
                        "POST", self.path, self.headers, json.dumps(document).encode()
                    )
                    if status != 200:
                        self._reply(status, kind, raw)
                        return
                    answers = list(json.loads(raw)[results_key])
                results = [
                    {"ErrorCode": code, "ErrorMessage": "injected"}
                    if i in failing
                    else answers.pop(0)
                    for i in range(len(records))
                ]
                reply = {count_key: len(failing), results_key: results}
                if operation == "PutRecordBatch":
                    reply["Encrypted"] = False
                self._reply(200, "application/x-amz-json-1.1", json.dumps(reply).encode())

            def _reply(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
