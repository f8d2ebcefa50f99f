"""PagerDuty on-call lookups over its REST API v2, run on the host for hooks."""

from __future__ import annotations

from typing import Any

import httpx

from symbox.sandbox.integrations.base import MAX_PAGES, RestClient
from symbox.sandbox.sdk.exceptions import PagerDutyError
from symbox.strategies.rest import TokenSource, auth_headers

PAGE_SIZE = 100


class PagerDutyClient:
    """`is_on_call` and `users_on_call` via GET /users, /schedules and /oncalls."""

    def __init__(self, base_url: str, token: str | TokenSource, client: httpx.AsyncClient) -> None:
        headers, auth = auth_headers("Token", _token_param(token))
        headers["Accept"] = "application/vnd.pagerduty+json;version=2"
        self._rest = RestClient(base_url, headers, client, PagerDutyError, "PagerDuty", auth)

    async def is_on_call(self, email: str, schedule_name: str | None = None) -> bool:
        """Whether the PagerDuty user with `email` is on call (in `schedule_name` if given)."""
        user_id = await self._user_id(email)
        if user_id is None:
            # Someone without a PagerDuty account is not on call.
            return False
        params: dict[str, Any] = {"user_ids[]": [user_id]}
        if schedule_name is not None:
            params["schedule_ids[]"] = [await self._schedule_id(schedule_name)]
        return bool(await self._oncalls(params, limit=1))

    async def users_on_call(self, schedule_name: str | None = None) -> list[dict[str, Any]]:
        """The users on call (in `schedule_name` if given), as `{"email": ...}` dicts."""
        params: dict[str, Any] = {"include[]": ["users"]}
        if schedule_name is not None:
            params["schedule_ids[]"] = [await self._schedule_id(schedule_name)]
        emails: list[str] = []
        for oncall in await self._oncalls(params):
            user = oncall.get("user") if isinstance(oncall, dict) else None
            email = user.get("email") if isinstance(user, dict) else None
            if isinstance(email, str) and email not in emails:
                emails.append(email)
        return [{"email": email} for email in emails]

    async def _user_id(self, email: str) -> str | None:
        body = await self._body("/users", {"query": email})
        for user in _items(body, "users"):
            if str(user.get("email", "")).lower() == email.lower() and user.get("id"):
                return str(user["id"])
        return None

    async def _schedule_id(self, name: str) -> str:
        body = await self._body("/schedules", {"query": name})
        for schedule in _items(body, "schedules"):
            if schedule.get("name") == name and schedule.get("id"):
                return str(schedule["id"])
        raise PagerDutyError(f"no PagerDuty schedule is named {name!r}")

    async def _oncalls(self, params: dict[str, Any], limit: int = PAGE_SIZE) -> list[Any]:
        """Every on-call entry, following PagerDuty's offset pagination."""
        result: list[Any] = []
        for page in range(MAX_PAGES):
            body = await self._body("/oncalls", {**params, "limit": limit, "offset": page * limit})
            entries = _items(body, "oncalls")
            result.extend(entries)
            if limit == 1 and result:
                break
            if not (isinstance(body, dict) and body.get("more") is True and entries):
                break
        return result

    async def _body(self, path: str, params: dict[str, Any]) -> Any:
        response = await self._rest.get(self._rest.url(path), params)
        if response.status_code == 404:
            raise PagerDutyError(f"PagerDuty GET {path} returned HTTP 404")
        return self._rest.json(response)


def _items(body: Any, key: str) -> list[dict[str, Any]]:
    items = body.get(key) if isinstance(body, dict) else None
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _token_param(token: str | TokenSource) -> str | TokenSource:
    """PagerDuty's scheme is ``Token token=<key>``: the key goes after ``token=``."""
    if isinstance(token, str):
        return f"token={token}"

    async def read() -> str:
        return f"token={await token()}"

    return read
