"""A fake Okta on loopback: users by login, groups and their members, SSWS tokens."""

from __future__ import annotations

import re

from tests.fakes.rest_server import Answer, Call, FakeRestServer

OKTA_TOKEN = "okta-token-7f3a9c"
_USER = re.compile(r"^/api/v1/users/([^/]+)$")
_GROUP = re.compile(r"^/api/v1/groups/([^/]+)$")
_MEMBER = re.compile(r"^/api/v1/groups/([^/]+)/users/([^/]+)$")
_MEMBERS = re.compile(r"^/api/v1/groups/([^/]+)/users$")


def _not_found(what: str) -> Answer:
    return Answer(
        404, {"errorCode": "E0000007", "errorSummary": f"Not found: Resource not found: {what}"}
    )


class FakeOkta(FakeRestServer):
    """Answers the user lookup and group membership calls of Okta's API v1."""

    def __init__(self, token: str = OKTA_TOKEN) -> None:
        super().__init__()
        self.token = token
        # login -> user id
        self.users: dict[str, str] = {}
        # group id -> member user ids
        self.groups: dict[str, set[str]] = {}

    def add_user(self, login: str) -> str:
        """Create a user; return its id."""
        with self.lock:
            user = f"00u{len(self.users) + 1}"
            self.users[login] = user
            return user

    def add_group(self, group: str) -> None:
        """Create an empty group."""
        with self.lock:
            self.groups[group] = set()

    def members(self, group: str) -> set[str]:
        """The ids of the group's members now."""
        with self.lock:
            return set(self.groups[group])

    def authorized(self, headers: dict[str, str]) -> bool:
        """Okta's API tokens: ``Authorization: SSWS <token>``."""
        return headers.get("authorization") == f"SSWS {self.token}"

    def unauthorized(self) -> Answer:
        """What Okta answers a bad token."""
        return Answer(401, {"errorCode": "E0000011", "errorSummary": "Invalid token provided"})

    def route(self, call: Call) -> Answer:
        """The endpoints symbox uses; anything else is a 404 the tests can spot."""
        if call.method == "GET" and (match := _USER.match(call.path)):
            key = match.group(1)
            user = self.users.get(key) or (key if key in self.users.values() else None)
            if user is None:
                return _not_found(f"{key} (User)")
            login = next(login for login, uid in self.users.items() if uid == user)
            profile = {"login": login, "email": login}
            return Answer(200, {"id": user, "status": "ACTIVE", "profile": profile})
        if call.method == "GET" and (match := _GROUP.match(call.path)):
            group = match.group(1)
            if group not in self.groups:
                return _not_found(f"{group} (UserGroup)")
            return Answer(200, {"id": group, "profile": {"name": group}})
        if call.method == "GET" and (match := _MEMBERS.match(call.path)):
            group = match.group(1)
            if group not in self.groups:
                return _not_found(f"{group} (UserGroup)")
            limit = int(call.query.get("limit", ["200"])[0])
            after = call.query.get("after", [""])[0]
            ids = sorted(uid for uid in self.groups[group] if uid > after)
            page = ids[:limit]
            logins = {uid: login for login, uid in self.users.items()}
            body = [{"id": uid, "profile": {"login": logins.get(uid, uid)}} for uid in page]
            headers = {}
            if len(ids) > limit:
                link = f"{self.url}/api/v1/groups/{group}/users?limit={limit}&after={page[-1]}"
                headers["Link"] = f'<{link}>; rel="next"'
            return Answer(200, body, headers)
        if call.method in ("PUT", "DELETE") and (match := _MEMBER.match(call.path)):
            group, user = match.groups()
            if group not in self.groups:
                return _not_found(f"{group} (UserGroup)")
            if user not in self.users.values():
                return _not_found(f"{user} (User)")
            if call.body is not None:
                return Answer(400, {"errorCode": "E0000003", "errorSummary": "body not expected"})
            if call.method == "PUT":
                self.groups[group].add(user)
            else:
                self.groups[group].discard(user)
            return Answer(204)
        return Answer(404, {"errorCode": "E0000022", "errorSummary": "unexpected endpoint"})
