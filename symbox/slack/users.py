"""Who a Slack user is to symbox (an email), and who an email is in Slack."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from symbox.clock import Clock
from symbox.config.people import InvalidEmail, canonical_email

log = logging.getLogger(__name__)

# Profiles change rarely; a deactivated user is refused within this many seconds.
CACHE_SECONDS = 300.0


@dataclass(frozen=True)
class SlackPerson:
    """A Slack user as symbox needs them: an email, and whether they may act at all."""

    id: str
    email: str | None
    guest: bool
    deleted: bool


class SlackDirectory:
    """users.info and users.lookupByEmail, cached for a few minutes."""

    def __init__(self, web: AsyncWebClient, clock: Clock) -> None:
        self._web = web
        self._clock = clock
        self._people: dict[str, tuple[float, SlackPerson | None]] = {}
        self._ids: dict[str, tuple[float, str | None]] = {}

    async def person(self, user_id: str) -> SlackPerson | None:
        """The Slack user ``user_id``, or None if Slack does not know them."""
        now = self._clock.now()
        cached = self._people.get(user_id)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        try:
            response = await self._web.users_info(user=user_id)
        except SlackApiError as error:
            if error.response.get("error") != "user_not_found":
                raise
            person = None
        else:
            user = response["user"]
            profile = user.get("profile") or {}
            email = profile.get("email")
            person = SlackPerson(
                id=user_id,
                email=_email(email),
                guest=bool(user.get("is_restricted") or user.get("is_ultra_restricted")),
                deleted=bool(user.get("deleted")),
            )
            if person.email:
                self._ids[person.email] = (now, user_id)
        self._people[user_id] = (now, person)
        return person

    async def user_id(self, email: str) -> str | None:
        """The Slack user id of ``email``, or None if nobody in Slack has it."""
        now = self._clock.now()
        cached = self._ids.get(email)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        try:
            response = await self._web.users_lookupByEmail(email=email)
        except SlackApiError as error:
            if error.response.get("error") != "users_not_found":
                raise
            found = None
        else:
            found = str(response["user"]["id"])
        self._ids[email] = (now, found)
        return found

    def known_ids(self) -> Mapping[str, str]:
        """Emails whose Slack id is known, for mentions in messages."""
        return {email: user_id for email, (_, user_id) in self._ids.items() if user_id}


def _email(value: object) -> str | None:
    """A profile's email in symbox's spelling, or None when there is none symbox accepts."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return canonical_email(value)
    except InvalidEmail:
        # Acting under a look-alike or tagged address would be acting as someone else.
        log.warning("a Slack profile's email is not one symbox accepts")
        return None
