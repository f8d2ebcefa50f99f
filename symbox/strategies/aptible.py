"""The ``aptible`` strategy: the requester's Aptible user as a member of an Aptible role.

Calls Aptible's auth API with a token from ``POST /tokens`` (the password grant of a user
who may manage the roles), kept until shortly before it expires. Aptible adds an existing
user of the organization to a role directly; someone who is not yet a user there would
need an invitation, which is not access until accepted, so symbox refuses them instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from symbox.config.model import Target
from symbox.strategies.base import GrantRequest, StrategyError
from symbox.strategies.identities import APTIBLE, IdentityMap
from symbox.strategies.rest import RestCaller, TokenSource, detail, refusal
from symbox.strategies.tokens import CachedToken, Fetch, send_authorized

log = logging.getLogger(__name__)

ROLE = "aptible_role"
SERVICE = "Aptible"
TOKEN_PATH = "/tokens"
# The lifetime symbox asks for; the token is renewed a minute before it ends.
TOKEN_LIFETIME = 3600
# Pages of a HAL collection followed at most (Aptible links the next one as _links.next).
MAX_PAGES = 100


def role_id(target: Target) -> str:
    """The target's Aptible role id, or a permanent error."""
    value = target.settings.get("role_id")
    if target.type != ROLE or not isinstance(value, str) or not value:
        raise StrategyError(
            f"target {target.name}: an aptible strategy needs an {ROLE} target with "
            "settings.role_id",
            permanent=True,
            reached_target=False,
        )
    return value


def token_fetch(
    rest: RestCaller, username: str | TokenSource, password: str | TokenSource
) -> Fetch:
    """Fetches an access token with the user's password (``rest`` has no auth of its own).

    The user name may be kept in a secret too (Sym's ``username_secret``); it is then read
    when the token is fetched and left out of messages.
    """

    async def fetch() -> tuple[str, float]:
        secret = password if isinstance(password, str) else await password()
        name = username if isinstance(username, str) else await username()
        shown = f"Aptible user {username}" if isinstance(username, str) else "the Aptible user"
        response = await rest.send(
            "POST",
            TOKEN_PATH,
            action="getting an access token",
            json={
                "grant_type": "password",
                "username": name,
                "password": secret,
                "scope": "manage",
                "expires_in": TOKEN_LIFETIME,
            },
        )
        if response.status_code in (400, 401, 403):
            # The password stays out: only the user name and Aptible's own message.
            raise StrategyError(
                f"the credentials of {shown} were refused "
                f"(HTTP {response.status_code}{detail(response)})",
                permanent=True,
                reached_target=False,
            )
        if not response.is_success:
            raise refusal(SERVICE, "getting an access token", response)
        body = _json(response)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise StrategyError(
                "Aptible answered the token request without an access token",
                reached_target=False,
            )
        return token, _lifetime(body.get("expires_in"))

    return fetch


@dataclass(frozen=True)
class Membership:
    """One membership of a role: its id and its user's id."""

    id: str
    user: str


