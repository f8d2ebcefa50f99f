"""The floor of a Slack ack: slack-sdk's Socket Mode client acking every envelope at once.

``python -m bench.slack_floor API_URL`` (started by ``bench.slack``): the same client class
and connection symbox uses (``slack_sdk.socket_mode.aiohttp.SocketModeClient`` with an
``AsyncWebClient`` on the fake Slack's API), with a listener that answers every envelope
with an empty ack and does nothing else. It prints ``connected`` once connected.
"""

from __future__ import annotations

import sys

import anyio
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack import APP_TOKEN, BOT_TOKEN


async def _ack(client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
    await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))


async def serve(api_url: str) -> None:
    """Connect to the Slack at ``api_url`` and ack every envelope until killed."""
    web = AsyncWebClient(token=BOT_TOKEN, base_url=api_url)
    client = SocketModeClient(APP_TOKEN, web_client=web, auto_reconnect_enabled=False)
    client.socket_mode_request_listeners.append(_ack)
    # slack-sdk's Socket Mode client is untyped.
    await client.connect()  # type: ignore[no-untyped-call]
    print("connected", flush=True)
    await anyio.sleep_forever()


def main() -> None:
    """Command line entry point."""
    anyio.run(serve, sys.argv[1])


if __name__ == "__main__":
    main()
