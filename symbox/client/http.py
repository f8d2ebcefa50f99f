"""A small synchronous client of the Events API, with typed errors."""

from __future__ import annotations

from typing import Any

import httpx

from symbox import __version__

TIMEOUT = 15.0


class ClientError(Exception):
    """A call that did not succeed; the message is what the user reads."""


class Unreachable(ClientError):
    """The server could not be reached at all."""


class Refused(ClientError):
    """The server answered with an error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class Api:
    """Calls one symbox server with one token."""

    def __init__(
        self, server: str, token: str, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.server = server
        self._http = httpx.Client(
            base_url=server,
            headers={
                "Authorization": f"Bearer {token}",
                "User-Agent": f"symbox-client/{__version__}",
            },
            timeout=TIMEOUT,
            transport=transport,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def get(self, path: str, **params: str) -> dict[str, Any]:
        """GET ``path`` and return its JSON object."""
        return self._call("GET", path, params=params)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` as JSON to ``path`` and return the JSON object answered."""
        return self._call("POST", path, json=body)

    def _call(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, **options)
        except httpx.TimeoutException:
            raise Unreachable(f"symbox at {self.server} did not answer in time") from None
        except httpx.HTTPError as error:
            raise Unreachable(f"cannot reach symbox at {self.server}: {error}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success and isinstance(body, dict):
            return body
        if response.is_success:
            raise Refused(response.status_code, "bad_response", f"{self.server} answered no JSON")
        message = body.get("message") if isinstance(body, dict) else None
        code = body.get("code") if isinstance(body, dict) else None
        raise Refused(
            response.status_code,
            str(code or "http_error"),
            str(message or f"{method} {path} answered HTTP {response.status_code}"),
        )

    def pages(self, path: str, **params: str) -> list[dict[str, Any]]:
        """Every run of a paged ``GET /api/v1/runs`` listing, following ``next_cursor``."""
        runs: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = {**params, **({"cursor": cursor} if cursor else {})}
            page = self.get(path, **query)
            runs.extend(page.get("runs") or [])
            cursor = page.get("next_cursor")
            if not cursor:
                return runs
