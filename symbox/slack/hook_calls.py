"""What hooks may ask of Slack through ``sym.sdk.integrations.slack``, done by the host.

The worker never holds the bot token: it sends the call out, this runs it, and the hook
gets plain data back (or a ``SlackError``).
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from symbox.sandbox.sdk.exceptions import SlackError
from symbox.slack.destinations import Destinations
from symbox.slack.users import SlackDirectory

# Slack truncates longer texts anyway; a hook's message is kept well below that.
MAX_TEXT = 4000


class SlackHookCalls:
    """send_message, get_user_info and is_user_in_group for hooks."""

    def __init__(self, web: AsyncWebClient, directory: SlackDirectory) -> None:
        self._web = web
        self._directory = directory
        self._destinations = Destinations(web, directory)

    async def call(self, method: str, args: dict[str, Any]) -> Any:
        """Run one hook call; a SlackError for bad arguments or a refusal by Slack."""
        try:
            if method == "send_message":
                return await self._send_message(args.get("destination"), args.get("text"))
            if method == "get_user_info":
                return await self._user_info(_text(args, "user"))
            if method == "is_user_in_group":
                return await self._in_group(_text(args, "user"), _text(args, "group_name"))
        except SlackApiError as error:
            raise SlackError(f"Slack refused {method}: {error.response.get('error')}") from None
        raise SlackError(f"slack has no method {method!r}")

    async def _send_message(self, destination: Any, text: Any) -> None:
        if not isinstance(text, str) or not text:
            raise SlackError("send_message needs a non-empty message")
        channel = await self._destinations.resolve(destination)
        if channel is None:
            raise SlackError(f"no Slack destination matches {destination!r}")
        await self._web.chat_postMessage(channel=channel, text=text[:MAX_TEXT])

    async def _user_id(self, user: str) -> str:
        found = await self._directory.user_id(user.lower()) if "@" in user else user
        if found is None:
            raise SlackError(f"no Slack user has the email {user}")
        return found

    async def _user_info(self, user: str) -> dict[str, Any]:
        person = await self._directory.person(await self._user_id(user))
        if person is None:
            raise SlackError(f"no Slack user {user}")
        return {
            "id": person.id,
            "email": person.email,
            "is_guest": person.guest,
            "deleted": person.deleted,
        }

    async def _in_group(self, user: str, group_name: str) -> bool:
        user_id = await self._user_id(user)
        response = await self._web.usergroups_list(include_users=True)
        for group in response.get("usergroups") or ():
            if group_name in (group.get("handle"), group.get("name")):
                return user_id in (group.get("users") or ())
        raise SlackError(f"no Slack user group {group_name!r}")


def _text(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value:
        raise SlackError(f"{name} must be a non-empty str")
    return value
