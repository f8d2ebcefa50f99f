"""Slack: `/sym` over Socket Mode, request messages with buttons, and DMs.

An adapter, and a notification channel. May import: ``config``, ``engine``, ``runs``,
``store``, ``sandbox``, ``flowhooks``, the notification plan (``notify.plan``,
``notify.model``) and the shared top-level modules; never ``api`` or ``client``.
"""

from __future__ import annotations

import aiohttp
import anyio
from slack_sdk.web.async_client import AsyncWebClient

from symbox.clock import Clock
from symbox.config.model import Config, Integration, Secret
from symbox.runs.refusals import Refusals
from symbox.runs.service import RunService
from symbox.slack.handlers import SlackHandlers
from symbox.slack.notifier import SlackNotifier
from symbox.slack.outbox import SlackOutbox
from symbox.slack.socket import SlackSocket
from symbox.slack.users import SlackDirectory
from symbox.store.reader import Reader
from symbox.store.writer import Writer

SLACK_API = "https://slack.com/api/"


def slack_integration(config: Config) -> Integration | None:
    """The ``slack`` integration symbox connects with, if the config has one with tokens."""
    for integration in config.integrations.values():
        settings = integration.settings
        if integration.type == "slack" and isinstance(settings.get("bot_token"), Secret):
            return integration
    return None


class SlackApp:
    """Slack's parts: the Web API client, the user directory, the notifier and the socket."""

    def __init__(
        self, integration: Integration, config: Config, writer: Writer, reader: Reader, clock: Clock
    ) -> None:
        # The integration's key names the request messages' rows in the outbox.
        self.key = integration.key
        settings = integration.settings
        bot_token = settings["bot_token"]
        app_token = settings.get("app_token")
        assert isinstance(bot_token, Secret)
        base_url = settings.get("base_url")
        self.web = AsyncWebClient(
            token=bot_token.reveal(),
            base_url=base_url if isinstance(base_url, str) else SLACK_API,
        )
        self._app_token = app_token.reveal() if isinstance(app_token, Secret) else None
        ping = settings.get("ping_interval")
        self._ping_interval = float(ping) if isinstance(ping, int | float | str) else 10.0
        self._config = config
        self.directory = SlackDirectory(self.web, clock)
        self._reader = reader
        self.notifier = SlackNotifier(
            config=config, web=self.web, directory=self.directory, writer=writer, reader=reader
        )
        # Everything Slack is told goes through the notification outbox, in this order.
        self.outbox = SlackOutbox(
            config=config,
            web=self.web,
            directory=self.directory,
            reader=reader,
            writer=writer,
            notifier=self.notifier,
        )
        self.socket: SlackSocket | None = None

    def attach(self, service: RunService, refusals: Refusals) -> None:
        """Give the envelope handlers the run service (built after the notifier)."""
        handlers = SlackHandlers(
            config=self._config,
            service=service,
            web=self.web,
            directory=self.directory,
            refusals=refusals,
            messages_of=self._reader.slack_messages,
        )
        if self._app_token is not None:
            self.socket = SlackSocket(
                self._app_token, self.web, handlers, ping_interval=self._ping_interval
            )

    async def run(self) -> None:
        """Serve Socket Mode until cancelled (notifications go through the outbox)."""
        # One connection pool for every Web API call (slack-sdk opens one per call without).
        self.web.session = aiohttp.ClientSession()
        try:
            if self.socket is not None:
                await self.socket.run()
            else:
                # The Web API is still used (notifications) while symbox runs.
                await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                await self.web.session.close()
