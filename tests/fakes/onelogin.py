"""A fake OneLogin on loopback: client-credential tokens, users, roles and their users (API v2)."""

from __future__ import annotations

import base64
import re
from typing import Any

from tests.fakes.rest_server import Answer, Call, FakeRestServer

CLIENT_ID = "ol-client-4d2e"
CLIENT_SECRET = "ol-secret-9b7c1f"
TOKEN_PATH = "/auth/oauth2/v2/token"
_ROLE = re.compile(r"^/api/2/roles/([^/]+)$")
_ROLE_USERS = re.compile(r"^/api/2/roles/([^/]+)/users$")


def _error(status: int, name: str, message: str) -> Answer:
    # OneLogin API v2's error body.
    return Answer(status, {"statusCode": status, "name": name, "message": message})


def _not_found() -> Answer:
    return _error(404, "NotFoundError", "The resource with the given id could not be found")


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(cursor: str) -> int:
    return int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("offset:"))


class FakeOneLogin(FakeRestServer):
    """Answers OneLogin's token, user search and role membership calls.

    Tokens come from ``POST /auth/oauth2/v2/token`` with OneLogin's
    ``client_id:..., client_secret:...`` header; every other call needs one of them as
    ``Authorization: bearer <token>``. ``revoke_tokens`` makes the ones handed out so far
    fail (401), as when an admin revokes them; ``page_size`` caps the users a role lists
    per page, so tests can see paging.
    """

    def __init__(
        self,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        expires_in: int = 36000,
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.expires_in = expires_in
        self.issued: list[str] = []
        self.valid: set[str] = set()
        # user id -> {"id", "email", "username"}
        self.users: dict[int, dict[str, Any]] = {}
        # role id -> member user ids, in the order they were added
        self.roles: dict[str, list[int]] = {}
        self.page_size = 100

    def add_user(self, email: str, username: str | None = None) -> int:
        """Create a user; return its id."""
        with self.lock:
            user = 50_000 + len(self.users) + 1
            self.users[user] = {"id": user, "email": email, "username": username or email}
            return user

    def add_role(self, role: str, *members: int) -> None:
        """Create a role holding ``members``."""
        with self.lock:
            self.roles[role] = list(members)

    def members(self, role: str) -> list[int]:
        """The role's user ids now."""
        with self.lock:
            return list(self.roles[role])

    def revoke_tokens(self) -> None:
        """Make every token issued so far invalid."""
        with self.lock:
            self.valid.clear()

    def authorized(self, headers: dict[str, str]) -> bool:
        """Checked per endpoint in ``route``: the token endpoint takes other credentials."""
        return True

    def route(self, call: Call) -> Answer:
        """The endpoints symbox uses; anything else is a 404 the tests can spot."""
        if call.path == TOKEN_PATH:
            return self._token(call)
        scheme, _, token = call.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token not in self.valid:
            return _error(401, "UnauthorizedError", "Unauthorized")
        if call.method == "GET" and call.path == "/api/2/users":
            return self._find_users(call)
        if call.method == "GET" and (match := _ROLE.match(call.path)):
            role = match.group(1)
            if role not in self.roles:
                return _not_found()
            return Answer(200, {"id": int(role), "name": f"role {role}"})
        if match := _ROLE_USERS.match(call.path):
            role = match.group(1)
            if role not in self.roles:
                return _not_found()
            if call.method == "GET":
                return self._list(call, role)
            if call.method == "POST":
                return self._add(call, role)
            if call.method == "DELETE":
                return self._remove(call, role)
        return _error(404, "NotFoundError", "no such route in the fake")

    def _token(self, call: Call) -> Answer:
        expected = f"client_id:{self.client_id}, client_secret:{self.client_secret}"
        if call.method != "POST" or call.body != {"grant_type": "client_credentials"}:
            return _error(400, "BadRequestError", "grant_type must be client_credentials")
        if call.headers.get("authorization") != expected:
            return _error(401, "UnauthorizedError", "Authentication Failure")
        token = f"ol-access-{len(self.issued) + 1}"
        self.issued.append(token)
        self.valid.add(token)
        return Answer(
            200,
            {
                "access_token": token,
                "created_at": "2026-12-04T18:00:00.000Z",
                "expires_in": self.expires_in,
                "refresh_token": None,
                "token_type": "bearer",
                "account_id": 555,
            },
        )

    def _find_users(self, call: Call) -> Answer:
        for field in ("email", "username"):
            for wanted in call.query.get(field, [])[:1]:
                found = [
                    dict(user)
                    for user in self.users.values()
                    if str(user[field]).casefold() == wanted.casefold()
                ]
                return Answer(200, found)
        return Answer(200, [dict(user) for user in self.users.values()])

    def _list(self, call: Call, role: str) -> Answer:
        limit = call.query.get("limit", ["50"])[0]
        cursor = call.query.get("cursor", [""])[0]
        size = min(int(limit), self.page_size)
        start = _offset(cursor) if cursor else 0
        page = self.roles[role][start : start + size]
        headers = {"Current-Page": str(start // size + 1), "Page-Items": str(size)}
        if start + size < len(self.roles[role]):
            headers["After-Cursor"] = _cursor(start + size)
        users = [
            {
                "id": user,
                "name": self.users[user]["email"],
                "username": self.users[user]["username"],
                "assigned": True,
            }
            for user in page
        ]
        return Answer(200, users, headers)

    def _ids(self, call: Call) -> list[int] | None:
        body = call.body
        if not isinstance(body, list) or not all(isinstance(item, int) for item in body):
            return None
        return list(body)

    def _add(self, call: Call, role: str) -> Answer:
        ids = self._ids(call)
        if ids is None:
            return _error(400, "BadRequestError", "expected a list of user ids")
        unknown = [user for user in ids if user not in self.users]
        if unknown:
            return _error(
                422, "UnprocessableEntityError", f"Validation failed: no user {unknown[0]}"
            )
        for user in ids:
            if user not in self.roles[role]:
                self.roles[role].append(user)
        return Answer(200, [{"id": user} for user in ids])

    def _remove(self, call: Call, role: str) -> Answer:
        ids = self._ids(call)
        if ids is None:
            return _error(400, "BadRequestError", "expected a list of user ids")
        if any(user not in self.users for user in ids):
            return _not_found()
        self.roles[role] = [user for user in self.roles[role] if user not in ids]
        return Answer(204)
