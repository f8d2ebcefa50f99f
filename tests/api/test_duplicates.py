"""A second open request for the same flow and target is refused; grants per person are bounded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.fakes.configs import access_config
from tests.harness import Harness, harness

pytestmark = pytest.mark.anyio

REQUEST = "/api/v1/events/request"


def strict(url: str, params: str = "") -> str:
    """The access flow as a flow is by default: duplicates refused (``params`` added)."""
    text = access_config(url).replace("    allow_duplicate_requests = true\n", params, 1)
    assert "allow_duplicate_requests = true" not in text.split('resource "sym_flow" "signoff"')[0]
    return text


async def ask(h: Harness, target: str = "prod-db", as_: str = "carol@example.com") -> Any:
    inputs = {"reason": "x", "duration": "10m", "target": target}
    return await h.call("POST", REQUEST, as_, {"flow": "access", "flow_inputs": inputs})


async def test_a_second_open_request_names_the_first(tmp_path: Path) -> None:
    async with harness(tmp_path, config_text=strict) as h:
        first = (await ask(h)).json()["run_id"]
        second = await ask(h)
        assert second.status_code == 409
        body = second.json()
        assert (body["code"], body["run_id"]) == ("duplicate_request", first)
        assert f"run {first} (requested; requested at" in body["message"]
        # Another target, or another person, is another request.
        assert (await ask(h, target="staging-db")).status_code == 201
        assert (await ask(h, as_="dave@example.com")).status_code == 201
        # Holding the access counts too; once it ends, a new request opens.
        await h.approve(first)
        assert (await ask(h)).json()["run_id"] == first
        await h.advance(600)
        await h.wait_status(first, "deescalated")
        assert (await ask(h)).status_code == 201
        listed = (await h.call("GET", "/api/v1/runs?flow=access", "reader")).json()["runs"]
        assert len(listed) == 4


async def test_racing_requests_open_exactly_one_run(tmp_path: Path) -> None:
    async with harness(tmp_path, config_text=strict) as h:
        statuses: list[int] = []

        async def one() -> None:
            statuses.append((await ask(h)).status_code)

        async with anyio.create_task_group() as group:
            for _ in range(8):
                group.start_soon(one)
        assert sorted(statuses) == [201] + [409] * 7


async def test_a_flow_may_bound_each_persons_open_requests_and_grants(tmp_path: Path) -> None:
    def bounded(url: str) -> str:
        return strict(url, "    max_active_grants_per_user = 1\n")

    async with harness(tmp_path, config_text=bounded) as h:
        first = (await ask(h)).json()["run_id"]
        other = await ask(h, target="staging-db")
        assert other.status_code == 409
        body = other.json()
        assert (body["code"], body["run_id"]) == ("too_many_active", first)
        assert "allows 1 open request or grant per person; you have 1" in body["message"]
        await h.call("POST", "/api/v1/events/withdraw", "carol@example.com", {"run_id": first})
        assert (await ask(h, target="staging-db")).status_code == 201
