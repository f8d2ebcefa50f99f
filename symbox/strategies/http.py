"""The ``http`` strategy (a symbox extension): a signed JSON POST per grant and revoke."""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime

import httpx

from symbox.audit.entry import redact
from symbox.config.durations import iso
from symbox.config.model import Secret
from symbox.signing import SIGNATURE_HEADER, TRANSIENT_STATUSES, sign
from symbox.strategies.base import GrantRequest, StrategyError, Throttled


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """A ``Retry-After`` header's wait in seconds (it may be a number or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


class HttpStrategy:
    """POSTs ``{action, run, requester, target, fields, timestamp}`` to a URL; 2xx is done."""

    def __init__(self, url: str, signing_secret: Secret, client: httpx.AsyncClient) -> None:
        self._url = url
        self._secret = signing_secret
        self._client = client
        # Errors name the receiver without any credentials written into its URL.
        parsed = httpx.URL(url)
        self._shown_url = str(parsed.copy_with(username=None, password=None, query=None))

    async def escalate(self, request: GrantRequest) -> None:
        """Ask the receiver to grant access."""
        await self._send("escalate", request)

    async def deescalate(self, request: GrantRequest) -> None:
        """Ask the receiver to revoke access."""
        await self._send("deescalate", request)

    async def _send(self, action: str, request: GrantRequest) -> None:
        payload = {
            "action": action,
            "idempotency_key": f"{request.run_id}:{action}",
            "run": {"id": request.run_id, "flow": request.flow},
            "requester": {"email": request.requester},
            "target": {
                "name": request.target.name,
                "type": request.target.type,
                "settings": redact(request.target.settings),
            },
            "fields": redact(dict(request.fields)),
            "timestamp": iso(request.at),
        }
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._secret.reveal().encode(), body),
        }
        try:
            response = await self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise StrategyError(
                f"{action} to {self._shown_url} failed: {type(error).__name__}"
            ) from None
        if response.is_success:
            return
        status = response.status_code
        message = f"{action} to {self._shown_url} answered HTTP {status}: {response.text[:200]}"
        if status == 429:
            # Refused as one too many: the receiver changed nothing.
            retry_after = retry_after_seconds(response.headers.get("Retry-After"), time.time())
            raise Throttled(message, retry_after=retry_after)
        permanent = 400 <= status < 500 and status not in TRANSIENT_STATUSES
        raise StrategyError(message, permanent=permanent)
