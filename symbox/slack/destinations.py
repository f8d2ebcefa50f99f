"""Where a message goes: destinations as hooks and notifications name them, resolved for Slack.

A destination is a channel (``"#name"`` or an id), an email (a DM), or what the SDK's
``slack.channel()``, ``slack.user()``, ``slack.group()`` and ``slack.fallback()`` build.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from symbox.slack.users import SlackDirectory

# How deep fallbacks may nest before a destination is refused as malformed.
_MAX_DEPTH = 4


class Destinations:
    """Resolves destinations to a Slack channel or user id to post to."""

    def __init__(self, web: AsyncWebClient, directory: SlackDirectory) -> None:
        self._web = web
        self._directory = directory

    async def resolve(self, destination: Any, depth: int = 0) -> str | None:
        """The channel or user id to post to, or None when nobody in Slack matches."""
        if depth > _MAX_DEPTH:
            return None
        if isinstance(destination, str):
            return await self._text(destination)
        if not isinstance(destination, Mapping):
            return None
        kind = destination.get("type")
        if kind == "slack_channel":
            return _nonempty(destination.get("channel"))
        if kind == "slack_user":
            user = destination.get("user")
            return None if not isinstance(user, str) else await self._user(user)
        if kind == "slack_group":
            return await self._group(destination.get("users"))
        if kind == "slack_fallback":
            for item in destination.get("destinations") or ():
                found = await self.resolve(item, depth + 1)
                if found is not None:
                    return found
            return None
        # A plain mapping from an older hook: the first field that names somewhere.
        for key in ("channel", "id", "user", "email", "name"):
            value = destination.get(key)
            if isinstance(value, str) and value:
                return await self._text(value)
        return None

    async def _text(self, value: str) -> str | None:
        if not value:
            return None
        if "@" in value and not value.startswith("#"):
            return await self._directory.user_id(value.lower())
        return value

    async def _user(self, user: str) -> str | None:
        if "@" in user:
            return await self._directory.user_id(user.lower())
        return user or None

    async def _group(self, users: Any) -> str | None:
        if not isinstance(users, list):
            return None
        ids = [await self._user(user) for user in users if isinstance(user, str)]
        found = [user_id for user_id in ids if user_id]
        if not found:
            return None
        response = await self._web.conversations_open(users=",".join(found))
        return str(response["channel"]["id"])


def _nonempty(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
