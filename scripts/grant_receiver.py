#!/usr/bin/env python3
"""A stand-in for the system an ``http`` strategy grants access in: verifies and prints grants.

Run it beside ``symbox run`` to watch the example config's grants and revokes arrive:
    SYMBOX_GRANT_SECRET=... python3 scripts/grant_receiver.py [PORT]
It needs nothing beyond the Python standard library.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Requests signed longer ago than this are refused as replays.
MAX_AGE_SECONDS = 300


def main() -> None:
    """Serve on 127.0.0.1:PORT (default 8090) until interrupted."""
    secret = os.environ.get("SYMBOX_GRANT_SECRET", "").encode()
    if not secret:
        sys.exit("set SYMBOX_GRANT_SECRET to the secret symbox signs with")
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8090
    granted: set[tuple[str, str]] = set()
    last_seen: dict[tuple[str, str], str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, self.headers.get("X-Symbox-Signature", "")):
                print("refused: bad signature", flush=True)
                self.send_response(401)
                self.end_headers()
                return
            grant = json.loads(body)
            key = (grant["target"]["name"], grant["requester"]["email"])
            sent = datetime.fromisoformat(grant["timestamp"].replace("Z", "+00:00"))
            if abs((datetime.now(UTC) - sent).total_seconds()) > MAX_AGE_SECONDS:
                # A captured request replayed later is refused.
                print(f"refused: stale request from {grant['timestamp']}", flush=True)
                self.send_response(400)
                self.end_headers()
                return
            if grant["timestamp"] < last_seen.get(key, ""):
                # A slow escalate overtaken by its revoke must not grant again: ignore it.
                print(f"ignored: {grant['action']} older than the last one for {key}", flush=True)
            else:
                if grant["action"] == "escalate":
                    granted.add(key)
                else:
                    granted.discard(key)
                last_seen[key] = grant["timestamp"]
                shown = f"{grant['action']:10} {key[1]} -> {key[0]}  (active: {len(granted)})"
                print(shown, flush=True)
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    print(f"grant receiver listening on http://127.0.0.1:{port}/grants", flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
