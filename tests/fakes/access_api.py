"""A real HTTP server on loopback playing a SaaS access API that custom strategies call."""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from tests.fakes.loopback import LoopbackHttp

API_KEY = "access-api-key-5d1e9b"


@dataclass
class Call:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str | None
    body: Any


@dataclass
class ApiState:
    """Users it knows, grants it holds, and every request it saw."""

    users: dict[str, str] = field(default_factory=lambda: {"carol@example.com": "u-carol"})
    # (resource id, user id) pairs currently granted.
    granted: set[tuple[str, str]] = field(default_factory=set)
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def seen(self, method: str, path: str) -> list[Call]:
        """The requests with this method and path."""
        with self.lock:
            return [call for call in self.calls if (call.method, call.path) == (method, path)]


class FakeAccessApi(LoopbackHttp):
    """Bearer-token JSON API: GET /users?email=, POST /grants, DELETE /grants/{res}/{user}.

    Also serves the odd cases the sandbox must handle: redirects, a large body, a slow
    answer, and an endpoint that echoes the Authorization header back.
    """

    BIG: ClassVar[int] = 2 * 1024 * 1024

    def __init__(self, api_key: str = API_KEY, redirect_to: str = "http://192.0.2.1/") -> None:
        self.api_key = api_key
        self.redirect_to = redirect_to
        self.state = ApiState()
        super().__init__(self._handler())

    def answer(self, call: Call) -> tuple[int, Any, dict[str, str]]:
        """Route one request; every route but the odd ones needs the bearer token."""
        with self.state.lock:
            self.state.calls.append(call)
        if call.path == "/moved":
            return 302, {}, {"Location": "/users?email=carol@example.com"}
        if call.path == "/away":
            return 302, {}, {"Location": self.redirect_to}
        if call.path == "/big":
            return 200, "x" * self.BIG, {}
        if call.path == "/slow":
            self._release.wait(5.0)
            return 200, {}, {}
        if call.path == "/echo":
            return 200, {"authorization": call.authorization}, {}
        if call.authorization != f"Bearer {self.api_key}":
            return 401, {"error": "bad credentials"}, {}
        if call.method == "GET" and call.path == "/users":
            user = self.state.users.get(call.query.get("email", [""])[0])
            return (200, {"id": user}, {}) if user else (404, {"error": "no such user"}, {})
        if call.method == "POST" and call.path == "/grants":
            body = call.body if isinstance(call.body, dict) else {}
            user, resource = body.get("user_id"), body.get("resource_id")
            if not isinstance(user, str) or user not in self.state.users.values():
                return 400, {"error": f"bad grant {body!r}"}, {}
            if not isinstance(resource, str):
                return 400, {"error": f"bad grant {body!r}"}, {}
            with self.state.lock:
                self.state.granted.add((resource, user))
            return 200, {"granted": True}, {}
        parts = call.path.split("/")
        if call.method == "DELETE" and len(parts) == 4 and parts[1] == "grants":
            with self.state.lock:
                self.state.granted.discard((parts[2], parts[3]))
            return 204, None, {}
        return 404, {"error": "not found"}, {}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                call = Call(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    self.headers.get("Authorization"),
                    body,
                )
                status, answer, headers = fake.answer(call)
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                # The client may give up (size cap or timeout): that is expected.
                if data and self.command != "HEAD":
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

        return Handler
