"""Runs a real symbox App in-process (fake clock, real SQLite, real HTTP) for tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import httpx

from symbox.app import App, Options, running
from symbox.cli.tokens import issue_token
from symbox.config import load_config
from symbox.engine.model import Actor
from symbox.engine.schedule import RetryPolicy
from symbox.notify.deliver import NotifyRetry
from symbox.runs.refusals import RefusalLimits
from symbox.runs.revocations import STRATEGY_BACKLOG
from symbox.strategies.base import AccessStrategy
from tests.fakes.clock import FakeClock
from tests.fakes.configs import GRANT_SECRET, access_config, write_config
from tests.fakes.receiver import GrantReceiver

# Generous bound for anything a test waits on; a healthy run takes milliseconds.
WAIT_LIMIT = 10.0


@dataclass
class Harness:
    """A running App, an HTTP client for it, and tokens for a few identities."""

    app: App
    clock: FakeClock
    receiver: GrantReceiver
    http: httpx.AsyncClient
    tokens: dict[str, str] = field(default_factory=dict)

    async def token(self, name: str) -> str:
        """A token for ``name``: an email is a user, anything else a bot."""
        if name not in self.tokens:
            kind = "user" if "@" in name else "bot"
            secret, _ = await issue_token(
                self.app.writer,
                kind=kind,
                subject=name,
                label="test",
                now=self.clock.now(),
                expires_in=None,
                issued_by=Actor("operator", "test"),
            )
            self.tokens[name] = secret
        return self.tokens[name]

    async def call(
        self, method: str, path: str, as_: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        """Make an authenticated API call as ``as_``."""
        headers = {"Authorization": f"Bearer {await self.token(as_)}"}
        return await self.http.request(method, path, json=body, headers=headers)

    async def request(self, as_: str = "carol@example.com", **inputs: Any) -> str:
        """Request the access flow and return the run id."""
        flow_inputs = {"reason": "incident", "duration": "10m", "target": "prod-db", **inputs}
        response = await self.call(
            "POST", "/api/v1/events/request", as_, {"flow": "access", "flow_inputs": flow_inputs}
        )
        assert response.status_code == 201, response.text
        return str(response.json()["run_id"])

    async def approve(self, run_id: str, as_: str = "alice@example.com") -> httpx.Response:
        """Approve a run."""
        return await self.call("POST", "/api/v1/events/approve", as_, {"run_id": run_id})

    async def run(self, run_id: str) -> dict[str, Any]:
        """The run as the API shows it."""
        response = await self.call("GET", f"/api/v1/runs/{run_id}", "reader")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def advance(self, seconds: float) -> None:
        """Move the clock and let the timer react."""
        self.clock.advance(seconds)
        await anyio.lowlevel.checkpoint()

    async def wait_for(self, check: Callable[[], Any], what: str) -> None:
        """Poll ``check`` (sync or async) until it is truthy, failing after WAIT_LIMIT."""
        with anyio.move_on_after(WAIT_LIMIT):
            while True:
                result = check()
                if hasattr(result, "__await__"):
                    result = await result
                if result:
                    return
                await anyio.sleep(0.01)
        raise AssertionError(f"timed out waiting for {what}")

    async def wait_status(self, run_id: str, status: str) -> dict[str, Any]:
        """Wait until the run has ``status`` and return it."""
        latest: dict[str, Any] = {}

        async def check() -> bool:
            nonlocal latest
            latest = await self.run(run_id)
            return bool(latest["status"] == status)

        await self.wait_for(check, f"run {run_id} to be {status}")
        return latest


FAST_RETRIES = RetryPolicy(base=1.0, factor=2.0, jitter=0.5, max_attempts=3, slow_interval=600.0)


@asynccontextmanager
async def harness(
    tmp_path: Path,
    *,
    config_text: Callable[[str], str] = access_config,
    monkeypatch_env: dict[str, str] | None = None,
    policy: RetryPolicy = FAST_RETRIES,
    data_dir: Path | None = None,
    clock: FakeClock | None = None,
    receiver: GrantReceiver | None = None,
    strategies: Mapping[str, AccessStrategy] | None = None,
    hook_timeout: float = 2.0,
    refusal_limits: RefusalLimits | None = None,
    token_max_ttl: float | None = None,
    notify_retry: NotifyRetry | None = None,
    timer_concurrency: int = 64,
    revoke_backlog: int = STRATEGY_BACKLOG,
) -> AsyncIterator[Harness]:
    """Start the receiver and symbox; stop both after the body."""
    own_receiver = receiver is None
    receiver = receiver or GrantReceiver(GRANT_SECRET).start()
    try:
        path = write_config(tmp_path, config_text(receiver.url))
        config = load_config(
            path, environ={"SYMBOX_GRANT_SECRET": GRANT_SECRET, **(monkeypatch_env or {})}
        )
        clock = clock or FakeClock()
        options = Options(
            data_dir=data_dir or tmp_path / "data",
            port=0,
            retry_policy=policy,
            shutdown_grace=2.0,
            hook_timeout=hook_timeout,
            refusal_limits=refusal_limits or RefusalLimits(),
            token_max_ttl=token_max_ttl,
            notify_retry=notify_retry or NotifyRetry(),
            timer_concurrency=timer_concurrency,
            revoke_backlog=revoke_backlog,
        )
        async with (
            running(config, options, clock, strategies) as app,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.port}") as http,
        ):
            yield Harness(app, clock, receiver, http)
    finally:
        if own_receiver:
            receiver.stop()
