"""A fake GitHub API on loopback: users, repository collaborators and invitations."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from tests.fakes.rest_server import Answer, Call, FakeRestServer

GITHUB_TOKEN = "ghp_fake0123456789abcdef"
PERMISSIONS = ("pull", "triage", "push", "maintain", "admin")
_USER = re.compile(r"^/users/([^/]+)$")
_COLLABORATOR = re.compile(r"^/repos/([^/]+/[^/]+)/collaborators/([^/]+)$")
_INVITATIONS = re.compile(r"^/repos/([^/]+/[^/]+)/invitations$")
_COLLABORATORS = re.compile(r"^/repos/([^/]+/[^/]+)/collaborators$")
_INVITATION = re.compile(r"^/repos/([^/]+/[^/]+)/invitations/(\d+)$")
NOT_FOUND = Answer(404, {"message": "Not Found"})
# GitHub's role_name for each permission the REST API takes (a custom role is its own name).
ROLE_NAMES = {"pull": "read", "push": "write"}


@dataclass
class Repo:
    """A repository's direct collaborators and pending invitations."""

    # login (lower case) -> permission
    collaborators: dict[str, str] = field(default_factory=dict)
    # Access through teams or the org's base permission: listed with affiliation=all only.
    # login (lower case) -> permission
    inherited: dict[str, str] = field(default_factory=dict)
    # invitation id -> (login, permission)
    invitations: dict[int, tuple[str, str]] = field(default_factory=dict)


class FakeGithub(FakeRestServer):
    """Adds org members as collaborators at once (204) and invites everyone else (201)."""

    def __init__(self, token: str = GITHUB_TOKEN) -> None:
        super().__init__()
        self.token = token
        self.users: set[str] = set()
        self.org_members: set[str] = set()
        self.repos: dict[str, Repo] = {}
        # GitHub's is 100; a test lowers it to spread a short list over several pages.
        self.max_page_size = 100
        self._next_invitation = 1

    def add_user(self, login: str, *, member: bool = False) -> None:
        """Create a GitHub user, optionally a member of the org that owns the repos."""
        with self.lock:
            self.users.add(login.lower())
            if member:
                self.org_members.add(login.lower())

    def add_repo(self, name: str) -> Repo:
        """Create a repository ``owner/name``."""
        with self.lock:
            return self.repos.setdefault(name, Repo())

    def access(self, repo: str) -> dict[str, str]:
        """Who holds or is invited to ``repo``: login -> permission (invited ones marked)."""
        with self.lock:
            held = dict(self.repos[repo].collaborators)
            for login, permission in self.repos[repo].invitations.values():
                held[login] = f"invited:{permission}"
            return held

    def accept(self, repo: str, login: str) -> None:
        """The invitee accepts their invitation."""
        with self.lock:
            invitations = self.repos[repo].invitations
            for number, (invitee, permission) in list(invitations.items()):
                if invitee == login.lower():
                    del invitations[number]
                    self.repos[repo].collaborators[invitee] = permission

    def authorized(self, headers: dict[str, str]) -> bool:
        """A bearer token, with the API version and media type GitHub recommends."""
        return (
            headers.get("authorization") == f"Bearer {self.token}"
            and headers.get("x-github-api-version") == "2022-11-28"
            and headers.get("accept") == "application/vnd.github+json"
        )

    def route(self, call: Call) -> Answer:
        """The endpoints symbox uses; anything else is a 404 the tests can spot."""
        if call.method == "GET" and (match := _USER.match(call.path)):
            login = match.group(1).lower()
            return Answer(200, {"login": login, "id": 1}) if login in self.users else NOT_FOUND
        if match := _COLLABORATOR.match(call.path):
            repo = self.repos.get(match.group(1))
            login = match.group(2).lower()
            if repo is None:
                return NOT_FOUND
            if call.method == "PUT":
                return self._add(repo, login, call)
            if call.method == "DELETE":
                repo.collaborators.pop(login, None)
                return Answer(204)
        if call.method == "GET" and (match := _COLLABORATORS.match(call.path)):
            repo = self.repos.get(match.group(1))
            if repo is None:
                return NOT_FOUND
            affiliation = call.query.get("affiliation", ["all"])
            if affiliation not in (["direct"], ["all"]):
                return Answer(400, {"message": f"symbox does not list {affiliation}"})
            held = dict(repo.collaborators)
            if affiliation == ["all"]:
                held = {**repo.inherited, **held}
            listed = [
                {"login": login, "role_name": ROLE_NAMES.get(permission, permission)}
                for login, permission in sorted(held.items())
            ]
            return self._page(call, listed)
        if call.method == "GET" and (match := _INVITATIONS.match(call.path)):
            repo = self.repos.get(match.group(1))
            if repo is None:
                return NOT_FOUND
            items = [
                {"id": number, "invitee": {"login": login}, "permissions": permission}
                for number, (login, permission) in sorted(repo.invitations.items())
            ]
            return self._page(call, items)
        if call.method == "DELETE" and (match := _INVITATION.match(call.path)):
            repo = self.repos.get(match.group(1))
            if repo is None or repo.invitations.pop(int(match.group(2)), None) is None:
                return NOT_FOUND
            return Answer(204)
        return NOT_FOUND

    def _page(self, call: Call, items: list[dict[str, Any]]) -> Answer:
        """One page of ``items``, with GitHub's ``Link`` header when more follow."""
        size = min(int(call.query.get("per_page", ["30"])[0]), self.max_page_size)
        page = int(call.query.get("page", ["1"])[0])
        headers = {}
        if page * size < len(items):
            query = {key: values[0] for key, values in call.query.items()}
            following = urlencode({**query, "per_page": str(size), "page": str(page + 1)})
            headers["Link"] = f'<{self.url}{call.path}?{following}>; rel="next"'
        return Answer(200, items[(page - 1) * size : page * size], headers)

    def _add(self, repo: Repo, login: str, call: Call) -> Answer:
        permission = (call.body or {}).get("permission", "push")
        if login not in self.users:
            return NOT_FOUND
        if permission not in PERMISSIONS:
            return Answer(422, {"message": f"Validation Failed: permission {permission}"})
        if login in repo.collaborators or login in self.org_members:
            repo.collaborators[login] = permission
            return Answer(204)
        for number, (invitee, _) in repo.invitations.items():
            if invitee == login:
                repo.invitations[number] = (login, permission)
                return Answer(201, {"id": number, "invitee": {"login": login}})
        number, self._next_invitation = self._next_invitation, self._next_invitation + 1
        repo.invitations[number] = (login, permission)
        return Answer(201, {"id": number, "invitee": {"login": login}})
