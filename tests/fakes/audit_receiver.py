"""A log intake on loopback (an HTTP collector or Datadog) that can go down, refuse or stall."""

from __future__ import annotations

import base64
import gzip
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Intake:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    status: int
    # The JSON items of the body (gzip undone); for Firehose's HTTP delivery, its records.
    items: list[Any]


@dataclass
class ReceiverState:
    """What the receiver holds and how it misbehaves next."""

    requests: list[Intake] = field(default_factory=list)
    # (status, Retry-After or None) to answer with, in order, before answering 202 again.
    fail_with: list[tuple[int, str | None]] = field(default_factory=list)
    # Seconds to stall before answering each of the next len(delays) requests.
    delays: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Open client connections, closed by ``down()`` so that keep-alive cannot outlive it.
    connections: set[socket.socket] = field(default_factory=set)


def _decode(handler: BaseHTTPRequestHandler, raw: bytes) -> list[Any]:
    body = gzip.decompress(raw) if handler.headers.get("Content-Encoding") == "gzip" else raw
    document = json.loads(body)
    if isinstance(document, dict) and "records" in document:
        # Firehose's HTTP endpoint delivery: base64 data, here one JSON line per record.
        return [json.loads(base64.b64decode(item["data"])) for item in document["records"]]
    batch = document.get("batch") if isinstance(document, dict) else None
    if isinstance(batch, list):
        # Segment's batch API: its events.
        return batch
    assert isinstance(document, list), "the body must be a JSON array"
    return document


class AuditReceiver:
    """Accepts gzipped JSON arrays with 202 and records them; ``down()`` stops listening."""

    def __init__(self) -> None:
        self.state = ReceiverState()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self._listen()

    def judge(self, headers: dict[str, str], raw: bytes, items: list[Any]) -> int:
        """The status for a well-formed request that no queued failure answers."""
        return 202

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        state = self.state
        judge = self.judge

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with state.lock:
                    state.connections.add(self.connection)

            def finish(self) -> None:
                with state.lock:
                    state.connections.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with state.lock:
                    delay = state.delays.pop(0) if state.delays else 0.0
                    status, retry_after = state.fail_with.pop(0) if state.fail_with else (202, None)
                if delay:
                    time.sleep(delay)
                items: list[Any] = []
                if status < 300:
                    try:
                        items = _decode(self, raw)
                    except (ValueError, OSError):
                        status = 400
                    else:
                        status = judge(dict(self.headers), raw, items)
                        if status >= 300:
                            items = []
                with state.lock:
                    state.requests.append(Intake(self.path, dict(self.headers), status, items))
                body = b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if retry_after is not None:
                    self.send_header("Retry-After", retry_after)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # requests are recorded in the state instead

        return Handler

    def _listen(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", self._port), self._handler(), False)
        server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.server_bind()
        server.server_activate()
        server.daemon_threads = True
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The collector's base URL."""
        return f"http://127.0.0.1:{self._port}"

    def down(self) -> None:
        """Stop listening: connections are refused until ``up()``."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            with self.state.lock:
                for connection in self.state.connections:
                    # Wakes a handler waiting for the connection's next request.
                    connection.shutdown(socket.SHUT_RDWR)
            assert self._thread is not None
            self._thread.join()
            self._server = None

    def up(self) -> None:
        """Listen again on the same port."""
        if self._server is None:
            self._listen()

    def stop(self) -> None:
        """Stop for good."""
        self.down()

    def fail(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next ``times`` requests with ``status``."""
        with self.state.lock:
            self.state.fail_with.extend([(status, retry_after)] * times)

    def stall(self, seconds: float, times: int = 1) -> None:
        """Wait ``seconds`` before answering each of the next ``times`` requests."""
        with self.state.lock:
            self.state.delays.extend([seconds] * times)

    def accepted(self) -> list[Intake]:
        """The requests answered with a 2xx, in arrival order."""
        with self.state.lock:
            return [item for item in self.state.requests if item.status < 300]

    def items(self) -> list[Any]:
        """Every item accepted, in arrival order."""
        return [item for request in self.accepted() for item in request.items]
