"""`HttpGateway`: hooks' `requests` calls, made by the host to allowed hosts only."""

from __future__ import annotations

from typing import Any

import anyio
import httpx

from symbox.config.hosts import DEFAULT_PORTS, AllowList
from symbox.sandbox.sdk.exceptions import (
    HTTPConnectionError,
    HTTPError,
    HTTPRefusedError,
    HTTPTimeoutError,
)
from symbox.sandbox.sdk.http import METHODS

DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_RESPONSE = 1024 * 1024
MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Headers that would change where or how the request goes, which only the host decides.
_RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer"}
)


def shown(url: httpx.URL) -> str:
    """A URL for messages: no credentials and no query string (either may hold a token)."""
    return str(url.copy_with(username=None, password=None, query=None, fragment=None))


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    return url.scheme, url.host, url.port or DEFAULT_PORTS.get(url.scheme, 0)


class HttpGateway:
    """One scope's outbound calls: allowed hosts, a time bound, a size cap, same-host redirects.

    ``requests_made`` counts requests that left symbox, so a failed strategy call that made
    none is known not to have changed anything.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        allowed: AllowList,
        *,
        max_timeout: float = DEFAULT_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE,
    ) -> None:
        self._client = client
        self._allowed = allowed
        self._max_timeout = max_timeout
        self._max_response = max_response_bytes
        self.requests_made = 0

    async def call(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run `request(args)` for a hook and return the answer as plain data."""
        if method != "request":
            raise HTTPRefusedError(f"requests has no method {method!r}")
        verb = args.get("method")
        if verb not in METHODS:
            raise HTTPRefusedError(f"method {verb!r} is not supported")
        url = self.checked(args.get("url"), args.get("params"))
        headers = _headers(args.get("headers"))
        content = args.get("content")
        if content is not None and type(content) is not bytes:
            raise HTTPRefusedError("the request body must be bytes")
        timeout = args.get("timeout")
        limit = self._max_timeout
        if isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 0:
            limit = min(float(timeout), limit)
        try:
            with anyio.fail_after(limit):
                return await self._follow(verb, url, headers, content, args.get("follow_redirects"))
        except TimeoutError:
            raise HTTPTimeoutError(f"{verb} {shown(url)} took longer than {limit:g} s") from None

    def checked(self, raw: object, params: object = None) -> httpx.URL:
        """The URL to call, or HTTPRefusedError saying why it may not be called."""
        if type(raw) is not str:
            raise HTTPRefusedError("the url must be a str")
        try:
            url = httpx.URL(raw)
            if params:
                if not isinstance(params, list):
                    raise HTTPRefusedError("params must be name/value pairs")
                url = url.copy_merge_params([(str(name), str(value)) for name, value in params])
        except httpx.InvalidURL:
            raise HTTPRefusedError("the url is not a valid URL") from None
        if url.scheme not in DEFAULT_PORTS:
            scheme = url.scheme or "no scheme"
            raise HTTPRefusedError(f"only http:// and https:// URLs may be called, not {scheme}")
        if not url.host:
            raise HTTPRefusedError("the url has no host")
        _, host, port = _origin(url)
        if not self._allowed.allows(host, port):
            raise HTTPRefusedError(
                f"{host}:{port} is not in this integration's allowed_hosts"
                if self._allowed
                else f"{host} is not reachable: no allowed_hosts are configured here"
            )
        return url

    async def _follow(
        self,
        verb: str,
        url: httpx.URL,
        headers: dict[str, str],
        content: bytes | None,
        follow: object,
    ) -> dict[str, Any]:
        for _ in range(MAX_REDIRECTS + 1):
            status, answer = await self._send(verb, url, headers, content)
            location = answer["location"]
            if follow is False or status not in _REDIRECTS or location is None:
                del answer["location"]
                return answer
            target = self._redirect_target(url, location)
            if status == 303 or (status in (301, 302) and verb not in ("GET", "HEAD")):
                verb, content = "GET", None
            url = target
        raise HTTPRefusedError(f"more than {MAX_REDIRECTS} redirects from {shown(url)}")

    def _redirect_target(self, url: httpx.URL, location: str) -> httpx.URL:
        try:
            target = url.join(location)
        except httpx.InvalidURL:
            raise HTTPRefusedError(f"{shown(url)} redirected to an invalid URL") from None
        if _origin(target) != _origin(url):
            # Headers (credentials included) would follow the redirect to the other host.
            raise HTTPRefusedError(
                f"{shown(url)} redirected to {shown(target)}; only redirects to the same "
                "scheme, host and port are followed"
            )
        return self.checked(str(target))

    async def _send(
        self, verb: str, url: httpx.URL, headers: dict[str, str], content: bytes | None
    ) -> tuple[int, dict[str, Any]]:
        request = self._client.build_request(verb, url, headers=headers, content=content)
        self.requests_made += 1
        try:
            response = await self._client.send(request, stream=True)
            try:
                body = await self._read(response, url)
            finally:
                await response.aclose()
        except httpx.TimeoutException:
            raise HTTPTimeoutError(f"{verb} {shown(url)} timed out") from None
        except (httpx.ConnectError, httpx.NetworkError) as error:
            raise HTTPConnectionError(
                f"{verb} {shown(url)} failed: {type(error).__name__}"
            ) from None
        except httpx.HTTPError as error:
            raise HTTPError(f"{verb} {shown(url)} failed: {type(error).__name__}") from None
        return response.status_code, {
            "status_code": response.status_code,
            "reason": response.reason_phrase,
            "url": shown(url),
            "headers": [[name, value] for name, value in response.headers.multi_items()],
            "content": body,
            "location": response.headers.get("location"),
        }

    async def _read(self, response: httpx.Response, url: httpx.URL) -> bytes:
        chunks: list[bytes] = []
        size = 0
        # Decoded bytes are counted, so a small compressed body cannot unpack past the cap.
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self._max_response:
                raise HTTPRefusedError(
                    f"the response from {shown(url)} is larger than {self._max_response} bytes"
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _headers(raw: object) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise HTTPRefusedError("headers must be a dict")
    headers: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise HTTPRefusedError("header names and values must be str")
        if name.lower() in _RESERVED_HEADERS:
            raise HTTPRefusedError(f"the {name} header is set by symbox, not by hooks")
        headers[name] = value
    return headers
