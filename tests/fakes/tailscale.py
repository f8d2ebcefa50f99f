"""A fake Tailscale on loopback: one tailnet's policy file, served with ETags under If-Match."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from typing import Any

from tests.fakes.rest_server import Answer, Call, FakeRestServer

TAILSCALE_TOKEN = "tskey-api-5e1f0c"
TAILNET = "acme.example"

# A policy with more than groups in it, so tests can see that nothing else changes.
POLICY: dict[str, Any] = {
    "groups": {
        "group:prod-db": ["dana@example.com"],
        "group:eng": ["erin@example.com", "frank@github"],
    },
    "tagOwners": {"tag:db": ["group:eng"]},
    "acls": [
        {"action": "accept", "src": ["group:prod-db"], "dst": ["tag:db:5432"]},
        {"action": "accept", "src": ["autogroup:member"], "dst": ["autogroup:self:*"]},
    ],
    "ssh": [
        {
            "action": "check",
            "src": ["autogroup:member"],
            "dst": ["autogroup:self"],
            "users": ["autogroup:nonroot"],
        }
    ],
    "nodeAttrs": [{"target": ["*"], "attr": ["funnel"]}],
    "tests": [{"src": "dana@example.com", "accept": ["tag:db:5432"]}],
    "randomizeClientPort": False,
}


def _error(status: int, message: str) -> Answer:
    return Answer(status, {"message": message})


class FakeTailscale(FakeRestServer):
    """Answers ``GET`` and ``POST /api/v2/tailnet/{tailnet}/acl`` as Tailscale's API v2 does.

    Every read carries the policy's ``ETag``; a write must send it back in ``If-Match``
    and gets 412 if the policy changed since. ``before_write`` holds edits made "by
    someone else" just before the next writes are judged, to stage a lost race.
    """

    def __init__(self, token: str = TAILSCALE_TOKEN, tailnet: str = TAILNET) -> None:
        super().__init__()
        self.token = token
        self.path = f"/api/v2/tailnet/{tailnet}/acl"
        self.policy: dict[str, Any] = copy.deepcopy(POLICY)
        self.version = 1
        self.before_write: list[Callable[[dict[str, Any]], None]] = []

    @property
    def etag(self) -> str:
        """The policy's current ETag (quoted, as HTTP has it)."""
        with self.lock:
            digest = hashlib.sha256(json.dumps(self.policy).encode()).hexdigest()[:16]
            return f'"{self.version}-{digest}"'

    def members(self, group: str) -> list[str]:
        """The group's members now, in order."""
        with self.lock:
            return list(self.policy["groups"][group])

    def change(self, edit: Callable[[dict[str, Any]], None]) -> None:
        """Edit the policy as another admin would (a new ETag)."""
        with self.lock:
            edit(self.policy)
            self.version += 1

    def authorized(self, headers: dict[str, str]) -> bool:
        """Tailscale's API keys: ``Authorization: Bearer <key>``."""
        return headers.get("authorization") == f"Bearer {self.token}"

    def unauthorized(self) -> Answer:
        """What Tailscale answers a bad key."""
        return _error(401, "API token invalid")

    def route(self, call: Call) -> Answer:
        """The policy file endpoints; anything else is a 404 the tests can spot."""
        if call.path != self.path:
            return _error(404, "not found")
        if call.method == "GET":
            if call.headers.get("accept") != "application/json":
                return _error(400, "the fake serves the policy as JSON only")
            return Answer(200, copy.deepcopy(self.policy), {"ETag": self.etag})
        if call.method == "POST":
            if self.before_write:
                self.change(self.before_write.pop(0))
            if call.headers.get("if-match") != self.etag:
                return _error(412, "precondition failed, invalid old hash")
            if not isinstance(call.body, dict):
                return _error(400, "invalid policy")
            self.policy = call.body
            self.version += 1
            return Answer(200, copy.deepcopy(self.policy), {"ETag": self.etag})
        return _error(405, "method not allowed")
