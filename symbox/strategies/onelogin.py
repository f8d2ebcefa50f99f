"""The ``onelogin`` strategy: membership of the requester's OneLogin user in a OneLogin role.

Calls OneLogin's API v2 with an access token from ``POST /auth/oauth2/v2/token`` (client
credentials), kept until shortly before it expires.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import httpx

from symbox.config.model import Target
from symbox.strategies.base import GrantRequest, StrategyError
from symbox.strategies.identities import ONELOGIN, IdentityMap
from symbox.strategies.rest import RestCaller, TokenSource, detail, refusal
from symbox.strategies.tokens import CachedToken, Fetch, send_authorized

log = logging.getLogger(__name__)

ROLE = "onelogin_role"
SERVICE = "OneLogin"
TOKEN_PATH = "/auth/oauth2/v2/token"
# OneLogin sends the seconds left until its rate-limit window resets (not a timestamp).
WAIT_HEADERS = ("X-RateLimit-Reset",)
# Role members listed per page (OneLogin's most), and pages at most.
PAGE_SIZE = 100
MAX_PAGES = 500


def role_id(target: Target) -> str:
    """The target's OneLogin role id, or a permanent error."""
    value = target.settings.get("role_id")
    if target.type != ROLE or not isinstance(value, str) or not value:
        raise StrategyError(
            f"target {target.name}: a onelogin strategy needs a {ROLE} target with "
            "settings.role_id",
            permanent=True,
            reached_target=False,
        )
    return value


def token_fetch(rest: RestCaller, client_id: str, client_secret: str | TokenSource) -> Fetch:
    """Fetches an access token for the API credential pair (``rest`` has no auth of its own)."""

    async def fetch() -> tuple[str, float]:
        secret = client_secret if isinstance(client_secret, str) else await client_secret()
        # OneLogin's own form of the credentials header, as its token API documents it.
        credentials = {"Authorization": f"client_id:{client_id}, client_secret:{secret}"}
        response = await rest.send(
            "POST",
            TOKEN_PATH,
            action="getting an access token",
            json={"grant_type": "client_credentials"},
            headers=credentials,
        )
        if response.status_code in (400, 401, 403):
            # The secret stays out: only the client id and OneLogin's own message.
            raise StrategyError(
                f"the API credentials of client {client_id} were refused "
                f"(HTTP {response.status_code}{detail(response)})",
                permanent=True,
                reached_target=False,
            )
        if not response.is_success:
            raise refusal(SERVICE, "getting an access token", response)
        body = _json(response)
        token = body.get("access_token") if isinstance(body, dict) else None
        lifetime = body.get("expires_in") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token or not isinstance(lifetime, int | float):
            raise StrategyError(
                "OneLogin answered the token request without an access token and its expiry",
                reached_target=False,
            )
        return token, float(lifetime)

    return fetch


