"""The ``okta`` strategy: membership of the requester's Okta user in an Okta group."""

from __future__ import annotations

import logging
from urllib.parse import quote

import httpx

from symbox.config.model import Target
from symbox.strategies.base import GrantRequest, StrategyError
from symbox.strategies.identities import OKTA, IdentityMap
from symbox.strategies.rest import RestCaller, refusal

log = logging.getLogger(__name__)

GROUP = "okta_group"
SERVICE = "Okta"
# Okta sends the end of the rate-limit window (epoch seconds) with every answer.
RESET_HEADERS = ("X-Rate-Limit-Reset",)
# Members listed per page, and pages at most (Okta allows 200 a page).
PAGE_SIZE = 200
MAX_PAGES = 500


def _group(target: Target) -> str:
    value = target.settings.get("group_id")
    if target.type != GROUP or not isinstance(value, str) or not value:
        raise StrategyError(
            f"target {target.name}: an okta strategy needs an {GROUP} target with "
            "settings.group_id",
            permanent=True,
            reached_target=False,
        )
    return quote(value, safe="")


class OktaStrategy:
    """Adds the requester's Okta user to a group (``PUT /api/v1/groups/{g}/users/{u}``)
    and removes it (``DELETE``); the user is found by login, which is the email unless
    ``symbox users`` set another."""

    def __init__(self, rest: RestCaller, identities: IdentityMap) -> None:
        self._rest = rest
        self._identities = identities

    async def login(self, requester: str) -> str:
        """The requester's Okta login: the one set for them, else their email."""
        return await self._identities.identity_of(requester, OKTA) or requester

    async def remote_identity(self, requester: str, name: str | None = None) -> str:
        """The requester's Okta user id (by login ``name`` if given), or a permanent error."""
        login, user = await self._user(requester, "identity lookup", name)
        if user is None:
            raise StrategyError(
                f"no Okta user has the login {login} (an operator can set another with "
                f"`symbox users set {requester} --okta LOGIN`)",
                permanent=True,
                reached_target=False,
            )
        return user

    async def escalate(self, request: GrantRequest) -> None:
        """Add the user to the group (succeeds if they already belong)."""
        group = _group(request.target)
        user = request.identity or await self.remote_identity(request.requester)
        path = f"/api/v1/groups/{group}/users/{quote(user, safe='')}"
        response = await self._rest.send("PUT", path, action="escalate")
        if response.is_success:
            return
        if response.status_code == 404:
            raise self._no_group(request.target, "escalate")
        raise refusal(SERVICE, "escalate", response)

    async def deescalate(self, request: GrantRequest) -> None:
        """Remove the user from the group (succeeds if they are not in it, or gone)."""
        group = _group(request.target)
        # The user the grant was made to, if recorded; else whoever the login says now.
        user = request.identity or (await self._user(request.requester, "deescalate"))[1]
        if user is None:
            # A deleted Okta user belongs to no group.
            log.warning(
                "requester has no Okta user; nothing to revoke", extra={"run_id": request.run_id}
            )
            return
        path = f"/api/v1/groups/{group}/users/{quote(user, safe='')}"
        response = await self._rest.send("DELETE", path, action="deescalate")
        if response.is_success:
            return
        if response.status_code != 404:
            raise refusal(SERVICE, "deescalate", response)
        # A 404 may mean "not a member": only a missing group is an error.
        found = await self._rest.send("GET", f"/api/v1/groups/{group}", action="deescalate")
        if found.status_code == 404:
            raise self._no_group(request.target, "deescalate")
        if not found.is_success:
            raise refusal(SERVICE, "deescalate", found)

    async def holders(self, target: Target) -> frozenset[str]:
        """The ids of the group's members now (following Okta's ``Link: rel="next"``)."""
        group = _group(target)
        path = f"/api/v1/groups/{group}/users"
        params: dict[str, str] | None = {"limit": str(PAGE_SIZE)}
        found: set[str] = set()
        for _ in range(MAX_PAGES):
            response = await self._rest.send("GET", path, action="reconcile", params=params)
            if response.status_code == 404:
                raise self._no_group(target, "reconcile")
            if not response.is_success:
                raise refusal(SERVICE, "reconcile", response)
            try:
                users = response.json()
            except ValueError:
                users = None
            if not isinstance(users, list):
                raise StrategyError(
                    "reconcile: Okta listed group members in an unexpected shape",
                    reached_target=False,
                )
            found.update(
                str(user["id"]) for user in users if isinstance(user, dict) and "id" in user
            )
            after = response.links.get("next", {}).get("url")
            if not after:
                break
            # Okta's next link carries the cursor; the path stays this group's.
            params = dict(httpx.URL(after).params)
        return frozenset(found)

    async def remove_holder(self, target: Target, identity: str) -> None:
        """Take an Okta user (by id) out of the target's group; succeeds if not a member."""
        group = _group(target)
        path = f"/api/v1/groups/{group}/users/{quote(identity, safe='')}"
        response = await self._rest.send("DELETE", path, action="reconcile")
        if not response.is_success and response.status_code != 404:
            raise refusal(SERVICE, "reconcile", response)

    async def _user(
        self, requester: str, action: str, name: str | None = None
    ) -> tuple[str, str | None]:
        login = name or await self.login(requester)
        response = await self._rest.send(
            "GET", f"/api/v1/users/{quote(login, safe='@')}", action=action
        )
        if response.status_code == 404:
            return login, None
        if not response.is_success:
            raise refusal(SERVICE, action, response)
        try:
            body = response.json()
        except ValueError:
            body = None
        user = body.get("id") if isinstance(body, dict) else None
        if not isinstance(user, str) or not user:
            raise StrategyError(
                f"{action}: Okta answered the user lookup without a user id",
                reached_target=False,
            )
        return login, user

    @staticmethod
    def _no_group(target: Target, action: str) -> StrategyError:
        return StrategyError(
            f"{action}: Okta has no group {target.settings.get('group_id')} (target {target.name})",
            permanent=True,
            reached_target=False,
        )
