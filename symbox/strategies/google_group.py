"""The ``google_group`` strategy: the requester's email as a member of a Google group."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from symbox.config.apis import GOOGLE_ROLES
from symbox.config.model import Target
from symbox.strategies.base import GrantRequest, StrategyError
from symbox.strategies.google_auth import GoogleTokens
from symbox.strategies.identities import GOOGLE, IdentityMap
from symbox.strategies.rest import RestCaller, detail

GROUP = "google_group"
SERVICE = "Google"
DEFAULT_ROLE = "MEMBER"
# Members listed per page (the Directory API's most), and pages at most: the bound keeps
# a misbehaving server from holding reconciliation forever.
PAGE_SIZE = 200
MAX_PAGES = 500


def group_email(target: Target) -> str:
    """The target's group email, or a permanent error."""
    value = target.settings.get("group_email")
    if target.type != GROUP or not isinstance(value, str) or "@" not in value:
        raise StrategyError(
            f"target {target.name}: a google_group strategy needs a {GROUP} target with "
            "settings.group_email",
            permanent=True,
            reached_target=False,
        )
    return value


def role_of(target: Target) -> str:
    """The role the target grants: ``settings.role``, MEMBER when unset."""
    role = target.settings.get("role") or DEFAULT_ROLE
    if role not in GOOGLE_ROLES:
        raise StrategyError(
            f"target {target.name}: settings.role must be one of {', '.join(GOOGLE_ROLES)}",
            permanent=True,
            reached_target=False,
        )
    return str(role)


class GoogleGroupStrategy:
    """Adds the requester to a Google group (``POST /admin/directory/v1/groups/{group}/
    members``) and removes them (``DELETE .../members/{email}``), through the Admin SDK's
    Directory API with a service account acting as a Workspace admin."""

    def __init__(self, rest: RestCaller, tokens: GoogleTokens, identities: IdentityMap) -> None:
        self._rest = rest
        self._tokens = tokens
        self._identities = identities

    async def remote_identity(self, requester: str, name: str | None = None) -> str:
        """The requester's Google email: ``name``, the one set with ``symbox users``, or theirs."""
        return name or await self._identities.identity_of(requester, GOOGLE) or requester

    async def escalate(self, request: GrantRequest) -> None:
        """Add the member with the target's role (succeeds if they already belong)."""
        group = group_email(request.target)
        email = request.identity or await self.remote_identity(request.requester)
        body = {"email": email, "role": role_of(request.target)}
        action = _action("escalate", group)
        response = await self._send("POST", _members(group), action, json=body)
        # 409: already a member. Their role is left as it is.
        if response.is_success or response.status_code == 409:
            return
        raise _refusal(action, request.target, response)

    async def deescalate(self, request: GrantRequest) -> None:
        """Remove the member (succeeds if they are not in the group)."""
        group = group_email(request.target)
        # The email the grant was made to, if recorded; else whoever the mapping says now.
        email = request.identity or await self.remote_identity(request.requester)
        await self._remove(request.target, group, email, "deescalate")

    async def holders(self, target: Target) -> frozenset[str]:
        """The emails of the group's members now, every role (following nextPageToken)."""
        group = group_email(target)
        action = _action("reconcile", group)
        params = {"maxResults": str(PAGE_SIZE)}
        found: set[str] = set()
        for _ in range(MAX_PAGES):
            response = await self._send("GET", _members(group), action, params=params)
            if not response.is_success:
                raise _refusal(action, target, response)
            page = _json(response)
            members = page.get("members", []) if isinstance(page, dict) else None
            if not isinstance(members, list):
                raise StrategyError(
                    f"{action}: Google listed group members in an unexpected shape",
                    reached_target=False,
                )
            # The whole domain as a member (type CUSTOMER) has no email: nobody to revoke.
            found.update(
                member["email"]
                for member in members
                if isinstance(member, dict) and isinstance(member.get("email"), str)
            )
            after = page.get("nextPageToken") if isinstance(page, dict) else None
            if not isinstance(after, str) or not after:
                return frozenset(found)
            params = {"maxResults": str(PAGE_SIZE), "pageToken": after}
        raise StrategyError(
            f"{action}: Google listed more than {MAX_PAGES} pages of members",
            reached_target=False,
        )

    async def remove_holder(self, target: Target, identity: str) -> None:
        """Take a member (by email) out of the target's group; succeeds if not a member."""
        await self._remove(target, group_email(target), identity, "reconcile")

    async def _remove(self, target: Target, group: str, email: str, verb: str) -> None:
        action = _action(verb, group)
        path = f"{_members(group)}/{quote(email, safe='@')}"
        response = await self._send("DELETE", path, action)
        # 404: not a member (or no such group): either way nobody holds this access.
        if response.is_success or response.status_code == 404:
            return
        raise _refusal(action, target, response)

    async def _send(
        self,
        method: str,
        path: str,
        action: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        response = await self._rest.send(method, path, action=action, json=json, params=params)
        if response.status_code != 401:
            return response
        # A token Google no longer takes (revoked, or the clock misjudged its age): fetch
        # another once; a second 401 is the caller's to report.
        used = response.request.headers.get("Authorization", "").removeprefix("Bearer ")
        self._tokens.forget(used)
        return await self._rest.send(method, path, action=action, json=json, params=params)


def _action(verb: str, group: str) -> str:
    # Every message, the token's included, then names the group it was about.
    return f"{verb} (group {group})"


def _members(group: str) -> str:
    return f"/admin/directory/v1/groups/{quote(group, safe='@')}/members"


def _refusal(action: str, target: Target, response: httpx.Response) -> StrategyError:
    request = response.request
    status = response.status_code
    where = f"{request.method} {request.url.path}"
    if status == 401:
        cause = "refused the access token"
    elif status == 403:
        cause = (
            f"denied {where}: the admin the service account acts as, or the delegated "
            "scope, lacks the permission"
        )
    else:
        cause = f"answered {where} with"
    return StrategyError(
        f"{action}: {SERVICE} {cause} (HTTP {status}{detail(response)}); target {target.name}",
        permanent=True,
        reached_target=False,
    )


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