class OneLoginStrategy:
    """Adds the requester's OneLogin user to a role (``POST /api/2/roles/{role}/users``)
    and removes it (``DELETE``, same path); the user is found by email, or by the email
    or username set with ``symbox users``."""

    def __init__(self, rest: RestCaller, token: CachedToken, identities: IdentityMap) -> None:
        self._rest = rest
        self._token = token
        self._identities = identities

    async def login(self, requester: str) -> str:
        """The requester's OneLogin email or username: the one set for them, else their email."""
        return await self._identities.identity_of(requester, ONELOGIN) or requester

    async def remote_identity(self, requester: str, name: str | None = None) -> str:
        """The requester's OneLogin user id (found by ``name`` if given), or a permanent error."""
        login, user = await self._user(requester, "identity lookup", name)
        if user is None:
            where = (
                f"the email {login}"
                if login == requester
                else f"the email or username {login} (set for {requester})"
            )
            raise StrategyError(
                f"no OneLogin user has {where} (an operator can set another email or username "
                f"with `symbox users set {requester} --onelogin LOGIN`)",
                permanent=True,
                reached_target=False,
            )
        return user

    async def escalate(self, request: GrantRequest) -> None:
        """Add the user to the role (succeeds if they already hold it)."""
        role = role_id(request.target)
        user = request.identity or await self.remote_identity(request.requester)
        response = await self._send("POST", _members(role), "escalate", [_user_id(user)])
        if response.is_success:
            return
        if response.status_code == 404:
            await self._role_exists(request.target, "escalate")
        raise refusal(SERVICE, f"escalate (role {role})", response)

    async def deescalate(self, request: GrantRequest) -> None:
        """Remove the user from the role (succeeds if they do not hold it, or are gone)."""
        role = role_id(request.target)
        # The user the grant was made to, if recorded; else whoever the login finds now.
        user = request.identity or (await self._user(request.requester, "deescalate"))[1]
        if user is None:
            # A deleted OneLogin user holds no role.
            log.warning(
                "requester has no OneLogin user; nothing to revoke",
                extra={"run_id": request.run_id},
            )
            return
        await self._remove(request.target, role, user, "deescalate")

    async def holders(self, target: Target) -> frozenset[str]:
        """The ids of the role's users now, following OneLogin's ``After-Cursor`` pages."""
        role = role_id(target)
        params = {"limit": str(PAGE_SIZE)}
        found: set[str] = set()
        for _ in range(MAX_PAGES):
            response = await send_authorized(
                self._rest, self._token, "GET", _members(role), action="reconcile", params=params
            )
            if response.status_code == 404:
                raise self._no_role(target, "reconcile")
            if not response.is_success:
                raise refusal(SERVICE, f"reconcile (role {role})", response)
            users = _json(response)
            if not isinstance(users, list):
                raise StrategyError(
                    f"reconcile: OneLogin listed the users of role {role} in an unexpected shape",
                    reached_target=False,
                )
            found.update(
                str(user["id"]) for user in users if isinstance(user, dict) and "id" in user
            )
            after = response.headers.get("After-Cursor")
            if not after or not users:
                return frozenset(found)
            params = {"limit": str(PAGE_SIZE), "cursor": after}
        raise StrategyError(
            f"reconcile: OneLogin role {role} has more than {MAX_PAGES * PAGE_SIZE} users; "
            "symbox stopped listing them",
            permanent=True,
            reached_target=False,
        )

    async def remove_holder(self, target: Target, identity: str) -> None:
        """Take a OneLogin user (by id) out of the target's role; succeeds if not a member."""
        await self._remove(target, role_id(target), identity, "reconcile")

    async def _remove(self, target: Target, role: str, user: str, action: str) -> None:
        response = await self._send("DELETE", _members(role), action, [_user_id(user)])
        if response.is_success:
            return
        if response.status_code != 404:
            raise refusal(SERVICE, f"{action} (role {role})", response)
        # A 404 may mean the user is gone or not a member: only a missing role is an error.
        await self._role_exists(target, action)

    async def _role_exists(self, target: Target, action: str) -> None:
        role = role_id(target)
        path = f"/api/2/roles/{quote(role, safe='')}"
        found = await send_authorized(self._rest, self._token, "GET", path, action=action)
        if found.status_code == 404:
            raise self._no_role(target, action)
        if not found.is_success:
            raise refusal(SERVICE, f"{action} (role {role})", found)

    async def _send(self, method: str, path: str, action: str, body: Any) -> httpx.Response:
        return await send_authorized(
            self._rest, self._token, method, path, action=action, json=body
        )

    async def _user(
        self, requester: str, action: str, name: str | None = None
    ) -> tuple[str, str | None]:
        login = name or await self.login(requester)
        # An email is looked up as one, then as a username (which may be an email too).
        fields = ("email", "username") if "@" in login else ("username",)
        for field in fields:
            user = await self._find(login, field, action)
            if user is not None:
                return login, user
        return login, None

    async def _find(self, login: str, field: str, action: str) -> str | None:
        response = await send_authorized(
            self._rest, self._token, "GET", "/api/2/users", action=action, params={field: login}
        )
        if not response.is_success:
            raise refusal(SERVICE, f"{action} ({login})", response)
        users = _json(response)
        if not isinstance(users, list):
            raise StrategyError(
                f"{action}: OneLogin answered the user lookup in an unexpected shape",
                reached_target=False,
            )
        # OneLogin's filters may match more loosely; only the exact login (any case) counts.
        ids = {
            str(user["id"])
            for user in users
            if isinstance(user, dict)
            and "id" in user
            and str(user.get(field) or "").casefold() == login.casefold()
        }
        if len(ids) > 1:
            raise StrategyError(
                f"{action}: several OneLogin users have the {field} {login}",
                permanent=True,
                reached_target=False,
            )
        return ids.pop() if ids else None

    @staticmethod
    def _no_role(target: Target, action: str) -> StrategyError:
        return StrategyError(
            f"{action}: OneLogin has no role {target.settings.get('role_id')} "
            f"(target {target.name})",
            permanent=True,
            reached_target=False,
        )


def _members(role: str) -> str:
    return f"/api/2/roles/{quote(role, safe='')}/users"


def _user_id(user: str) -> int | str:
    # OneLogin's user ids are numbers, and its API takes them as JSON numbers.
    return int(user) if user.isdigit() else user


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
