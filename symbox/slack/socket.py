"""Slack Socket Mode: receive envelopes, ack each at once, then do the work.

Slack redelivers an envelope that is not acked within 3 seconds, so the ack never waits
for symbox's work: its payload is computed from config alone (a modal's validation
errors, the next view), and everything that touches the store runs afterwards in the
connection's task group. The exception is a drop-down's options (block_suggestion),
which Slack only takes in the ack: those may wait for a modal being prepared, for at most
SUGGESTION_SECONDS, but run no hook themselves.
Redeliveries are recognised by envelope id and only acked.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, Protocol

import anyio
from anyio.abc import TaskGroup
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

# Envelope ids remembered to recognise Slack's redeliveries (it retries for minutes).
SEEN_LIMIT = 4096
# Reconnect backoff when Slack cannot be reached at all (the client handles drops itself).
RECONNECT_FIRST = 1.0
RECONNECT_MAX = 60.0
# How long a drop-down's options may take (Slack waits 3 s for the ack).
SUGGESTION_SECONDS = 2.5


class EnvelopeHandler(Protocol):
    """What the socket calls for each new envelope."""

    def ack_payload(self, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """The payload to ack with; must be quick and must not touch the store."""
        ...

    async def suggest(self, payload: dict[str, Any], wait: float) -> dict[str, Any]:
        """Options for an external select (its answer is the ack); runs no hook."""
        ...

    async def handle(
        self, kind: str, payload: dict[str, Any], acked: dict[str, Any] | None
    ) -> None:
        """Do the envelope's work, after the ack (``acked``: what the ack answered)."""
        ...


class SlackSocket:
    """One Socket Mode connection, kept open (with reconnects) until cancelled."""

    def __init__(
        self,
        app_token: str,
        web: AsyncWebClient,
        handler: EnvelopeHandler,
        *,
        ping_interval: float = 10.0,
    ) -> None:
        self._app_token = app_token
        self._web = web
        self._handler = handler
        self._ping_interval = ping_interval
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._work: TaskGroup | None = None
        self.connected = False
        self.acked = 0
        self.redeliveries = 0

    async def run(self) -> None:
        """Connect and serve envelopes until cancelled; reconnect with backoff."""
        async with anyio.create_task_group() as work:
            self._work = work
            delay = RECONNECT_FIRST
            while True:
                client = SocketModeClient(
                    self._app_token,
                    web_client=self._web,
                    ping_interval=self._ping_interval,
                    auto_reconnect_enabled=True,
                    logger=log,
                )
                client.socket_mode_request_listeners.append(self._on_request)
                try:
                    # slack-sdk's Socket Mode client is untyped.
                    await client.connect()  # type: ignore[no-untyped-call]
                    self.connected = True
                    delay = RECONNECT_FIRST
                    log.info("connected to Slack")
                    await anyio.sleep_forever()
                except Exception as error:
                    # Slack unreachable or refusing the app token: symbox keeps serving
                    # the API and tries again later.
                    log.error("cannot connect to Slack, retrying in %.0f s: %s", delay, error)
                finally:
                    self.connected = False
                    with anyio.CancelScope(shield=True):
                        await client.close()  # type: ignore[no-untyped-call]
                await anyio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX)

    async def _on_request(
        self, client: AsyncBaseSocketModeClient, request: SocketModeRequest
    ) -> None:
        envelope_id = request.envelope_id
        duplicate = envelope_id in self._seen
        payload: dict[str, Any] | None = None
        suggestion = request.type == "interactive" and (
            isinstance(request.payload, dict) and request.payload.get("type") == "block_suggestion"
        )
        if suggestion:
            # Slack shows no options unless the ack carries them: the one ack that may wait
            # (for a modal still being prepared, never for a hook of its own), below Slack's
            # 3 seconds. Repeats are answered again (typing repeats).
            payload = {"options": []}
            with anyio.move_on_after(SUGGESTION_SECONDS):
                try:
                    payload = await self._handler.suggest(
                        request.payload, SUGGESTION_SECONDS - 0.25
                    )
                except Exception:
                    log.exception("answering a block_suggestion failed")
        elif not duplicate:
            self._remember(envelope_id)
            try:
                payload = self._handler.ack_payload(request.type, request.payload)
            except Exception:
                log.exception("building the ack of a %s envelope failed", request.type)
        await client.send_socket_mode_response(
            SocketModeResponse(envelope_id=envelope_id, payload=payload)
        )
        self.acked += 1
        if duplicate and not suggestion:
            self.redeliveries += 1
            return
        if self._work is not None:
            self._work.start_soon(self._handle, request.type, request.payload, payload)

    async def _handle(
        self, kind: str, payload: dict[str, Any], acked: dict[str, Any] | None
    ) -> None:
        try:
            await self._handler.handle(kind, payload, acked)
        except Exception:
            # One bad envelope must never take the connection (or symbox) down.
            log.exception("handling a %s envelope failed", kind)

    def _remember(self, envelope_id: str) -> None:
        self._seen[envelope_id] = None
        if len(self._seen) > SEEN_LIMIT:
            self._seen.popitem(last=False)
