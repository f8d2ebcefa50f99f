"""Access tokens a service issues for a while: fetched when first needed, kept until near expiry.

OneLogin and Aptible hand out bearer tokens in exchange for credentials; asking for one
before every call would double the calls and spend the rate limit, so one is kept and
shared until shortly before it expires, or until the service refuses it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
import httpx

from symbox.strategies.rest import RestCaller

# Fetches a new token: (the token, seconds it stays valid); raises StrategyError.
Fetch = Callable[[], Awaitable[tuple[str, float]]]

# A token is renewed this long before the service says it expires, so no call carries
# one that lapses on the way; a token valid for less than twice this is used for half
# its life instead.
MARGIN = 60.0


class CachedToken:
    """One service's current access token, fetched once for all concurrent callers."""

    def __init__(self, fetch: Fetch, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._clock = clock
        self._lock = anyio.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    async def get(self) -> str:
        """The token in force, fetching a new one if there is none or it is about to expire."""
        async with self._lock:
            now = self._clock()
            if self._token is None or now >= self._renew_at:
                token, lifetime = await self._fetch()
                self._token = token
                self._renew_at = now + max(lifetime - MARGIN, lifetime / 2)
            return self._token

    async def headers(self) -> Mapping[str, str]:
        """``Authorization: Bearer <token>``, for RestCaller's ``auth``."""
        return {"Authorization": f"Bearer {await self.get()}"}

    def discard(self, token: str) -> None:
        """Forget ``token`` (the service refused it) so the next call fetches another.

        A token another caller already replaced is left alone: it may be a fresh one.
        """
        if self._token == token:
            self._token = None


def _sent_token(response: httpx.Response) -> str:
    sent: str = response.request.headers.get("Authorization", "")
    return sent.removeprefix("Bearer ")


async def send_authorized(
    rest: RestCaller,
    token: CachedToken,
    method: str,
    path: str,
    *,
    action: str,
    json: Any = None,
    params: Mapping[str, str] | None = None,
) -> httpx.Response:
    """``rest.send`` with the cached token; a 401 fetches a new token and tries once more.

    A token can be revoked, or expire early, before its stated lifetime; a second 401
    is the service refusing the credentials themselves, returned for the caller to judge.
    """
    response = await rest.send(method, path, action=action, json=json, params=params)
    if response.status_code != 401:
        return response
    token.discard(_sent_token(response))
    return await rest.send(method, path, action=action, json=json, params=params)
