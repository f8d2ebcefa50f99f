"""A repository's collaborators by role over GitHub's REST API, run on the host for hooks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote

from symbox.sandbox.sdk.exceptions import GitHubError
from symbox.strategies.base import StrategyError
from symbox.strategies.github_api import paged
from symbox.strategies.identities import GITHUB, IdentityDirectory
from symbox.strategies.rest import RestCaller, RetryTiming

# A hook call has 2 s in all: retries ride out a throttled moment, not a slow outage.
HOOK_RETRIES = RetryTiming(attempts=3, base=0.2, cap=1.0)
# affiliation=all lists everyone the repository reaches through teams and the org too.
MAX_PAGES = 50
# GitHub's repository names: letters, digits, '.', '-' and '_'.
_REPO_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
ACTION = "get_repo_collaborators"


class GithubClient:
    """``get_repo_collaborators``: the symbox users among a repository's collaborators.

    The repository belongs to ``owner`` (the github integration's ``external_id``); a
    collaborator is a symbox user when ``symbox users`` set their GitHub username.
    """

    def __init__(self, rest: RestCaller, owner: str | None, identities: IdentityDirectory) -> None:
        self._rest = rest
        self._owner = owner
        self._identities = identities

    async def get_repo_collaborators(
        self, repo_name: str, roles: Sequence[str]
    ) -> list[dict[str, str]]:
        """The users collaborating on ``repo_name`` whose GitHub role is one of ``roles``.

        Roles are GitHub's ``role_name`` (read, triage, write, maintain, admin or a custom
        role), compared without regard to case; each collaborator has exactly one, so an
        admin is not a ``write`` collaborator. Collaborators no symbox user has set as
        their GitHub username are left out. Returned as ``{"email": ...}``, by email.
        """
        repo = self._repo(repo_name)
        wanted = {role.lower() for role in roles}
        try:
            items = await paged(
                self._rest,
                f"/repos/{repo}/collaborators",
                {"affiliation": "all"},
                action=ACTION,
                missing=lambda: GitHubError(
                    f"GitHub has no repository {repo}, or the API token cannot see it"
                ),
                max_pages=MAX_PAGES,
            )
        except StrategyError as error:
            raise GitHubError(str(error)) from None
        logins = set()
        for item in items:
            login, role = item.get("login"), item.get("role_name")
            if isinstance(login, str) and isinstance(role, str) and role.lower() in wanted:
                logins.add(login.lower())
        mapped = await self._identities.identities_in(GITHUB)
        return [{"email": email} for email, login in mapped if login.lower() in logins]

    def _repo(self, repo_name: str) -> str:
        """``owner/repo`` for the API path, or GitHubError naming what is wrong."""
        if not self._owner:
            raise GitHubError(
                "the github integration has no external_id: set it to the organization "
                "that owns the repositories"
            )
        if "/" in repo_name:
            raise GitHubError(
                f"repo_name {repo_name!r} names an organization: give the repository's name "
                f"alone (the organization is {self._owner}, the github integration's "
                "external_id)"
            )
        if not _REPO_NAME.match(repo_name) or repo_name in (".", ".."):
            raise GitHubError(f"repo_name {repo_name!r} is not a GitHub repository name")
        return f"{quote(self._owner, safe='')}/{repo_name}"
