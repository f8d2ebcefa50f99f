"""Okta group membership over its REST API v1, run on the host for hooks."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from symbox.sandbox.integrations.base import MAX_PAGES, RestClient
from symbox.sandbox.sdk.exceptions import OktaError
from symbox.strategies.rest import TokenSource, auth_headers

PAGE_SIZE = 200


class OktaClient:
    """Group membership (by group id or name) and user info via /api/v1/users and /groups."""

    def __init__(self, base_url: str, token: str | TokenSource, client: httpx.AsyncClient) -> None:
        headers, auth = auth_headers("SSWS", token)
        headers["Accept"] = "application/json"
        self._rest = RestClient(base_url, headers, client, OktaError, "Okta", auth)

    async def is_user_in_group(self, email: str, group_name: str) -> bool:
        """Whether the Okta user whose login is `email` belongs to the group `group_name`."""
        response = await self._rest.get(self._rest.url(f"/api/v1/users/{quote(email, safe='@')}"))
        if response.status_code == 404:
            # No Okta account, so no group membership.
            return False
        user = self._rest.json(response)
        user_id = user.get("id") if isinstance(user, dict) else None
        if not isinstance(user_id, str) or not user_id:
            raise OktaError("Okta returned a user without an id")
        groups = await self._all(f"/api/v1/users/{quote(user_id, safe='')}/groups", {})
        return any(_group_name(group) == group_name for group in groups)

    async def get_user_info(self, email: str) -> dict[str, Any]:
        """Okta's user object for the user whose login is `email` (OktaError if none)."""
        response = await self._rest.get(self._rest.url(f"/api/v1/users/{quote(email, safe='@')}"))
        if response.status_code == 404:
            raise OktaError(f"no Okta user has the login {email}")
        user = self._rest.json(response)
        if not isinstance(user, dict):
            raise OktaError("Okta returned a user that is not an object")
        return user

    async def is_user_in_group_id(self, email: str, group_id: str) -> bool:
        """Whether the user whose login is `email` is in the group `group_id`, which must exist."""
        await self._group(group_id)
        response = await self._rest.get(self._rest.url(f"/api/v1/users/{quote(email, safe='@')}"))
        if response.status_code == 404:
            return False
        user = self._rest.json(response)
        user_id = user.get("id") if isinstance(user, dict) else None
        if not isinstance(user_id, str) or not user_id:
            raise OktaError("Okta returned a user without an id")
        groups = await self._all(f"/api/v1/users/{quote(user_id, safe='')}/groups", {})
        return any(group.get("id") == group_id for group in groups)

    async def users_in_group_id(self, group_id: str) -> list[dict[str, Any]]:
        """The members of the group `group_id`, which must exist, as `{"email": ...}` dicts."""
        await self._group(group_id)
        return await self._members(group_id)

    async def _group(self, group_id: str) -> None:
        """Check that the group exists (as Sym does), so a typo is an error, not "nobody"."""
        response = await self._rest.get(
            self._rest.url(f"/api/v1/groups/{quote(group_id, safe='')}")
        )
        if response.status_code == 404:
            raise OktaError(f"no Okta group has the id {group_id!r}")

    async def users_in_group(self, group_name: str) -> list[dict[str, Any]]:
        """The members of the group `group_name`, as `{"email": ...}` dicts."""
        groups = await self._all("/api/v1/groups", {"q": group_name})
        group_id = next(
            (group.get("id") for group in groups if _group_name(group) == group_name), None
        )
        if not isinstance(group_id, str) or not group_id:
            raise OktaError(f"no Okta group is named {group_name!r}")
        return await self._members(group_id)

    async def _members(self, group_id: str) -> list[dict[str, Any]]:
        users = await self._all(f"/api/v1/groups/{quote(group_id, safe='')}/users", {})
        result = []
        for user in users:
            profile = user.get("profile")
            email = (
                profile.get("email") or profile.get("login") if isinstance(profile, dict) else None
            )
            if isinstance(email, str):
                result.append({"email": email})
        return result

    async def _all(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every item of a list endpoint, following Okta's `Link: rel="next"` pagination."""
        url = self._rest.url(path)
        query: dict[str, Any] | None = {**params, "limit": PAGE_SIZE}
        origin = httpx.URL(url).copy_with(path="/", query=None)
        items: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            response = await self._rest.get(url, query)
            if response.status_code == 404:
                raise OktaError(f"Okta GET {httpx.URL(url).path} returned HTTP 404")
            body = self._rest.json(response)
            if not isinstance(body, list):
                raise OktaError(f"Okta GET {httpx.URL(url).path} did not return a list")
            items.extend(item for item in body if isinstance(item, dict))
            following = response.links.get("next", {}).get("url")
            # The token is sent with every page, so only follow links to the same server.
            if not following or httpx.URL(following).copy_with(path="/", query=None) != origin:
                break
            url, query = following, None
        return items


def _group_name(group: dict[str, Any]) -> object:
    profile = group.get("profile")
    return profile.get("name") if isinstance(profile, dict) else None
