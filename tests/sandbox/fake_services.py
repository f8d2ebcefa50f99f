"""Fake PagerDuty and Okta HTTP servers (stdlib, one thread each) that check auth and params."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.loopback import LoopbackHttp

PAGERDUTY_TOKEN = "pd-secret-token-7f3a9c"
OKTA_TOKEN = "okta-secret-ssws-42b8e1"

# (status, JSON body, extra headers)
Response = tuple[int, Any, dict[str, str]]


@dataclass
class Seen:
    """One request a fake received."""

    path: str
    query: dict[str, list[str]]
    authorization: str | None


@dataclass
class FakeState:
    """What a fake serves and what it received; tests flip `fail_with` and `delay`."""

    fail_with: int | None = None
    delay: float = 0.0
    requests: list[Seen] = field(default_factory=list)


class FakeServer(LoopbackHttp):
    """A threaded HTTP server on 127.0.0.1:0 whose `route` method answers GET requests."""

    def __init__(self, expected_auth: str) -> None:
        self.expected_auth = expected_auth
        self.state = FakeState()
        super().__init__(self._handler())

    def route(self, path: str, query: dict[str, list[str]]) -> Response:
        """Answer one authorised GET; subclasses serve their canned data."""
        raise NotImplementedError

    def answer(self, path: str, query: dict[str, list[str]], auth: str | None) -> Response:
        """Record the request, then check auth and the failure switches before routing."""
        self.state.requests.append(Seen(path, query, auth))
        if self.state.delay:
            self._release.wait(self.state.delay)
        if auth != self.expected_auth:
            return 401, {"error": "bad credentials"}, {}
        if self.state.fail_with is not None:
            return self.state.fail_with, {"error": "injected failure"}, {}
        return self.route(path, query)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                """Answer through the fake's `answer`, as JSON."""
                parts = urlsplit(self.path)
                status, body, headers = fake.answer(
                    parts.path, parse_qs(parts.query), self.headers.get("Authorization")
                )
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

        return Handler


def _bad(reason: str) -> Response:
    return 400, {"error": reason}, {}


class FakePagerDuty(FakeServer):
    """PagerDuty v2: /users?query=, /schedules?query=, /oncalls with user/schedule filters."""

    USERS: ClassVar[dict[str, str]] = {
        "PU1": "alice@x.com",
        "PU2": "bob@x.com",
        "PU3": "carol@x.com",
    }
    SCHEDULES: ClassVar[dict[str, str]] = {"PS1": "Primary", "PS2": "Secondary"}
    # (user id, schedule id) pairs currently on call.
    ONCALLS = (("PU1", "PS1"), ("PU3", "PS2"))

    def __init__(self) -> None:
        super().__init__(f"Token token={PAGERDUTY_TOKEN}")

    def route(self, path: str, query: dict[str, list[str]]) -> Response:
        """Serve the three endpoints, refusing unexpected parameters."""
        if path == "/users":
            if list(query) != ["query"]:
                return _bad(f"unexpected params {sorted(query)}")
            wanted = query["query"][0].lower()
            users = [{"id": i, "email": e} for i, e in self.USERS.items() if wanted in e]
            return 200, {"users": users}, {}
        if path == "/schedules":
            wanted = query["query"][0]
            found = [{"id": i, "name": n} for i, n in self.SCHEDULES.items() if wanted in n]
            return 200, {"schedules": found}, {}
        if path == "/oncalls":
            allowed = {"user_ids[]", "schedule_ids[]", "include[]", "limit", "offset"}
            if not set(query) <= allowed:
                return _bad(f"unexpected params {sorted(query)}")
            user_ids = query.get("user_ids[]")
            schedules = query.get("schedule_ids[]")
            include_users = query.get("include[]") == ["users"]
            oncalls = [
                {
                    "user": {"id": user, "type": "user_reference"}
                    | ({"email": self.USERS[user]} if include_users else {}),
                    "schedule": {"id": schedule},
                }
                for user, schedule in self.ONCALLS
                if (user_ids is None or user in user_ids)
                and (schedules is None or schedule in schedules)
            ]
            return 200, {"oncalls": oncalls, "more": False}, {}
        return 404, {"error": "not found"}, {}


class FakeOkta(FakeServer):
    """Okta v1: users by login, a user's groups, groups by id or q, paginated group members."""

    USERS: ClassVar[dict[str, str]] = {"alice@x.com": "00u1", "bob@x.com": "00u2"}
    GROUPS: ClassVar[dict[str, str]] = {"00g1": "Admins", "00g2": "Everyone"}
    MEMBERS: ClassVar[dict[str, list[str]]] = {"00g1": ["00u1"], "00g2": ["00u1", "00u2"]}

    def __init__(self) -> None:
        super().__init__(f"SSWS {OKTA_TOKEN}")

    def _group(self, group_id: str) -> dict[str, Any]:
        return {"id": group_id, "profile": {"name": self.GROUPS[group_id]}}

    def _user(self, user_id: str) -> dict[str, Any]:
        login = next(login for login, uid in self.USERS.items() if uid == user_id)
        profile = {"login": login, "email": login, "department": "Engineering"}
        return {"id": user_id, "status": "ACTIVE", "profile": profile}

    def route(self, path: str, query: dict[str, list[str]]) -> Response:
        """Serve the endpoints; group members come one per page with `Link: rel="next"`."""
        parts = [unquote(part) for part in path.split("/")[1:]]
        if parts[:2] != ["api", "v1"]:
            return 404, {"errorCode": "E0000022"}, {}
        rest = parts[2:]
        if len(rest) == 2 and rest[0] == "users":
            user_id = self.USERS.get(rest[1])
            if user_id is None:
                return 404, {"errorCode": "E0000007"}, {}
            return 200, self._user(user_id), {}
        if len(rest) == 2 and rest[0] == "groups":
            if rest[1] not in self.GROUPS:
                return 404, {"errorCode": "E0000007"}, {}
            return 200, self._group(rest[1]), {}
        if len(rest) == 3 and rest[0] == "users" and rest[2] == "groups":
            groups = [g for g, members in self.MEMBERS.items() if rest[1] in members]
            return 200, [self._group(g) for g in groups], {}
        if rest == ["groups"]:
            wanted = query.get("q", [""])[0]
            return 200, [self._group(g) for g, n in self.GROUPS.items() if n.startswith(wanted)], {}
        if len(rest) == 3 and rest[0] == "groups" and rest[2] == "users":
            members = self.MEMBERS.get(rest[1])
            if members is None:
                return 404, {"errorCode": "E0000007"}, {}
            after = query.get("after", [None])[0]
            start = members.index(after) + 1 if after in members else 0
            page = members[start : start + 1]
            headers = {}
            if start + 1 < len(members):
                headers["Link"] = f'<{self.url}{path}?after={page[0]}&limit=1>; rel="next"'
            return 200, [self._user(u) for u in page], headers
        return 404, {"errorCode": "E0000022"}, {}
