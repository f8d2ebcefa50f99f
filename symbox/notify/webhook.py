"""The ``webhook`` integration: a JSON POST per notification, signed like the http strategy."""

from __future__ import annotations

import json

import httpx

from symbox.config.model import Integration, Secret
from symbox.notify.model import Queued, SendError
from symbox.notify.render import webhook_body
from symbox.signing import SIGNATURE_HEADER, TRANSIENT_STATUSES, sign

DEFAULT_TIMEOUT = 10.0


class WebhookSender:
    """POSTs a notification to one URL as plain JSON, a Teams card or a Google Chat message."""

    def __init__(self, integration: Integration, client: httpx.AsyncClient) -> None:
        settings = integration.settings
        self._url = str(settings["url"])
        self._format = str(settings.get("format", "json"))
        secret = settings.get("secret")
        self._secret = secret if isinstance(secret, Secret) else None
        timeout = settings.get("timeout")
        self._timeout = float(timeout) if isinstance(timeout, int | float) else DEFAULT_TIMEOUT
        self._client = client
        # Errors name the receiver without credentials or tokens from its URL.
        parsed = httpx.URL(self._url)
        self._shown_url = str(parsed.copy_with(username=None, password=None, query=None))

    async def send(self, queued: Queued) -> None:
        """POST the notification; a 2xx answer is delivered."""
        body = json.dumps(
            webhook_body(self._format, queued.outgoing.message),
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = sign(self._secret.reveal().encode(), body)
        try:
            response = await self._client.post(
                self._url, content=body, headers=headers, timeout=self._timeout
            )
        except httpx.HTTPError as error:
            raise SendError(f"POST to {self._shown_url} failed: {type(error).__name__}") from None
        if response.is_success:
            return
        status = response.status_code
        raise SendError(
            f"POST to {self._shown_url} answered HTTP {status}: {response.text[:200]}",
            permanent=400 <= status < 500 and status not in TRANSIENT_STATUSES,
        )
