"""A custom strategy through the real server: grant and revoke via an API, refusals, secrets."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import pytest

from symbox.audit.verify import verify_file
from tests.fakes.access_api import API_KEY, FakeAccessApi
from tests.fakes.custom_strategy import API_KEY_VARIABLE, STRATEGY, custom_config, write_strategy
from tests.harness import harness

pytestmark = pytest.mark.anyio

ENV = {API_KEY_VARIABLE: API_KEY}


async def test_request_approve_escalate_and_revoke_on_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    write_strategy(tmp_path)
    with FakeAccessApi() as api:
        config = custom_config(api.url)
        async with harness(tmp_path, config_text=lambda _: config, monkeypatch_env=ENV) as h:
            assert h.app.hook_pool is not None
            run_id = await h.request()
            response = await h.approve(run_id)
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "escalated"
            assert api.state.granted == {("prod", "u-carol")}
            [grant] = api.state.seen("POST", "/grants")
            assert grant.authorization == f"Bearer {API_KEY}"
            assert grant.body == {"user_id": "u-carol", "resource_id": "prod"}

            await h.advance(599)
            await anyio.sleep(0.05)
            assert (await h.run(run_id))["status"] == "escalated"
            await h.advance(1)
            run = await h.wait_status(run_id, "deescalated")
            assert api.state.granted == set()
            [revoke] = api.state.seen("DELETE", "/grants/prod/u-carol")
            assert revoke.authorization == f"Bearer {API_KEY}"
            names = [event["name"] for event in run["events"]]
            assert names == ["request", "approve", "escalate", "deescalate"]

            # Someone the API does not know is refused before a run exists.
            refused = await h.call(
                "POST",
                "/api/v1/events/request",
                "dave@example.com",
                {
                    "flow": "access",
                    "flow_inputs": {"reason": "x", "duration": "10m", "target": "prod-db"},
                },
            )
            assert refused.status_code == 400, refused.text
            assert "no identity for dave@example.com" in refused.json()["message"]
    audit = tmp_path / "data" / "audit.jsonl"
    result = verify_file(audit)
    assert result.ok, result.problem
    assert API_KEY not in audit.read_text()
    assert API_KEY not in caplog.text


LEAKY = STRATEGY.replace(
    "        response.raise_for_status()\n\n    def deescalate",
    "        raise RuntimeError('refused; key was ' + self.headers()['Authorization'])\n\n"
    "    def deescalate",
)


async def test_a_failing_strategy_errors_the_run_without_leaking_its_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    write_strategy(tmp_path, LEAKY)
    with FakeAccessApi() as api:
        config = custom_config(api.url)
        async with harness(tmp_path, config_text=lambda _: config, monkeypatch_env=ENV) as h:
            run_id = await h.request()
            message = "strategy.py:30: RuntimeError: refused; key was Bearer <redacted>"
            body = (await h.approve(run_id)).json()
            assert body["status"] == "approved" and message in body["grant"]["last_error"]
            # Tried again until the flow's escalate_timeout (5 minutes), then errored.
            for _ in range(12):
                await h.advance(30)
                await anyio.sleep(0.05)
            body = await h.wait_status(run_id, "errored")
            assert message in body["error"]
            # The grant may have been made before the error, so it is revoked at once.
            await h.wait_for(
                lambda: api.state.seen("DELETE", "/grants/prod/u-carol"), "the cleanup revoke"
            )
            assert api.state.granted == set()
    assert API_KEY not in (tmp_path / "data" / "audit.jsonl").read_text()
    assert API_KEY not in caplog.text


async def test_a_host_outside_allowed_hosts_errors_the_run(tmp_path: Path) -> None:
    write_strategy(tmp_path)
    with FakeAccessApi() as api:
        # The API is only reachable on its port; another port on the same address is not.
        config = custom_config(api.url, allowed=f"127.0.0.1:{api.port + 1}")
        async with harness(tmp_path, config_text=lambda _: config, monkeypatch_env=ENV) as h:
            refused = await h.call(
                "POST",
                "/api/v1/events/request",
                "carol@example.com",
                {
                    "flow": "access",
                    "flow_inputs": {"reason": "x", "duration": "10m", "target": "prod-db"},
                },
            )
            assert refused.status_code == 400
            message = refused.json()["message"]
            assert f"HTTPRefusedError: 127.0.0.1:{api.port} is not in this integration's" in (
                message
            )
            assert "strategy.py:7:" in message
            assert api.state.calls == []


HOOKS = """\
import requests
from sym.sdk.templates import ApprovalTemplate


def on_request(event):
    base = event.flow.vars["api"]
    found = requests.get(base + "/users", params={"email": event.user.email},
                         headers={"Authorization": "Bearer " + event.flow.vars["token"]})
    if found.ok:
        return ApprovalTemplate.approve(reason="known to the access API")
"""


def hooked_config(api_url: str, environments: str) -> str:
    """``custom_config`` whose access flow has HOOKS, with ``environments`` for ``main``."""
    return (
        custom_config(api_url)
        .replace('resource "sym_environment" "main" {\n  name = "main"\n}', environments)
        .replace('implementation = "# no hooks"', 'implementation = file("impl.py")', 1)
        .replace(
            'approvers = "alice@example.com,bob@example.com,bot:ci"',
            f'approvers = "alice@example.com"\n    api = "{api_url}"\n    token = "{API_KEY}"',
            1,
        )
    )


async def test_flow_hooks_reach_the_hosts_their_environment_lists(tmp_path: Path) -> None:
    write_strategy(tmp_path)
    (tmp_path / "impl.py").write_text(HOOKS)
    with FakeAccessApi() as api:
        config = hooked_config(
            api.url,
            'resource "sym_environment" "main" {\n  name = "main"\n'
            "  integrations = { api_id = sym_integration.api.id }\n}",
        )
        async with harness(tmp_path, config_text=lambda _: config, monkeypatch_env=ENV) as h:
            run_id = await h.request()
            run = await h.run(run_id)
            # The hook's own call reached the API, so it approved; the strategy then granted.
            assert run["decisions"][0]["reason"] == "known to the access API"
            assert run["status"] == "escalated"
            assert api.state.granted == {("prod", "u-carol")}


async def test_flow_hooks_cannot_reach_hosts_only_another_environment_lists(
    tmp_path: Path,
) -> None:
    write_strategy(tmp_path)
    (tmp_path / "impl.py").write_text(HOOKS)
    with FakeAccessApi() as api:
        # The access API is listed by the "other" environment only, not by the flow's own.
        config = hooked_config(
            api.url,
            'resource "sym_environment" "main" {\n  name = "main"\n}\n'
            'resource "sym_environment" "other" {\n  name = "other"\n'
            "  integrations = { api_id = sym_integration.api.id }\n}",
        )
        async with harness(tmp_path, config_text=lambda _: config, monkeypatch_env=ENV) as h:
            run = await h.run(await h.request())
            # The hook's call was refused before any connection: the run errors, no grant.
            assert run["status"] == "errored"
            error = run["error"]
            assert error.endswith(
                "impl.py:7: HTTPRefusedError: 127.0.0.1 is not reachable: "
                "no allowed_hosts are configured here"
            )
            assert api.state.granted == set()
