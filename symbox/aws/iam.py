"""IAM users found from requesters' emails, and IAM group membership."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio

from symbox.aws.errors import AwsCallError, call
from symbox.aws.session import AwsConnection

MAX_PAGES = 200
TAG_PREFIX = "tag:"
# The tag index is rebuilt when older than this; a miss rebuilds it sooner, but not in a
# loop: lookups of unknown emails at most once per MIN_REBUILD seconds.
TAG_INDEX_SECONDS = 300.0
MIN_REBUILD_SECONDS = 10.0


@dataclass(frozen=True)
class IamUserMapping:
    """How an email names an IAM user: the whole email, its local part, or a user tag."""

    kind: str
    tag_key: str | None = None

    @classmethod
    def parse(cls, text: str) -> IamUserMapping:
        """Read ``user_name``, ``local_part`` or ``tag:KEY``; raise ValueError otherwise."""
        if text in ("user_name", "local_part"):
            return cls(text)
        if text.startswith(TAG_PREFIX) and text[len(TAG_PREFIX) :].strip():
            return cls("tag", text[len(TAG_PREFIX) :].strip())
        raise ValueError(
            f"unknown user_mapping {text!r}: expected user_name, local_part or tag:KEY"
        )

    def describe(self) -> str:
        """The rule in words, for error messages."""
        if self.kind == "user_name":
            return "an IAM user named after the email"
        if self.kind == "local_part":
            return "an IAM user named after the email's local part"
        return f"an IAM user tagged {self.tag_key} = the email"


class IamDirectory:
    """IAM users and groups through one connection."""

    def __init__(
        self,
        connection: AwsConnection,
        mapping: IamUserMapping,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.mapping = mapping
        self._connection = connection
        self._clock = clock
        self._index: dict[str, str] | None = None
        self._ambiguous: set[str] = set()
        self._built_at = 0.0
        self._index_lock = anyio.Lock()

    async def user_name(self, email: str) -> str | None:
        """The IAM user ``email`` maps to, or None if there is none."""
        if self.mapping.kind == "tag":
            return await self._by_tag(email.lower())
        name = email if self.mapping.kind == "user_name" else email.partition("@")[0]
        return await self.user_called(name)

    async def user_called(self, name: str) -> str | None:
        """The IAM user named ``name`` (as IAM spells it), or None if there is none."""
        try:
            found = await call("iam:GetUser", self._connection.iam().get_user(UserName=name))
        except AwsCallError as error:
            if error.not_found:
                return None
            raise
        return found["User"]["UserName"]

    async def group_exists(self, group: str) -> bool:
        """Whether the IAM group exists."""
        lookup = self._connection.iam().get_group(GroupName=group, MaxItems=1)
        try:
            await call("iam:GetGroup", lookup)
        except AwsCallError as error:
            if error.not_found:
                return False
            raise
        return True

    async def add(self, user: str, group: str) -> None:
        """Add the user to the group (IAM does nothing if they already belong)."""
        await call(
            "iam:AddUserToGroup",
            self._connection.iam().add_user_to_group(GroupName=group, UserName=user),
        )

    async def remove(self, user: str, group: str) -> None:
        """Take the user out of the group; succeed if they were not in it."""
        removal = self._connection.iam().remove_user_from_group(GroupName=group, UserName=user)
        try:
            await call("iam:RemoveUserFromGroup", removal)
        except AwsCallError as error:
            # NoSuchEntity covers "not a member" (done) and "no such group" (a real problem).
            if not error.not_found or not await self.group_exists(group):
                raise

    async def members(self, group: str) -> frozenset[str]:
        """The names of the IAM users in the group."""
        client = self._connection.iam()
        names: set[str] = set()
        marker: str | None = None
        for _ in range(MAX_PAGES):
            extra: dict[str, Any] = {"Marker": marker} if marker else {}
            page = await call("iam:GetGroup", client.get_group(GroupName=group, **extra))
            names.update(user["UserName"] for user in page["Users"])
            marker = page.get("Marker") if page.get("IsTruncated") else None
            if not marker:
                break
        return frozenset(names)

    async def in_group(self, user: str, group: str) -> bool:
        """Whether the user belongs to the group."""
        client = self._connection.iam()
        marker: str | None = None
        for _ in range(MAX_PAGES):
            extra: dict[str, Any] = {"Marker": marker} if marker else {}
            page = await call(
                "iam:ListGroupsForUser", client.list_groups_for_user(UserName=user, **extra)
            )
            if any(found["GroupName"] == group for found in page["Groups"]):
                return True
            marker = page.get("Marker") if page.get("IsTruncated") else None
            if not marker:
                break
        return False

    async def _by_tag(self, email: str) -> str | None:
        async with self._index_lock:
            age = self._clock() - self._built_at
            stale = self._index is None or age > TAG_INDEX_SECONDS
            missing = self._index is not None and email not in self._index
            if stale or (missing and age > MIN_REBUILD_SECONDS):
                self._index, self._ambiguous = await self._build_index()
                self._built_at = self._clock()
            index = self._index
        assert index is not None
        if email in self._ambiguous:
            raise AwsCallError(
                f"iam:ListUserTags: more than one IAM user has tag {self.mapping.tag_key} = "
                f"{email}",
                code="AmbiguousUser",
                permanent=True,
            )
        return index.get(email)

    async def _build_index(self) -> tuple[dict[str, str], set[str]]:
        """Every IAM user's mapping tag; IAM's ListUsers does not return tags, so N+1 calls."""
        client = self._connection.iam()
        key = self.mapping.tag_key
        index: dict[str, str] = {}
        ambiguous: set[str] = set()
        marker: str | None = None
        for _ in range(MAX_PAGES):
            extra: dict[str, Any] = {"Marker": marker} if marker else {}
            page = await call("iam:ListUsers", client.list_users(**extra))
            for user in page["Users"]:
                name = user["UserName"]
                tags = await call("iam:ListUserTags", client.list_user_tags(UserName=name))
                for tag in tags["Tags"]:
                    if tag["Key"] != key:
                        continue
                    value = tag["Value"].strip().lower()
                    if value in index and index[value] != name:
                        ambiguous.add(value)
                    index[value] = name
            marker = page.get("Marker") if page.get("IsTruncated") else None
            if not marker:
                break
        return index, ambiguous
