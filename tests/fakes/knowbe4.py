"""A fake KnowBe4 Reporting API on loopback: users, group members and training enrollments."""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.rest_server import Answer, Call, FakeRestServer

KNOWBE4_TOKEN = "kb4-reporting-token-5d1e"
_MEMBERS = re.compile(r"^/v1/groups/(\d+)/members$")
_IDS = frozenset({"store_purchase_id", "campaign_id"})


class FakeKnowBe4(FakeRestServer):
    """Answers GET /v1/users, /v1/groups/{id}/members and /v1/training/enrollments.

    Lists are paginated as KnowBe4's are: ``page`` (from 1) and ``per_page`` (at most 500);
    a page shorter than ``per_page`` is the last.
    """

    def __init__(self, token: str = KNOWBE4_TOKEN) -> None:
        super().__init__()
        self.token = token
        self.users: list[dict[str, Any]] = []
        # group id -> member user ids
        self.groups: dict[int, list[int]] = {}
        # Each with the ids the API filters by (``store_purchase_id``, ``campaign_id``).
        self.enrollments: list[dict[str, Any]] = []

    def add_user(self, email: str, **extra: Any) -> int:
        """Create an active user; return its id."""
        with self.lock:
            user_id = 1000 + len(self.users)
            first, _, _ = email.partition("@")
            self.users.append(
                {"id": user_id, "email": email, "first_name": first, "status": "active", **extra}
            )
            return user_id

    def enroll(self, user_id: int, module: str, status: str, purchase: int, campaign: int) -> None:
        """Enroll the user in a training module of a store purchase and campaign."""
        with self.lock:
            user = next(user for user in self.users if user["id"] == user_id)
            self.enrollments.append(
                {
                    "enrollment_id": 5000 + len(self.enrollments),
                    "content_type": "Store Purchase",
                    "module_name": module,
                    "user": {key: user[key] for key in ("id", "first_name", "email")},
                    "campaign_name": f"campaign {campaign}",
                    "status": status,
                    "store_purchase_id": purchase,
                    "campaign_id": campaign,
                }
            )

    def authorized(self, headers: dict[str, str]) -> bool:
        """KnowBe4's API keys: ``Authorization: Bearer <key>``."""
        return headers.get("authorization") == f"Bearer {self.token}"

    def route(self, call: Call) -> Answer:
        """The endpoints symbox uses; anything else is a 404."""
        if call.method != "GET":
            return Answer(405, {"message": "method not allowed"})
        if call.path == "/v1/users":
            return self._page(call, self.users)
        if match := _MEMBERS.match(call.path):
            members = self.groups.get(int(match.group(1)))
            if members is None:
                return Answer(404, {"message": "Group not found"})
            return self._page(call, [user for user in self.users if user["id"] in members])
        if call.path == "/v1/training/enrollments":
            wanted = {
                key: int(call.query[key][0])
                for key in ("store_purchase_id", "campaign_id")
                if key in call.query
            }
            user_id = int(call.query["user_id"][0]) if "user_id" in call.query else None
            chosen = [
                item
                for item in self.enrollments
                if (user_id is None or item["user"]["id"] == user_id)
                and all(item[key] == value for key, value in wanted.items())
            ]
            # The filter ids are KnowBe4's to match on, not part of its answer by default.
            shown = [
                {key: value for key, value in item.items() if key not in wanted.keys() | _IDS}
                for item in chosen
            ]
            return self._page(call, shown)
        return Answer(404, {"message": "not found"})

    @staticmethod
    def _page(call: Call, items: list[dict[str, Any]]) -> Answer:
        page = int(call.query.get("page", ["1"])[0])
        size = min(int(call.query.get("per_page", ["100"])[0]), 500)
        return Answer(200, items[(page - 1) * size : page * size])
