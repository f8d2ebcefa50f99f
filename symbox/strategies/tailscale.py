"""The ``tailscale`` strategy: the requester's login in a group of the tailnet policy file."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from symbox.config.model import Target
from symbox.strategies.base import GrantRequest, StrategyError
from symbox.strategies.identities import TAILSCALE, IdentityMap
from symbox.strategies.rest import RestCaller, refusal

log = logging.getLogger(__name__)

GROUP = "tailscale_group"
SERVICE = "Tailscale"
# Writes that lost a race with another edit (412) are re-read and tried again this many
# times; more means the policy changes faster than symbox can follow, so the call fails
# as transient and the service retries it later.
MAX_EDITS = 5

# Takes the group's members (a fresh list) and returns them as they should be.
Edit = Callable[[list[str]], list[str]]


def group_name(target: Target) -> str:
    """The target's ``group:...`` name, or a permanent error."""
    value = target.settings.get("group_name")
    if isinstance(value, str) and value and not value.startswith("group:"):
        # Sym's spelling: the bare name of the policy file's group:NAME.
        value = f"group:{value}"
    if target.type != GROUP or not isinstance(value, str) or not value.startswith("group:"):
        raise StrategyError(
            f"target {target.name}: a tailscale strategy needs a {GROUP} target with "
            'settings.group_name ("group:NAME")',
            permanent=True,
            reached_target=False,
        )
    return value


def _same(left: str, right: str) -> bool:
    # Login names are emails (or name@provider), which Tailscale matches without case.
    return left.casefold() == right.casefold()


class TailscaleStrategy:
    """Adds the requester's Tailscale login to a group in the tailnet policy file and
    removes it: the policy is read (``GET /api/v2/tailnet/{tailnet}/acl``), the group's
    member list changed and the whole policy written back with ``If-Match`` its ETag, so
    an edit made meanwhile is never overwritten. Nothing else in the policy changes."""

    def __init__(self, rest: RestCaller, identities: IdentityMap, tailnet: str) -> None:
        self._rest = rest
        self._identities = identities
        self._path = f"/api/v2/tailnet/{quote(tailnet, safe='')}/acl"

    async def remote_identity(self, requester: str, name: str | None = None) -> str:
        """The requester's login: ``name``, the one set with ``symbox users``, else the email."""
        return name or await self._identities.identity_of(requester, TAILSCALE) or requester

    async def escalate(self, request: GrantRequest) -> None:
        """Add the login to the group (nothing is written if it is already a member)."""
        login = request.identity or await self.remote_identity(request.requester)

        def add(members: list[str]) -> list[str]:
            if any(_same(member, login) for member in members):
                return members
            return [*members, login]

        await self._edit(request.target, add, "escalate")

    async def deescalate(self, request: GrantRequest) -> None:
        """Remove the login from the group (nothing is written if it is not a member)."""
        # The login the grant was made to, if recorded; else whoever the mapping says now.
        login = request.identity or await self.remote_identity(request.requester)
        await self._edit(request.target, _without(login), "deescalate")

    async def holders(self, target: Target) -> frozenset[str]:
        """The group's members now."""
        name = group_name(target)
        policy, _ = await self._read(target, "reconcile")
        return frozenset(self._members(policy, target, name, "reconcile"))

    async def remove_holder(self, target: Target, identity: str) -> None:
        """Take a login out of the target's group; succeeds if it is not a member."""
        await self._edit(target, _without(identity), "reconcile")

    async def _edit(self, target: Target, edit: Edit, action: str) -> None:
        name = group_name(target)
        for _ in range(MAX_EDITS):
            policy, etag = await self._read(target, action)
            members = self._members(policy, target, name, action)
            wanted = edit(list(members))
            if wanted == members:
                return
            # Only this group's list is replaced: every other key, in its order, goes back
            # as it was read.
            policy["groups"][name] = wanted
            response = await self._rest.send(
                "POST", self._path, action=action, json=policy, headers={"If-Match": etag}
            )
            if response.is_success:
                return
            if response.status_code != 412:
                raise refusal(SERVICE, action, response)
            log.info("tailscale policy changed while editing it; reading it again")
        raise StrategyError(
            f"{action}: the Tailscale policy file kept changing while symbox edited "
            f"{name} ({MAX_EDITS} attempts)",
            permanent=False,
            reached_target=False,
        )

    async def _read(self, target: Target, action: str) -> tuple[dict[str, Any], str]:
        response = await self._rest.send("GET", self._path, action=action)
        if not response.is_success:
            raise refusal(SERVICE, action, response)
        policy = _json(response)
        etag = response.headers.get("ETag")
        if not isinstance(policy, dict) or not etag:
            raise StrategyError(
                f"{action}: Tailscale answered GET {self._path} without a JSON policy and its ETag",
                reached_target=False,
            )
        return policy, etag

    @staticmethod
    def _members(policy: dict[str, Any], target: Target, name: str, action: str) -> list[str]:
        groups = policy.get("groups")
        members = groups.get(name) if isinstance(groups, dict) else None
        if members is None:
            raise StrategyError(
                f"{action}: the Tailscale policy file has no group {name} (target "
                f"{target.name}); symbox does not create groups",
                permanent=True,
                reached_target=False,
            )
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise StrategyError(
                f"{action}: the Tailscale policy file's group {name} is not a list of login names",
                permanent=True,
                reached_target=False,
            )
        return members


def _without(login: str) -> Edit:
    def remove(members: list[str]) -> list[str]:
        return [member for member in members if not _same(member, login)]

    return remove


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
