"""KnowBe4 training and group lookups over its Reporting API v1, run on the host for hooks."""

from __future__ import annotations

from typing import Any

import httpx

from symbox.sandbox.integrations.base import MAX_PAGES, RestClient
from symbox.sandbox.sdk.exceptions import KnowBe4Error
from symbox.strategies.rest import TokenSource, auth_headers

# The Reporting API's largest page.
PAGE_SIZE = 500


def region_url(region: str) -> str:
    """The Reporting API of a KnowBe4 region (``us``, ``eu``, ``ca``, ``uk``, ``de``)."""
    return f"https://{region}.api.knowbe4.com"


class KnowBe4Client:
    """`get_training_enrollments_for_user` and `is_user_in_group`, by the user's email."""

    def __init__(self, base_url: str, token: str | TokenSource, client: httpx.AsyncClient) -> None:
        headers, auth = auth_headers("Bearer", token)
        headers["Accept"] = "application/json"
        self._rest = RestClient(base_url, headers, client, KnowBe4Error, "KnowBe4", auth)

    async def training_enrollments(
        self, email: str, store_purchase_id: int | None, campaign_id: int | None
    ) -> list[dict[str, Any]]:
        """The training enrollments of the KnowBe4 user with `email`, optionally filtered."""
        user_id = await self._user_id(email)
        params: dict[str, Any] = {"user_id": user_id}
        if store_purchase_id is not None:
            params["store_purchase_id"] = store_purchase_id
        if campaign_id is not None:
            params["campaign_id"] = campaign_id
        return await self._all("/v1/training/enrollments", params)

    async def is_user_in_group(self, email: str, group_id: int) -> bool:
        """Whether the KnowBe4 user with `email` is a member of the group `group_id`."""
        members = await self._all(f"/v1/groups/{group_id}/members", {})
        return any(_same_email(member, email) for member in members)

    async def _user_id(self, email: str) -> int:
        # The Reporting API finds users by id only: the user is looked for among all of them.
        for user in await self._all("/v1/users", {}):
            if _same_email(user, email) and isinstance(user.get("id"), int):
                return int(user["id"])
        raise KnowBe4Error(f"no KnowBe4 user has the email {email}")

    async def _all(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every item of a list endpoint, page by page until a page is not full."""
        items: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            query = {**params, "page": page, "per_page": PAGE_SIZE}
            response = await self._rest.get(self._rest.url(path), query)
            if response.status_code == 404:
                raise KnowBe4Error(f"KnowBe4 GET {path} returned HTTP 404")
            body = self._rest.json(response)
            if not isinstance(body, list):
                raise KnowBe4Error(f"KnowBe4 GET {path} did not return a list")
            items.extend(item for item in body if isinstance(item, dict))
            if len(body) < PAGE_SIZE:
                break
        return items


def _same_email(user: dict[str, Any], email: str) -> bool:
    found = user.get("email")
    return isinstance(found, str) and found.lower() == email.lower()
