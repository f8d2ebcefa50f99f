"""A JSON REST caller for strategies: bounded retries of throttling and 5xx, safe errors."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import anyio
import httpx

from symbox.strategies.base import StrategyError, Throttled

# Enough of a server's message to name the cause, never a whole page.
MESSAGE_LIMIT = 200

# Headers read when a call is made (a token kept in a secret store); raises StrategyError.
HeaderSource = Callable[[], Awaitable[Mapping[str, str]]]
# A token read when a call is made; raises StrategyError.
TokenSource = Callable[[], Awaitable[str]]


def authorization(scheme: str, token: TokenSource) -> HeaderSource:
    """``Authorization: <scheme> <token>``, with the token read at each call."""

    async def read() -> Mapping[str, str]:
        return {"Authorization": f"{scheme} {await token()}"}

    return read


def auth_headers(
    scheme: str, token: str | TokenSource
) -> tuple[dict[str, str], HeaderSource | None]:
    """Static headers for a known token (as fast as ever); else a source read per call."""
    if isinstance(token, str):
        return {"Authorization": f"{scheme} {token}"}, None
    return {}, authorization(scheme, token)


@dataclass(frozen=True)
class RetryTiming:
    """How briefly a strategy retries before reporting a transient failure to the service.

    Longer outages belong to the service's own retry policy, which re-drives revokes with
    backoff; these retries only ride out a throttled second or a restarting server.
    """

    attempts: int = 4
    # Backoff when the server gives no hint: base, 2 x base, 4 x base, ... with jitter.
    base: float = 0.5
    # The longest single wait; a server asking for more fails the call at once.
    cap: float = 5.0


def _retry_after(value: str, now: float) -> float | None:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp() - now
    except (TypeError, ValueError):
        return None


def _reset_at(value: str, now: float) -> float | None:
    try:
        return float(value) - now
    except ValueError:
        return None


class RestCaller:
    """Sends requests to one service with its auth headers; retries what may pass soon.

    429 and 5xx answers and network errors are retried up to ``timing.attempts`` times,
    waiting as ``Retry-After`` or a rate-limit reset header says (``reset_headers`` in
    epoch seconds, ``wait_headers`` in seconds from now), else with jittered backoff.
    Every other answer is returned for the strategy to judge. Still throttled after the
    retries (or asked to wait longer than ``timing.cap``), the error is ``Throttled`` with
    the wait asked for (``throttle_wait`` when the service gave no hint), so the
    strategy's calls back off together. Messages name the method and path, never the
    headers that carry the token.
    """

    def __init__(
        self,
        service: str,
        base_url: str,
        headers: Mapping[str, str],
        client: httpx.AsyncClient,
        *,
        timing: RetryTiming | None = None,
        reset_headers: tuple[str, ...] = (),
        wait_headers: tuple[str, ...] = (),
        throttled: Callable[[httpx.Response], bool] | None = None,
        throttle_wait: float | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        wall: Callable[[], float] = time.time,
        auth: HeaderSource | None = None,
    ) -> None:
        self.service = service
        self._auth = auth
        self._base_url = base_url.rstrip("/")
        self._headers = dict(headers)
        self._client = client
        self._timing = timing or RetryTiming()
        self._reset_headers = reset_headers
        self._wait_headers = wait_headers
        self._throttled = throttled or (lambda response: False)
        self._throttle_wait = throttle_wait
        self._sleep = sleep
        self._wall = wall

    async def send(
        self,
        method: str,
        path: str,
        *,
        action: str,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send until an answer that is not worth retrying; raise StrategyError otherwise.

        ``headers`` add to the caller's own (a precondition such as ``If-Match``); ``data``
        is sent as a form instead of ``json``. The error's ``reached_target`` is true for a
        write that may have been applied.
        """
        url = f"{self._base_url}{path}"
        sent = {**self._headers, **headers} if headers else self._headers
        if self._auth is not None:
            sent = {**sent, **await self._read_auth(action)}
        writes = method not in ("GET", "HEAD")
        last = ""
        # Whether the last answer was throttling, and the wait it asked for (if any).
        throttled, asked = False, None
        for attempt in range(self._timing.attempts):
            response: httpx.Response | None = None
            throttled, asked = False, None
            try:
                response = await self._client.request(
                    method, url, json=json, params=params, headers=sent, data=data
                )
            except httpx.HTTPError as error:
                last = type(error).__name__
            else:
                if not self._retryable(response):
                    return response
                last = f"HTTP {response.status_code}{detail(response)}"
                throttled = response.status_code == 429 or self._throttled(response)
                asked = self._hinted(response)
                if throttled and asked is None:
                    asked = self._throttle_wait
            if attempt + 1 == self._timing.attempts:
                break
            wait = asked if asked is not None else self._backoff(attempt)
            if wait > self._timing.cap:
                last += f"; asked to wait {wait:.0f} s"
                break
            await self._sleep(wait)
        message = f"{action}: {self.service} {method} {path} failed: {last}"
        if throttled:
            raise Throttled(message, retry_after=asked, reached_target=writes)
        raise StrategyError(message, permanent=False, reached_target=writes)

    def path_of(self, url: str) -> str | None:
        """``url``'s path and query under the base URL (for ``send``), or None if elsewhere.

        Services hand out absolute URLs (the next page of a list); the token goes with
        every request, so only those on the service's own address are followed.
        """
        base = httpx.URL(self._base_url)
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL:
            return None
        if (target.scheme, target.host, target.port) != (base.scheme, base.host, base.port):
            return None
        prefix = base.raw_path.decode("ascii").rstrip("/")
        path = target.raw_path.decode("ascii")
        if prefix and not path.startswith(f"{prefix}/"):
            return None
        return path[len(prefix) :]

    async def _read_auth(self, action: str) -> Mapping[str, str]:
        assert self._auth is not None
        try:
            return await self._auth()
        except StrategyError as error:
            # Nothing was sent, so the target is unchanged whatever the error says.
            raise StrategyError(
                f"{action}: {self.service}: {error}",
                permanent=error.permanent,
                reached_target=False,
            ) from None

    def _retryable(self, response: httpx.Response) -> bool:
        status = response.status_code
        return status == 429 or status >= 500 or self._throttled(response)

    def _hinted(self, response: httpx.Response) -> float | None:
        """The seconds ``response`` asks to wait before trying again, if it says."""
        now = self._wall()
        after = response.headers.get("Retry-After")
        hinted = _retry_after(after, now) if after else None
        if hinted is None and response.status_code != 503:
            for name in self._reset_headers:
                value = response.headers.get(name)
                if value:
                    hinted = _reset_at(value, now)
                    break
            for name in self._wait_headers if hinted is None else ():
                value = response.headers.get(name)
                if value:
                    hinted = _reset_at(value, 0.0)
                    break
        return None if hinted is None else max(hinted, 0.0)

    def _backoff(self, attempt: int) -> float:
        backoff: float = self._timing.base * 2.0**attempt
        return backoff * (0.5 + random.random() / 2)


def detail(response: httpx.Response) -> str:
    """``": <message>"`` from a JSON error body (Okta's errorSummary, GitHub's message,
    Google's ``error.message`` or OAuth's ``error: error_description``)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    message = body.get("errorSummary") or body.get("message")
    error = body.get("error")
    if not message and isinstance(error, dict):
        message = error.get("message")
    elif not message and isinstance(error, str):
        described = body.get("error_description")
        message = f"{error}: {described}" if isinstance(described, str) and described else error
    if not isinstance(message, str) or not message:
        return ""
    return ": " + " ".join(message.split())[:MESSAGE_LIMIT]


def refusal(service: str, action: str, response: httpx.Response) -> StrategyError:
    """The permanent error for a 4xx answer that retrying will not change."""
    request = response.request
    where = f"{request.method} {request.url.path}"
    status = response.status_code
    if status == 401:
        cause = "refused the API token"
    elif status == 403:
        cause = f"denied {where}: the API token lacks the permission"
    else:
        cause = f"answered {where} with"
    return StrategyError(
        f"{action}: {service} {cause} (HTTP {status}{detail(response)})",
        permanent=True,
        reached_target=False,
    )
