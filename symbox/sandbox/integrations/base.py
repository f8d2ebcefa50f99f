"""The host-side integration interface the hook pool calls, and shared HTTP helpers."""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from symbox.sandbox.sdk.exceptions import SymException
from symbox.strategies.base import StrategyError
from symbox.strategies.rest import HeaderSource

# Okta and PagerDuty paginate; a bound keeps a misbehaving server from looping the host.
MAX_PAGES = 50


class IntegrationProvider(Protocol):
    """Runs one integration call for a hook, with credentials the hook never sees."""

    async def call(self, integration: str, method: str, args: dict[str, Any]) -> Any:
        """Return plain data, or raise a `SymException` subclass the hook will see."""
        ...


class RestClient:
    """A JSON client for one service: base URL, auth header, and errors without secrets."""

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        client: httpx.AsyncClient,
        error: type[SymException],
        service: str,
        auth: HeaderSource | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._headers = headers
        self._auth = auth
        self._client = client
        self._error = error
        self._service = service

    def url(self, path: str) -> str:
        """The absolute URL of `path` under the base URL."""
        return f"{self._base_url}{path}"

    async def get(self, url: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """GET `url` (absolute); raise the service's SDK error on failure or a non-2xx status."""
        # Messages name the method and path only: never the headers, which carry the token.
        where = httpx.URL(url).path
        headers = self._headers
        if self._auth is not None:
            try:
                headers = {**headers, **await self._auth()}
            except StrategyError as error:
                raise self._error(f"{self._service}: {error}") from None
        try:
            response = await self._client.get(url, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise self._error(
                f"{self._service} request GET {where} failed: {type(exc).__name__}"
            ) from None
        if response.status_code == 404:
            return response
        if not response.is_success:
            raise self._error(f"{self._service} GET {where} returned HTTP {response.status_code}")
        return response

    def json(self, response: httpx.Response) -> Any:
        """The response body as JSON, or the service's SDK error."""
        try:
            return response.json()
        except ValueError:
            where = response.request.url.path
            raise self._error(f"{self._service} GET {where} returned invalid JSON") from None
