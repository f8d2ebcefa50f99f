"""A webhook on loopback (a Teams or Google Chat incoming webhook's stand-in) that records posts."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.loopback import LoopbackHttp

SIGNATURE_HEADER = "X-Symbox-Signature"


@dataclass
class Post:
    """One POST as the webhook saw it."""

    path: str
    body: dict[str, Any]
    # None when the post carried no signature.
    signature_ok: bool | None
    status: int


@dataclass
class WebhookState:
    """What the webhook received and how it answers next."""

    secret: bytes
    posts: list[Post] = field(default_factory=list)
    # Statuses to answer with, in order, before answering 200 again.
    fail_with: list[int] = field(default_factory=list)
    # Posts to these paths are held unanswered until ``release`` is set.
    held: set[str] = field(default_factory=set)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> list[Post]:
        """The posts answered with 200."""
        with self.lock:
            return [post for post in self.posts if post.status == 200]


class WebhookReceiver(LoopbackHttp):
    """Checks the signature when one is sent; answers 200, or what ``fail_with`` says."""

    def __init__(self, secret: str = "") -> None:
        self.state = WebhookState(secret.encode())
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path in state.held:
                    state.release.wait(timeout=10)
                sent = self.headers.get(SIGNATURE_HEADER)
                expected = "sha256=" + hmac.new(state.secret, raw, hashlib.sha256).hexdigest()
                signature_ok = None if sent is None else hmac.compare_digest(expected, sent)
                with state.lock:
                    status = state.fail_with.pop(0) if state.fail_with else 200
                    state.posts.append(Post(self.path, json.loads(raw), signature_ok, status))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return

        super().__init__(Handler)