class AptibleStrategy:
    """Makes the requester's Aptible user a member of a role (``POST
    /roles/{role}/memberships`` with the user's URL) and removes the membership (``DELETE
    /memberships/{id}``); the user is found by email among the organization's users."""

    def __init__(
        self,
        rest: RestCaller,
        token: CachedToken,
        identities: IdentityMap,
        organization: str,
        base_url: str,
    ) -> None:
        self._rest = rest
        self._token = token
        self._identities = identities
        self._organization = organization
        self._base_url = base_url.rstrip("/")

    async def login(self, requester: str) -> str:
        """The requester's Aptible email: the one set for them, else their own."""
        return await self._identities.identity_of(requester, APTIBLE) or requester

    async def remote_identity(self, requester: str, name: str | None = None) -> str:
        """The requester's Aptible user id (found by email ``name`` if given), or an error."""
        email, user = await self._user(requester, "identity lookup", name)
        if user is None:
            where = email if email == requester else f"{email} (set for {requester})"
            raise StrategyError(
                f"no user of Aptible organization {self._organization} has the email "
                f"{where} (an operator can invite them in Aptible, or set another email "
                f"with `symbox users set {requester} --aptible EMAIL`)",
                permanent=True,
                reached_target=False,
            )
        return user

    async def escalate(self, request: GrantRequest) -> None:
        """Add a membership of the role for the user (succeeds if they already have one)."""
        role = role_id(request.target)
        user = request.identity or await self.remote_identity(request.requester)
        if any(m.user == user for m in await self._memberships(request.target, "escalate")):
            return
        path = f"/roles/{quote(role, safe='')}/memberships"
        url = f"{self._base_url}/users/{quote(user, safe='')}"
        response = await send_authorized(
            self._rest, self._token, "POST", path, action="escalate", json={"user_url": url}
        )
        if response.is_success:
            return
        if response.status_code == 404:
            raise self._no_role(request.target, "escalate")
        raise refusal(SERVICE, f"escalate (role {role})", response)

    async def deescalate(self, request: GrantRequest) -> None:
        """Remove the user's membership of the role (succeeds if there is none)."""
        role_id(request.target)
        # The user the grant was made to, if recorded; else whoever the email finds now.
        user = request.identity or (await self._user(request.requester, "deescalate"))[1]
        if user is None:
            log.warning(
                "requester has no Aptible user; nothing to revoke", extra={"run_id": request.run_id}
            )
            return
        await self._remove(request.target, user, "deescalate")

    async def holders(self, target: Target) -> frozenset[str]:
        """The ids of the users with a membership of the role now."""
        return frozenset(m.user for m in await self._memberships(target, "reconcile"))

    async def remove_holder(self, target: Target, identity: str) -> None:
        """Remove an Aptible user's (by id) membership of the role; succeeds if there is none."""
        await self._remove(target, identity, "reconcile")

    async def _remove(self, target: Target, user: str, action: str) -> None:
        role = role_id(target)
        for membership in await self._memberships(target, action):
            if membership.user != user:
                continue
            path = f"/memberships/{quote(membership.id, safe='')}"
            response = await send_authorized(self._rest, self._token, "DELETE", path, action=action)
            # A 404: removed meanwhile by someone else, which is what was wanted.
            if not response.is_success and response.status_code != 404:
                raise refusal(SERVICE, f"{action} (role {role})", response)

    async def _memberships(self, target: Target, action: str) -> list[Membership]:
        role = role_id(target)
        found: list[Membership] = []
        for item in await self._collection(
            f"/roles/{quote(role, safe='')}/memberships", "memberships", target, action
        ):
            user = _last_segment(_link(item, "user"))
            if "id" in item and user:
                found.append(Membership(str(item["id"]), user))
        return found

    async def _user(
        self, requester: str, action: str, name: str | None = None
    ) -> tuple[str, str | None]:
        email = name or await self.login(requester)
        path = f"/organizations/{quote(self._organization, safe='')}/users"
        users = await self._collection(path, "users", None, action)
        ids = {
            str(user["id"])
            for user in users
            if "id" in user and str(user.get("email") or "").casefold() == email.casefold()
        }
        return email, ids.pop() if len(ids) == 1 else None

    async def _collection(
        self, path: str, key: str, target: Target | None, action: str
    ) -> list[dict[str, Any]]:
        """Every item of a HAL collection (``_embedded.<key>``), following ``_links.next``."""
        items: list[dict[str, Any]] = []
        next_path: str | None = path
        for _ in range(MAX_PAGES):
            assert next_path is not None
            response = await send_authorized(
                self._rest, self._token, "GET", next_path, action=action
            )
            if response.status_code == 404:
                if target is not None:
                    raise self._no_role(target, action)
                raise StrategyError(
                    f"{action}: Aptible has no organization {self._organization} "
                    "(the integration's external_id)",
                    permanent=True,
                    reached_target=False,
                )
            if not response.is_success:
                where = f"role {role_id(target)}" if target is not None else self._organization
                raise refusal(SERVICE, f"{action} ({where})", response)
            body = _json(response)
            embedded = body.get("_embedded") if isinstance(body, dict) else None
            page = embedded.get(key) if isinstance(embedded, dict) else None
            if not isinstance(page, list):
                raise StrategyError(
                    f"{action}: Aptible listed {key} in an unexpected shape",
                    reached_target=False,
                )
            items.extend(item for item in page if isinstance(item, dict))
            href = _link(body, "next")
            next_path = self._rest.path_of(href) if href else None
            if next_path is None:
                # No next page, or one on another address: the token does not go there.
                return items
        raise StrategyError(
            f"{action}: Aptible's {key} list ran past {MAX_PAGES} pages; symbox stopped",
            permanent=True,
            reached_target=False,
        )

    @staticmethod
    def _no_role(target: Target, action: str) -> StrategyError:
        return StrategyError(
            f"{action}: Aptible has no role {target.settings.get('role_id')} "
            f"(target {target.name})",
            permanent=True,
            reached_target=False,
        )


def _link(item: Any, name: str) -> str | None:
    links = item.get("_links") if isinstance(item, dict) else None
    link = links.get(name) if isinstance(links, dict) else None
    href = link.get("href") if isinstance(link, dict) else None
    return href if isinstance(href, str) and href else None


def _last_segment(href: str | None) -> str | None:
    if not href:
        return None
    segment = httpx.URL(href).path.rstrip("/").rsplit("/", 1)[-1]
    return segment or None


def _lifetime(value: Any) -> float:
    # Aptible has sent expires_in as a number and as a numeric string.
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return float(TOKEN_LIFETIME)
    return seconds if seconds > 0 else float(TOKEN_LIFETIME)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
