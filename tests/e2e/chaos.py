"""A chaos run: the real process under request -> approve load, SIGKILLed and restarted.

The grant receiver is the judge: it notes when each grant and each revocation arrived, so
how long every grant was really held is known without trusting symbox's own records.
Used by the e2e test (short) and by ``bench.chaos`` (longer, reporting the distribution).
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.process import SymboxProcess, cli
from tests.fakes.configs import GRANT_SECRET, access_config, write_config
from tests.fakes.receiver import GrantReceiver

ENV = {"SYMBOX_GRANT_SECRET": GRANT_SECRET}
# Grant states a run may be left in once everything due has been done.
SETTLED_STATES = {"revoked", None}


@dataclass(frozen=True)
class ChaosPlan:
    """How long to load, how often to kill, and how long each grant lasts."""

    seed: int
    load_seconds: float = 30.0
    kills: int = 6
    clients: int = 4
    grant_seconds: int = 4
    # Seconds granted beyond the grant's duration and the downtime it lived through.
    slack: float = 2.0


@dataclass(frozen=True)
class Outage:
    """From a SIGKILL to the restarted process saying it is ready (monotonic seconds)."""

    killed_at: float
    ready_at: float

    def within(self, start: float, end: float) -> float:
        """Seconds of this outage inside ``[start, end]``."""
        return max(0.0, min(end, self.ready_at) - max(start, self.killed_at))


@dataclass(frozen=True)
class Held:
    """One grant as the receiver saw it: first grant call, then the first revoke after it."""

    run_id: str
    granted_at: float
    revoked_at: float | None


@dataclass
class ChaosResult:
    """What a chaos run did, and how long the receiver held each grant."""

    plan: ChaosPlan
    grants: list[Held]
    outages: list[Outage]
    # Every generation's log records, in order, each with its generation number.
    logs: list[dict[str, Any]] = field(default_factory=list)
    # Grant states left in the database once settled (or when the wait gave up).
    leftover: dict[str, int] = field(default_factory=dict)

    @property
    def downtime(self) -> float:
        """Seconds symbox was not serving, over all kills."""
        return sum(outage.ready_at - outage.killed_at for outage in self.outages)

    def overrun(self, grant: Held) -> float:
        """Seconds ``grant`` was held past its duration (infinite if never revoked)."""
        if grant.revoked_at is None:
            return float("inf")
        return grant.revoked_at - grant.granted_at - self.plan.grant_seconds

    def lived_through(self, grant: Held) -> float:
        """Seconds of downtime while ``grant`` was held."""
        end = grant.revoked_at if grant.revoked_at is not None else float("inf")
        return sum(outage.within(grant.granted_at, end) for outage in self.outages)

    def beyond_downtime(self, grant: Held) -> float:
        """Seconds ``grant`` was held past its duration and the downtime it lived through."""
        return self.overrun(grant) - self.lived_through(grant)

    def late(self) -> list[Held]:
        """Grants held longer than their duration + the downtime they lived through + slack."""
        return [grant for grant in self.grants if self.beyond_downtime(grant) > self.plan.slack]

    def overruns(self) -> dict[str, float]:
        """min, p50, p99 and max of every grant's overrun, in seconds."""
        return _distribution([self.overrun(grant) for grant in self.grants])

    def overruns_beyond_downtime(self) -> dict[str, float]:
        """min, p50, p99 and max of every grant's overrun less the downtime it lived through."""
        return _distribution([self.beyond_downtime(grant) for grant in self.grants])

    def describe(self, grant: Held) -> str:
        """One line about a grant, times relative to its grant call, with the kills it saw."""
        start = grant.granted_at
        kills = [
            f"down {outage.killed_at - start:+.1f}..{outage.ready_at - start:+.1f}"
            for outage in self.outages
            if outage.ready_at >= start
            and (grant.revoked_at is None or outage.killed_at <= grant.revoked_at)
        ]
        return (
            f"run {grant.run_id}: overrun {self.overrun(grant):.1f} s,"
            f" downtime lived through {self.lived_through(grant):.1f} s"
            + "".join(f", {kill}" for kill in kills)
        )


def _distribution(values: list[float]) -> dict[str, float]:
    """min, p50, p99 (nearest rank) and max of ``values``; empty when there are none."""
    ordered = sorted(values)
    if not ordered:
        return {}

    def rank(q: float) -> float:
        return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))]

    return {"min": ordered[0], "p50": rank(0.5), "p99": rank(0.99), "max": ordered[-1]}


