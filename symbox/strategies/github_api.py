"""GitHub's REST API as symbox calls it: headers, rate limits and paged lists.

Shared by the ``github`` strategy and the host's side of hooks' GitHub calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

from symbox.strategies.base import StrategyError
from symbox.strategies.rest import RestCaller, RetryTiming, TokenSource, authorization, refusal

SERVICE = "GitHub"
GITHUB_API = "https://api.github.com"
API_VERSION = "2022-11-28"
RESET_HEADERS = ("X-RateLimit-Reset",)
# GitHub's largest page.
PAGE_SIZE = 100


# GitHub's advice when a secondary rate limit answer says nothing of when to retry.
SECONDARY_LIMIT_WAIT = 60.0


def throttled(response: httpx.Response) -> bool:
    """GitHub answers an exhausted rate limit with 403 (or 429): its headers say so, or,
    for a secondary rate limit, only its message may."""
    if response.status_code != 403:
        return False
    if response.headers.get("X-RateLimit-Remaining") == "0" or "Retry-After" in response.headers:
        return True
    return "secondary rate limit" in response.text.lower()


def headers(token: str | None) -> dict[str, str]:
    """The headers of every GitHub API call (without Authorization when ``token`` is None)."""
    sent = {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
        "User-Agent": "symbox",
    }
    return sent if token is None else {"Authorization": f"Bearer {token}", **sent}


def rest_caller(
    base_url: str | None,
    token: str | TokenSource,
    client: httpx.AsyncClient,
    timing: RetryTiming | None = None,
) -> RestCaller:
    """A caller for GitHub's API at ``base_url`` (GitHub's public API when None)."""
    static = token if isinstance(token, str) else None
    return RestCaller(
        SERVICE,
        base_url or GITHUB_API,
        headers(static),
        client,
        timing=timing,
        reset_headers=RESET_HEADERS,
        throttled=throttled,
        throttle_wait=SECONDARY_LIMIT_WAIT,
        auth=None if isinstance(token, str) else authorization("Bearer", token),
    )


async def paged(
    rest: RestCaller,
    path: str,
    params: Mapping[str, str],
    *,
    action: str,
    missing: Callable[[], Exception],
    max_pages: int,
) -> list[dict[str, Any]]:
    """Every item of a paged GitHub list, following its ``Link: rel="next"`` headers.

    A 404 raises ``missing()``; other refusals, a body that is not a list, a next page
    on another server (the token goes with every request) or more than ``max_pages``
    pages raise StrategyError, so a caller never acts on part of a list.
    """
    found: list[dict[str, Any]] = []
    where = path
    query: Mapping[str, str] | None = {**params, "per_page": str(PAGE_SIZE)}
    for _ in range(max_pages):
        response = await rest.send("GET", where, action=action, params=query)
        if response.status_code == 404:
            raise missing()
        if not response.is_success:
            raise refusal(SERVICE, action, response)
        try:
            items = response.json()
        except ValueError:
            items = None
        if not isinstance(items, list):
            raise StrategyError(
                f"{action}: GitHub listed {path} in an unexpected shape", reached_target=False
            )
        found.extend(item for item in items if isinstance(item, dict))
        following = response.links.get("next", {}).get("url")
        if not following:
            return found
        following_path = rest.path_of(following)
        if following_path is None:
            raise StrategyError(
                f"{action}: GitHub's next page of {path} is not under the API's address",
                reached_target=False,
            )
        where, query = following_path, None
    raise StrategyError(
        f"{action}: GitHub listed more than {max_pages} pages of {path}", reached_target=False
    )
