"""A loopback JSON API for fakes of SaaS services: auth check, a request log, queued faults."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit

from tests.fakes.loopback import LoopbackHttp


@dataclass
class Call:
    """One request the fake received, and what it answered."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class Fault:
    """Answer the next ``times`` requests matching ``method`` and ``path`` with ``status``."""

    method: str
    path: str
    status: int
    headers: dict[str, str]
    body: Any
    times: int


@dataclass
class Answer:
    """What a route returns."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeRestServer(LoopbackHttp):
    """Subclasses route requests in ``route``; this class authenticates and records them.

    A request whose headers fail ``authorized`` gets ``unauthorized()``; one that matches
    a queued fault gets the fault. ``calls`` holds every request, faults included.
    """

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.lock = threading.RLock()
        self._faults: list[Fault] = []
        super().__init__(self._handler())

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> None:
        """Queue a fault for requests whose path starts with ``path`` (``*`` any method)."""
        with self.lock:
            self._faults.append(Fault(method, path, status, headers or {}, body, times))

    def seen(self, method: str, path: str) -> list[Call]:
        """The requests with this method and exact path."""
        with self.lock:
            return [call for call in self.calls if (call.method, call.path) == (method, path)]

    def authorized(self, headers: dict[str, str]) -> bool:
        """Whether the request carries the right credentials."""
        raise NotImplementedError

    def unauthorized(self) -> Answer:
        """The answer to a request without the right credentials."""
        return Answer(401, {"message": "Bad credentials"})

    def route(self, call: Call) -> Answer:
        """Answer an authorized request (called with ``lock`` held)."""
        raise NotImplementedError

    def _fault(self, call: Call) -> Fault | None:
        for fault in self._faults:
            if fault.method in (call.method, "*") and call.path.startswith(fault.path):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _answer(self, call: Call) -> Answer:
        with self.lock:
            self.calls.append(call)
            if not self.authorized(call.headers):
                answer = self.unauthorized()
            else:
                fault = self._fault(call)
                answer = (
                    Answer(fault.status, fault.body, fault.headers)
                    if fault is not None
                    else self.route(call)
                )
            call.status = answer.status
            return answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests assert on ``calls``."""

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                form = self.headers.get("Content-Type", "").startswith(
                    "application/x-www-form-urlencoded"
                )
                body: Any = None
                if raw:
                    # OAuth token endpoints take forms; everything else here takes JSON.
                    body = dict(parse_qsl(raw.decode())) if form else json.loads(raw)
                call = Call(
                    self.command,
                    unquote(parts.path),
                    parse_qs(parts.query),
                    {key.lower(): value for key, value in self.headers.items()},
                    body,
                )
                answer = fake._answer(call)
                body = b"" if answer.body is None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                if body:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_DELETE = do_POST = _serve

        return Handler
