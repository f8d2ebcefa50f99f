"""A fake Aptible auth API on loopback: password-grant tokens, users, roles, memberships (HAL)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tests.fakes.rest_server import Answer, Call, FakeRestServer

USERNAME = "symbox-robot@acme.example"
PASSWORD = "aptible-pass-6c1d0e"
ORGANIZATION = "org-5a1e"
_ORG_USERS = re.compile(r"^/organizations/([^/]+)/users$")
_ROLE_MEMBERSHIPS = re.compile(r"^/roles/([^/]+)/memberships$")
_MEMBERSHIP = re.compile(r"^/memberships/([^/]+)$")
_USER_URL = re.compile(r"^https?://[^/]+/users/([^/]+)$")


def _error(status: int, error: str, message: str) -> Answer:
    # The auth API's error body.
    return Answer(status, {"code": status, "error": error, "message": message})


@dataclass
class Member:
    """A membership: its id, role and user."""

    id: str
    role: str
    user: str


class FakeAptible(FakeRestServer):
    """Answers the token, organization users, role memberships and membership calls.

    Tokens come from ``POST /tokens`` with the password grant; every other call needs one
    as ``Authorization: Bearer <token>``. Collections are HAL documents paged by
    ``page_size`` and linked with ``_links.next``.
    """

    def __init__(self, expires_in: int | str = 3600) -> None:
        super().__init__()
        self.expires_in = expires_in
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self.token_requests: list[dict[str, Any]] = []
        # user id -> (email, organization)
        self.users: dict[str, tuple[str, str]] = {}
        # role id -> organization
        self.roles: dict[str, str] = {}
        self.memberships: list[Member] = []
        self.page_size = 50
        self._joined = 0

    def add_user(self, email: str, organization: str = ORGANIZATION) -> str:
        """Create a user of ``organization``; return its id."""
        with self.lock:
            user = f"u-{len(self.users) + 1:04d}"
            self.users[user] = (email, organization)
            return user

    def add_role(self, role: str, *members: str, organization: str = ORGANIZATION) -> None:
        """Create a role of ``organization`` with memberships for ``members``."""
        with self.lock:
            self.roles[role] = organization
            for user in members:
                self._join(role, user)

    def add_member(self, role: str, user: str) -> None:
        """Give ``user`` a membership of ``role``, as an admin would by hand."""
        with self.lock:
            self._join(role, user)

    def members(self, role: str) -> list[str]:
        """The ids of the role's users now, in the order they joined."""
        with self.lock:
            return [m.user for m in self.memberships if m.role == role]

    def revoke_tokens(self) -> None:
        """Make every token issued so far invalid."""
        with self.lock:
            self.valid.clear()

    def authorized(self, headers: dict[str, str]) -> bool:
        """Checked per endpoint in ``route``: the token endpoint takes a password."""
        return True

    def route(self, call: Call) -> Answer:
        """The endpoints symbox uses; anything else is a 404 the tests can spot."""
        if call.path == "/tokens" and call.method == "POST":
            return self._token(call)
        scheme, _, token = call.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token not in self.valid:
            return _error(401, "invalid_token", "Invalid Token")
        if call.method == "GET" and (match := _ORG_USERS.match(call.path)):
            organization = match.group(1)
            users = [
                {
                    "id": user,
                    "email": email,
                    "name": email.split("@")[0],
                    "_links": {"self": {"href": f"{self.url}/users/{user}"}},
                }
                for user, (email, org) in self.users.items()
                if org == organization
            ]
            return self._page(call, "users", users)
        if match := _ROLE_MEMBERSHIPS.match(call.path):
            role = match.group(1)
            if role not in self.roles:
                return _error(404, "not_found", f"Couldn't find Role with 'id'={role}")
            if call.method == "GET":
                found = [self._membership(m) for m in self.memberships if m.role == role]
                return self._page(call, "memberships", found)
            if call.method == "POST":
                return self._add(call, role)
        if call.method == "DELETE" and (match := _MEMBERSHIP.match(call.path)):
            for membership in self.memberships:
                if membership.id == match.group(1):
                    self.memberships.remove(membership)
                    return Answer(204)
            return _error(404, "not_found", "Couldn't find Membership")
        return _error(404, "not_found", "no such route in the fake")

    def _token(self, call: Call) -> Answer:
        body = call.body if isinstance(call.body, dict) else {}
        self.token_requests.append({k: v for k, v in body.items() if k != "password"})
        if body.get("grant_type") != "password":
            return _error(400, "unsupported_grant_type", "Unsupported grant type")
        if (body.get("username"), body.get("password")) != (USERNAME, PASSWORD):
            return _error(401, "invalid_credentials", "Invalid email or password")
        token = f"apt-access-{len(self.issued) + 1}"
        self.issued.append(token)
        self.valid.add(token)
        return Answer(
            201,
            {
                "id": f"tok-{len(self.issued)}",
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.expires_in,
                "scope": body.get("scope"),
                "_type": "token",
            },
        )

    def _page(self, call: Call, key: str, items: list[dict[str, Any]]) -> Answer:
        page = int(call.query.get("page", ["1"])[0])
        start = (page - 1) * self.page_size
        links: dict[str, Any] = {"self": {"href": f"{self.url}{call.path}?page={page}"}}
        if start + self.page_size < len(items):
            links["next"] = {"href": f"{self.url}{call.path}?page={page + 1}"}
        document = {"_embedded": {key: items[start : start + self.page_size]}, "_links": links}
        return Answer(200, document)

    def _membership(self, membership: Member) -> dict[str, Any]:
        return {
            "id": membership.id,
            "privileged": False,
            "_type": "membership",
            "_links": {
                "self": {"href": f"{self.url}/memberships/{membership.id}"},
                "role": {"href": f"{self.url}/roles/{membership.role}"},
                "user": {"href": f"{self.url}/users/{membership.user}"},
            },
        }

    def _add(self, call: Call, role: str) -> Answer:
        url = call.body.get("user_url") if isinstance(call.body, dict) else None
        match = _USER_URL.match(url) if isinstance(url, str) else None
        if match is None or match.group(1) not in self.users:
            return _error(422, "unprocessable_entity", "User can't be blank")
        user = match.group(1)
        if self.users[user][1] != self.roles[role]:
            return _error(422, "unprocessable_entity", "User is not a member of the organization")
        if user in self.members(role):
            return _error(422, "unprocessable_entity", "User has already been taken")
        return Answer(201, self._membership(self._join(role, user)))

    def _join(self, role: str, user: str) -> Member:
        self._joined += 1
        membership = Member(f"m-{self._joined:04d}", role, user)
        self.memberships.append(membership)
        return membership
