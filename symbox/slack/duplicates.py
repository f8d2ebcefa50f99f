"""What Slack tells someone whose request duplicates one they already have open."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from symbox.engine.admission import DuplicateRequest, TooManyOpen

log = logging.getLogger(__name__)

# The Slack messages (channel, ts) showing a run.
MessagesOf = Callable[[str], Awaitable[list[tuple[str, str]]]]


async def refusal_text(
    web: AsyncWebClient, messages_of: MessagesOf, error: DuplicateRequest | TooManyOpen
) -> str:
    """Why the request was not made, with a link to open the run it ran into, if posted."""
    text = f"Your request was not made: {error}."
    if error.run_id is None:
        return text
    link = await _permalink(web, messages_of, error.run_id)
    return text if link is None else f"{text} <{link}|Open it>"


async def _permalink(web: AsyncWebClient, messages_of: MessagesOf, run_id: str) -> str | None:
    for channel, ts in await messages_of(run_id):
        try:
            answer = await web.chat_getPermalink(channel=channel, message_ts=ts)
        except SlackApiError as error:
            # A message in a channel the bot has left, say: the next one may do.
            log.info(
                "no permalink for a run's message",
                extra={"run_id": run_id, "error": error.response.get("error")},
            )
            continue
        link = answer.get("permalink")
        if isinstance(link, str):
            return link
    return None