class Load:
    """Threads that each request access for a fresh user and approve it, until stopped."""

    def __init__(self, server: SymboxProcess, tokens: tuple[str, str], plan: ChaosPlan) -> None:
        self._server = server
        self._tokens = tokens
        self._plan = plan
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, args=(number,), daemon=True)
            for number in range(plan.clients)
        ]

    def start(self) -> Load:
        """Start every client thread."""
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop the clients and wait for them."""
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _client(self, number: int) -> None:
        requester, approver = ({"Authorization": f"Bearer {token}"} for token in self._tokens)
        made = 0
        while not self._stop.is_set():
            # The port changes with every restart: each connection is to the current one.
            with httpx.Client(base_url=self._server.url, timeout=10) as http:
                while not self._stop.is_set():
                    made += 1
                    try:
                        response = http.post(
                            "/api/v1/events/request",
                            headers=requester,
                            json={
                                "flow": "access",
                                "user_email": f"chaos{number}-{made}@example.com",
                                "flow_inputs": {
                                    "reason": "chaos",
                                    "duration": f"{self._plan.grant_seconds}s",
                                    "target": "prod-db",
                                },
                            },
                        )
                        run_id = response.json()["run_id"]
                        http.post(
                            "/api/v1/events/approve", headers=approver, json={"run_id": run_id}
                        )
                    except (httpx.HTTPError, KeyError, ValueError):
                        # Killed mid-call: wait for the restart, then connect again.
                        time.sleep(0.05)
                        break


def held_grants(receiver: GrantReceiver) -> list[Held]:
    """Each run's first grant call and the first revoke after it, as the receiver got them."""
    granted: dict[str, float] = {}
    revoked: dict[str, float] = {}
    for call in sorted(receiver.state.calls("escalate"), key=lambda call: call.at):
        granted.setdefault(call.body["run"]["id"], call.at)
    for call in sorted(receiver.state.calls("deescalate"), key=lambda call: call.at):
        run_id = call.body["run"]["id"]
        if run_id in granted and call.at >= granted[run_id]:
            revoked.setdefault(run_id, call.at)
    return [Held(run_id, at, revoked.get(run_id)) for run_id, at in granted.items()]


def grant_states(database: Path) -> dict[str, int]:
    """How many runs are in each grant state that is not settled."""
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT grant_state, count(*) FROM runs GROUP BY grant_state")
        return {str(state): count for state, count in rows if state not in SETTLED_STATES}


def run_chaos(folder: Path, receiver: GrantReceiver, plan: ChaosPlan) -> ChaosResult:
    """Load symbox, SIGKILL and restart it ``plan.kills`` times, wait until all is revoked."""
    grant = f'["{plan.grant_seconds}s"]'
    config = write_config(folder, access_config(receiver.url).replace('["1m", "10m", "1h"]', grant))
    data = folder / "data"
    server = SymboxProcess(config, data, ENV).start()
    tokens = tuple(
        cli("tokens", "issue", "--bot", bot, "--data-dir", str(data)).stdout.strip()
        for bot in ("loadgen", "ci")
    )
    assert len(tokens) == 2
    rng = random.Random(plan.seed)
    outages: list[Outage] = []
    logs: list[dict[str, Any]] = []

    def keep_logs() -> None:
        logs.extend({**record, "generation": len(outages)} for record in server.logs)

    load = Load(server, tokens, plan).start()
    # Kills at random moments, a mean gap apart, leaving a grant's length of load at the end.
    mean_gap = max(0.5, (plan.load_seconds - plan.grant_seconds) / (plan.kills + 1))
    started = time.monotonic()
    try:
        for _ in range(plan.kills):
            time.sleep(rng.uniform(0.2 * mean_gap, 1.8 * mean_gap))
            killed_at = time.monotonic()
            server.kill()
            keep_logs()
            server.start()
            outages.append(Outage(killed_at, time.monotonic()))
        time.sleep(max(0.0, plan.load_seconds - (time.monotonic() - started)))
        load.stop()
        database = data / "symbox.db"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not receiver.state.granted and not grant_states(database):
                break
            time.sleep(0.1)
        leftover = grant_states(database)
    finally:
        load.stop()
        try:
            server.terminate()
        finally:
            keep_logs()
    return ChaosResult(plan, held_grants(receiver), outages, logs, leftover)
