"""Slack's rows in the notification outbox: request messages, and events to tell.

A request (or a forward) queues a row per Slack destination in the same transaction as
the run, so a request made just before symbox stops is still posted after it starts,
and a destination Slack is slow to take is retried without posting to the others again.
The message is rendered from the run as it is when posted, so a late post shows the
decision it missed. Every other event Slack hears about is one row handed to the
notifier, which logs a Slack error and goes on: it is told once, not retried.
"""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from symbox.config.model import Config
from symbox.notify.model import Queued, SendError
from symbox.notify.plan import TELL, target_label
from symbox.slack.blocks import request_message
from symbox.slack.destinations import Destinations
from symbox.slack.notifier import SlackNotifier
from symbox.slack.users import SlackDirectory
from symbox.store.codec import run_from_json
from symbox.store.reader import Reader
from symbox.store.txn import WriteTxn
from symbox.store.writer import Writer

# Slack errors that may pass; any other means this destination will never take the post.
_TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class SlackOutbox:
    """Delivers ``slack`` outbox rows: a request message to one destination, or an event
    told through the notifier (updates, DMs, error reports)."""

    def __init__(
        self,
        *,
        config: Config,
        web: AsyncWebClient,
        directory: SlackDirectory,
        reader: Reader,
        writer: Writer,
        notifier: SlackNotifier,
    ) -> None:
        self._config = config
        self._notifier = notifier
        self._web = web
        self._directory = directory
        self._reader = reader
        self._writer = writer
        self._destinations = Destinations(web, directory)

    async def send(self, queued: Queued) -> None:
        """Post a request message, or tell Slack about an event, as the row says."""
        message = queued.outgoing.message
        if message.get("action") == TELL:
            run = run_from_json(str(message["run"]))
            await self._notifier.deliver(run, str(message["event"]), message.get("errors") or ())
            return
        await self._post(queued)

    async def _post(self, queued: Queued) -> None:
        run_id = queued.outgoing.run_id
        run = await self._reader.get_run(run_id)
        flow = None if run is None else self._config.flow_by_name(run.flow)
        if run is None or flow is None:
            raise SendError(f"run {run_id} or its flow is gone", permanent=True)
        destination = queued.outgoing.message.get("destination")
        try:
            channel = await self._destinations.resolve(destination)
            if channel is None:
                raise SendError(f"no Slack destination {destination!r}", permanent=True)
            text, blocks = request_message(
                run, flow, target_label(self._config, run.target), self._directory.known_ids()
            )
            response = await self._web.chat_postMessage(channel=channel, text=text, blocks=blocks)
        except SlackApiError as error:
            code = str(error.response.get("error"))
            raise SendError(
                f"Slack refused the message: {code}", permanent=code not in _TRANSIENT
            ) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise SendError(f"Slack could not be reached: {type(error).__name__}") from None
        posted, ts = str(response["channel"]), str(response["ts"])

        def remember(txn: WriteTxn) -> None:
            txn.add_slack_message(run_id, posted, ts)

        await self._writer.submit(remember)
