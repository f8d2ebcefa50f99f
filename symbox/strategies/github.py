"""The ``github`` strategy: the requester as a collaborator on a GitHub repository."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from symbox.config.model import Target
from symbox.strategies.base import GrantRequest, StrategyError
from symbox.strategies.github_api import SERVICE, paged
from symbox.strategies.identities import GITHUB, IdentityMap
from symbox.strategies.rest import RestCaller, refusal

log = logging.getLogger(__name__)

REPO = "github_repo"
DEFAULT_PERMISSION = "push"
# Direct collaborators and invitations are few; the bound keeps a misbehaving server from
# looping symbox (more pages are an error, never a list cut short).
MAX_PAGES = 20


class GithubStrategy:
    """Adds the requester's GitHub user as a repository collaborator with a permission
    (``PUT /repos/{owner}/{repo}/collaborators/{username}``) and removes them, cancelling
    a pending invitation too. The username is the one ``symbox users`` set; there is no
    rule that derives it from an email."""

    def __init__(self, rest: RestCaller, identities: IdentityMap, owner: str | None) -> None:
        self._rest = rest
        self._identities = identities
        # For a target whose repo_name has no owner: the integration's external_id (the org).
        self._owner = owner

    async def remote_identity(self, requester: str, name: str | None = None) -> str:
        """The requester's GitHub username (``name`` if given), checked to exist."""
        username = name or await self._identities.identity_of(requester, GITHUB)
        if username is None:
            raise StrategyError(
                f"no GitHub username is set for {requester} (an operator sets it with "
                f"`symbox users set {requester} --github USERNAME`)",
                permanent=True,
                reached_target=False,
            )
        response = await self._rest.send(
            "GET", f"/users/{quote(username, safe='')}", action="identity lookup"
        )
        if response.status_code == 404:
            raise StrategyError(
                f"GitHub has no user {username} (the username set for {requester})",
                permanent=True,
                reached_target=False,
            )
        if not response.is_success:
            raise refusal(SERVICE, "identity lookup", response)
        return username

    async def escalate(self, request: GrantRequest) -> None:
        """Add the collaborator (201: invited; 204: already one, or added directly)."""
        repo, permission = self._repo(request.target)
        username = request.identity or await self.remote_identity(request.requester)
        path = f"/repos/{repo}/collaborators/{quote(username, safe='')}"
        response = await self._rest.send(
            "PUT", path, action="escalate", json={"permission": permission}
        )
        if response.is_success:
            return
        if response.status_code == 404:
            raise self._no_repo(request.target, "escalate")
        raise refusal(SERVICE, "escalate", response)

    async def deescalate(self, request: GrantRequest) -> None:
        """Cancel a pending invitation, then remove the collaborator (succeeds if gone)."""
        repo, _ = self._repo(request.target)
        # The user the grant was made to, if recorded; else the username set now.
        username = request.identity or await self._identities.identity_of(request.requester, GITHUB)
        if username is None:
            log.warning(
                "requester has no GitHub username; nothing to revoke",
                extra={"run_id": request.run_id},
            )
            return
        await self._revoke(request.target, repo, username, "deescalate")

    async def holders(self, target: Target) -> frozenset[str]:
        """Direct collaborators and pending invitees now: both are access symbox may grant."""
        repo, _ = self._repo(target)
        params = {"affiliation": "direct"}
        collaborators = await self._pages(target, f"/repos/{repo}/collaborators", params)
        invitations = await self._pages(target, f"/repos/{repo}/invitations", {})
        logins = {item.get("login") for item in collaborators}
        logins |= {_invitee(item) for item in invitations}
        return frozenset(login for login in logins if isinstance(login, str) and login)

    async def remove_holder(self, target: Target, identity: str) -> None:
        """Cancel the user's invitations and remove them as a collaborator (succeeds if gone)."""
        repo, _ = self._repo(target)
        await self._revoke(target, repo, identity, "reconcile")

    async def _revoke(self, target: Target, repo: str, username: str, action: str) -> None:
        # Invitations first: one accepted after this point becomes a collaborator, which
        # the next call removes; the other order could leave an accepted invitation behind.
        for invitation in await self._invitations(target, repo, username):
            path = f"/repos/{repo}/invitations/{invitation}"
            response = await self._rest.send("DELETE", path, action=action)
            if not response.is_success and response.status_code != 404:
                raise refusal(SERVICE, action, response)
        path = f"/repos/{repo}/collaborators/{quote(username, safe='')}"
        response = await self._rest.send("DELETE", path, action=action)
        if response.is_success:
            return
        if response.status_code == 404:
            raise self._no_repo(target, action)
        raise refusal(SERVICE, action, response)

    async def _invitations(self, target: Target, repo: str, username: str) -> list[str]:
        wanted = username.lower()
        items = await self._pages(target, f"/repos/{repo}/invitations", {})
        return [
            str(item.get("id"))
            for item in items
            if (login := _invitee(item)) is not None and login.lower() == wanted
        ]

    async def _pages(
        self, target: Target, path: str, params: dict[str, str]
    ) -> list[dict[str, Any]]:
        """Every item of a paged GitHub list."""
        return await paged(
            self._rest,
            path,
            params,
            action="list",
            missing=lambda: self._no_repo(target, "list"),
            max_pages=MAX_PAGES,
        )

    def _repo(self, target: Target) -> tuple[str, str]:
        name = target.settings.get("repo_name")
        permission = target.settings.get("permission", DEFAULT_PERMISSION)
        if target.type != REPO or not isinstance(name, str) or not name:
            raise StrategyError(
                f"target {target.name}: a github strategy needs a {REPO} target with "
                "settings.repo_name",
                permanent=True,
                reached_target=False,
            )
        if "/" not in name:
            if not self._owner:
                raise StrategyError(
                    f"target {target.name}: settings.repo_name {name} needs its owner "
                    "(OWNER/REPO), or the github integration's external_id",
                    permanent=True,
                    reached_target=False,
                )
            name = f"{self._owner}/{name}"
        owner, _, repo = name.partition("/")
        return f"{quote(owner, safe='')}/{quote(repo, safe='')}", str(permission)

    def _no_repo(self, target: Target, action: str) -> StrategyError:
        repo, _ = self._repo(target)
        return StrategyError(
            f"{action}: GitHub has no repository {repo} that the API token can manage "
            f"(target {target.name})",
            permanent=True,
            reached_target=False,
        )


def _invitee(item: dict[str, Any]) -> str | None:
    invitee = item.get("invitee")
    login = invitee.get("login") if isinstance(invitee, dict) else None
    return login if isinstance(login, str) else None
