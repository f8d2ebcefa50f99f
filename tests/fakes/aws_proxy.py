"""An HTTP proxy in front of moto that injects the faults AWS has and moto does not."""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.loopback import LoopbackHttp

# Fault kinds: an error answer without reaching moto, a dropped connection before or after
# moto applied the request, or moto's answer with an assignment status rewritten.
THROTTLE = "throttle"
SERVER_ERROR = "server_error"
DROP = "drop"
DROP_AFTER = "drop_after"
IN_PROGRESS = "in_progress"
FAILED = "failed"
DENIED = "denied"
# Lambda: the function raised (moto's Docker-free Lambda never reports that), or is missing
# (moto's Docker-free Lambda answers for any name).
FUNCTION_ERROR = "function_error"
NO_FUNCTION = "no_function"
KINDS = (
    THROTTLE,
    SERVER_ERROR,
    DENIED,
    DROP,
    DROP_AFTER,
    IN_PROGRESS,
    FAILED,
    FUNCTION_ERROR,
    NO_FUNCTION,
)
# Lambda's REST-JSON API names the operation in the path.
_INVOKE = re.compile(r"^/2015-03-31/functions/[^/]+/invocations")
_STATUS_KEYS = ("AccountAssignmentCreationStatus", "AccountAssignmentDeletionStatus")


@dataclass
class Fault:
    """``kind`` for the next ``times`` requests of ``operation`` (``*`` for any)."""

    operation: str
    kind: str
    times: int


def operation_of(headers: Any, body: bytes, path: str = "") -> str:
    """The AWS operation of a request: in a header (JSON protocols), the body (query) or
    the path (Lambda's invoke)."""
    target = headers.get("X-Amz-Target")
    if target:
        return str(target).rpartition(".")[2]
    if _INVOKE.match(path):
        return "Invoke"
    action = parse_qs(body.decode("utf-8", "replace")).get("Action")
    return action[0] if action else "?"


def _json_protocol(headers: Any) -> bool:
    return bool(headers.get("X-Amz-Target"))


def _error_body(json_protocol: bool, code: str, message: str) -> tuple[bytes, str]:
    if json_protocol:
        return json.dumps(
            {"__type": code, "message": message}
        ).encode(), "application/x-amz-json-1.1"
    xml = (
        "<ErrorResponse><Error><Type>Sender</Type>"
        f"<Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>fault-proxy</RequestId></ErrorResponse>"
    )
    return xml.encode(), "text/xml"


class FaultProxy(LoopbackHttp):
    """Forwards to ``upstream`` (moto) and counts operations; faults are queued with ``add``."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self.calls: Counter[str] = Counter()
        # The last request body of each operation, to check what symbox sent.
        self.bodies: dict[str, bytes] = {}
        # Lambda's invocation type of each Invoke, in order (RequestResponse unless asked).
        self.invocation_types: list[str] = []
        super().__init__(self._handler())

    def add(self, operation: str, kind: str, times: int = 1) -> None:
        """Queue a fault for the next ``times`` requests of ``operation``."""
        assert kind in KINDS, kind
        with self._lock:
            self._faults.append(Fault(operation, kind, times))

    def pending(self) -> int:
        """How many injected faults have not fired yet."""
        with self._lock:
            return sum(fault.times for fault in self._faults)

    def _take(self, operation: str, body: bytes) -> str | None:
        with self._lock:
            self.calls[operation] += 1
            self.bodies[operation] = body
            for fault in self._faults:
                if fault.operation in (operation, "*") and fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault.kind
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the tests assert on ``calls`` instead."""

            def do_GET(self) -> None:
                self._proxy(b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._proxy(self.rfile.read(length))

            def _proxy(self, body: bytes) -> None:
                json_protocol = _json_protocol(self.headers) or bool(_INVOKE.match(self.path))
                operation = operation_of(self.headers, body, self.path)
                if operation == "Invoke":
                    asked = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
                    with proxy._lock:
                        proxy.invocation_types.append(asked)
                kind = proxy._take(operation, body)
                if kind == THROTTLE:
                    code = "ThrottlingException" if json_protocol else "Throttling"
                    self._reply(400, *_error_body(json_protocol, code, "Rate exceeded"))
                    return
                if kind == SERVER_ERROR:
                    code = "InternalServerException" if json_protocol else "ServiceFailure"
                    self._reply(500, *_error_body(json_protocol, code, "Internal failure"))
                    return
                if kind == DENIED:
                    code = "AccessDeniedException" if json_protocol else "AccessDenied"
                    self._reply(
                        400 if json_protocol else 403,
                        *_error_body(json_protocol, code, "not authorized to perform this action"),
                    )
                    return
                if kind == DROP:
                    self.close_connection = True
                    return
                if kind == NO_FUNCTION:
                    missing = {
                        "__type": "ResourceNotFoundException",
                        "message": "Function not found",
                    }
                    self._reply(
                        404,
                        json.dumps(missing).encode(),
                        "application/json",
                        {"x-amzn-ErrorType": "ResourceNotFoundException"},
                    )
                    return
                status, content_type, answer = self._forward(body)
                if kind == DROP_AFTER:
                    self.close_connection = True
                    return
                if kind in (IN_PROGRESS, FAILED):
                    answer = _rewrite_status(answer, kind)
                if kind == FUNCTION_ERROR:
                    raised = {"errorType": "RuntimeError", "errorMessage": "boom\n" + "x" * 400}
                    answer = json.dumps(raised).encode()
                    self._reply(status, answer, content_type, {"X-Amz-Function-Error": "Unhandled"})
                    return
                self._reply(status, answer, content_type)

            def _forward(self, body: bytes) -> tuple[int, str, bytes]:
                connection = http.client.HTTPConnection(*proxy._upstream, timeout=10)
                try:
                    headers = {
                        key: value
                        for key, value in self.headers.items()
                        if key.lower() not in ("connection", "keep-alive", "transfer-encoding")
                    }
                    connection.request(self.command, self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    answer = response.read()
                    return response.status, response.getheader("Content-Type") or "", answer
                finally:
                    connection.close()

            def _reply(
                self,
                status: int,
                body: bytes,
                content_type: str,
                extra: dict[str, str] | None = None,
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

        return Handler


def _rewrite_status(answer: bytes, kind: str) -> bytes:
    document = json.loads(answer)
    for key in _STATUS_KEYS:
        status = document.get(key)
        if isinstance(status, dict):
            status["Status"] = "IN_PROGRESS" if kind == IN_PROGRESS else "FAILED"
            if kind == FAILED:
                status["FailureReason"] = "injected failure"
    return json.dumps(document).encode()
