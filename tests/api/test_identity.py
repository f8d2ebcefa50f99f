"""A requester the target system does not know is refused before a run exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from symbox.strategies.base import GrantRequest, StrategyError
from tests.harness import harness

pytestmark = pytest.mark.anyio


class DirectoryStrategy:
    """A target system with a user directory: grants go to the mapped login."""

    def __init__(self, logins: dict[str, str]) -> None:
        self.logins = logins
        self.granted: set[tuple[str, str]] = set()

    async def remote_identity(self, requester: str) -> str:
        """Map an email to a login, as a real directory would."""
        try:
            return self.logins[requester]
        except KeyError:
            raise StrategyError(f"no user with email {requester}", permanent=True) from None

    async def escalate(self, request: GrantRequest) -> None:
        """Grant to the mapped login."""
        self.granted.add((request.target.name, self.logins[request.requester]))

    async def deescalate(self, request: GrantRequest) -> None:
        """Revoke from the mapped login."""
        self.granted.discard((request.target.name, self.logins[request.requester]))


async def test_unknown_requester_is_refused_before_anything_is_granted(tmp_path: Path) -> None:
    directory = DirectoryStrategy({"carol@example.com": "carol"})
    async with harness(tmp_path, strategies={"grants": directory}) as h:
        response = await h.call(
            "POST",
            "/api/v1/events/request",
            "dave@example.com",
            {
                "flow": "access",
                "flow_inputs": {"reason": "x", "duration": "10m", "target": "prod-db"},
            },
        )
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["message"] == (
            "dave@example.com cannot use flow access: no user with email dave@example.com"
        )
        listed = await h.call("GET", "/api/v1/runs", "reader")
        assert listed.json()["runs"] == []

        run_id = await h.request()
        response = await h.approve(run_id)
        assert response.json()["status"] == "escalated"
        assert directory.granted == {("prod-db", "carol")}
