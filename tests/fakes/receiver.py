"""A real HTTP server on loopback that plays the ``http`` strategy's receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.loopback import LoopbackHttp

SIGNATURE_HEADER = "X-Symbox-Signature"


@dataclass
class Received:
    """One request the receiver accepted or refused."""

    action: str
    body: dict[str, Any]
    signature_ok: bool
    status: int
    # time.monotonic() when the request arrived, so tests can see how long access was held.
    at: float = 0.0


@dataclass
class ReceiverState:
    """What the receiver holds and how it should misbehave next."""

    secret: bytes
    # (target name, requester email) pairs currently granted.
    granted: set[tuple[str, str]] = field(default_factory=set)
    requests: list[Received] = field(default_factory=list)
    # Statuses to answer with, in order, before behaving normally again.
    fail_with: list[int] = field(default_factory=list)
    # Answer every escalate with this status while it is set (revokes still work).
    refuse_escalations: int | None = None
    # Seconds each revoke takes to answer after it was applied (a slow target).
    revoke_delay: float = 0.0
    # While set and not yet released, every revoke hangs until it is (a target that hangs).
    revoke_hold: threading.Event | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hold_revokes(self) -> None:
        """From now on every revoke hangs until ``release_revokes``."""
        self.revoke_hold = threading.Event()

    def release_revokes(self) -> None:
        """Let every held revoke answer (and the next ones not wait)."""
        if self.revoke_hold is not None:
            self.revoke_hold.set()

    def calls(self, action: str) -> list[Received]:
        """The accepted requests for ``action``."""
        with self.lock:
            return [item for item in self.requests if item.action == action and item.status == 200]


class GrantReceiver(LoopbackHttp):
    """Verifies the HMAC signature, applies grants and revokes, and can be told to fail."""

    def __init__(self, secret: str) -> None:
        self.state = ReceiverState(secret.encode())
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                arrived = time.monotonic()
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                if len(raw) < length:
                    # The sender died mid-request (a test SIGKILLs it): nothing to act on.
                    return
                expected = "sha256=" + hmac.new(state.secret, raw, hashlib.sha256).hexdigest()
                signature_ok = hmac.compare_digest(expected, self.headers.get(SIGNATURE_HEADER, ""))
                body = json.loads(raw)
                key = (body["target"]["name"], body["requester"]["email"])
                with state.lock:
                    if not signature_ok:
                        status = 401
                    elif state.fail_with:
                        status = state.fail_with.pop(0)
                    elif state.refuse_escalations and body["action"] == "escalate":
                        status = state.refuse_escalations
                    else:
                        status = 200
                        if body["action"] == "escalate":
                            state.granted.add(key)
                        else:
                            state.granted.discard(key)
                    state.requests.append(
                        Received(body["action"], body, signature_ok, status, arrived)
                    )
                if body["action"] == "deescalate" and state.revoke_delay:
                    time.sleep(state.revoke_delay)
                if body["action"] == "deescalate" and state.revoke_hold is not None:
                    state.revoke_hold.wait(timeout=60)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"ok": true}' if status == 200 else b'{"error": "refused"}')
                except (BrokenPipeError, ConnectionResetError):
                    # The sender died waiting for the answer (a test SIGKILLs it).
                    return

            def log_message(self, format: str, *args: Any) -> None:
                # Keep test output clean; requests are recorded in the state instead.
                return

        super().__init__(Handler)

    @property
    def url(self) -> str:
        """Where to POST grants."""
        return f"http://127.0.0.1:{self.port}/grants"
