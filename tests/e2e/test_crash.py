"""SIGKILL the real process under load, restart it, and check nothing was lost."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from symbox.audit.verify import verify_file
from tests.e2e.process import SymboxProcess, cli
from tests.fakes.configs import GRANT_SECRET, access_config, write_config
from tests.fakes.receiver import GrantReceiver

ENV = {"SYMBOX_GRANT_SECRET": GRANT_SECRET}
FINAL_GRANT_STATES = {"revoked", None}


class Load:
    """Clients that request, approve and sometimes revoke, until stopped."""

    def __init__(self, url: str, token: str, clients: int, seed: int) -> None:
        self._url = url
        self._token = token
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, args=(number, seed + number), daemon=True)
            for number in range(clients)
        ]

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _client(self, number: int, seed: int) -> None:
        rng = random.Random(seed)
        headers = {"Authorization": f"Bearer {self._token}"}
        with httpx.Client(base_url=self._url, headers=headers, timeout=5) as http:
            while not self._stop.is_set():
                try:
                    response = http.post(
                        "/api/v1/events/request",
                        json={
                            "flow": "access",
                            "user_email": f"user{rng.randrange(6)}@example.com",
                            "flow_inputs": {
                                "reason": f"load {number}",
                                "duration": rng.choice(["1s", "2s"]),
                                "target": rng.choice(["prod-db", "staging-db"]),
                            },
                        },
                    )
                    run_id = response.json()["run_id"]
                    http.post("/api/v1/events/approve", json={"run_id": run_id})
                    if rng.random() < 0.3:
                        http.post("/api/v1/events/deescalate", json={"run_id": run_id})
                except (httpx.HTTPError, KeyError, ValueError):
                    # The server was killed mid-call: this client waits for the restart.
                    time.sleep(0.05)


def test_sigkill_under_load_loses_nothing(tmp_path: Path, receiver: GrantReceiver) -> None:
    text = access_config(receiver.url).replace('["1m", "10m", "1h"]', '["1s", "2s"]')
    config = write_config(tmp_path, text)
    data = tmp_path / "data"
    server = SymboxProcess(config, data, ENV).start()
    token = cli("tokens", "issue", "--bot", "ci", "--data-dir", str(data)).stdout.strip()
    rng = random.Random(20261124)
    try:
        for _ in range(3):
            load = Load(server.url, token, clients=4, seed=rng.randrange(1_000_000)).start()
            time.sleep(rng.uniform(0.5, 1.5))
            server.kill()
            load.stop()
            server.start()
        # A clean stop under load: it finishes what is in flight and exits 0.
        load = Load(server.url, token, clients=4, seed=2).start()
        time.sleep(0.5)
        assert server.terminate() == 0
        load.stop()
        server.start()
        load = Load(server.url, token, clients=2, seed=1).start()
        time.sleep(0.5)
        load.stop()

        database = data / "symbox.db"

        def settled() -> bool:
            with sqlite3.connect(database) as conn:
                states = {row[0] for row in conn.execute("SELECT DISTINCT grant_state FROM runs")}
            return states <= FINAL_GRANT_STATES and not receiver.state.granted

        server.wait_for(settled, "every grant to be revoked", limit=60)
    finally:
        assert server.terminate() == 0

    with sqlite3.connect(database) as conn:
        runs = conn.execute("SELECT id, status, body FROM runs").fetchall()
        event_ids = [row[0] for row in conn.execute("SELECT id FROM events")]
    assert len(runs) > 20, "the load should have made runs before each kill"
    statuses = Counter(status for _, status, _ in runs)
    assert set(statuses) <= {"requested", "deescalated", "errored"}, statuses
    for _, _, body in runs:
        run = json.loads(body)
        if run["status"] == "errored":
            assert run["grant"]["state"] == "revoked"

    # No grant without its revocation: the receiver holds nothing, and each grant it was
    # sent was followed by a revoke for the same access.
    assert receiver.state.granted == set()

    # Every committed event has exactly one audit record, and the chain is intact.
    audit = data / "audit.jsonl"
    result = verify_file(audit)
    assert result.ok, result.problem
    audit_ids = Counter(json.loads(line)["id"] for line in audit.read_text().splitlines())
    assert max(audit_ids.values()) == 1
    missing = set(event_ids) - set(audit_ids)
    assert not missing, f"{len(missing)} committed events have no audit record"


BURST = 150
# Long enough to make every grant before the first expires.
BURST_DURATION = 8.0


def make_grants(url: str, requester: str, approver: str, count: int) -> list[str]:
    """Request and approve ``count`` grants for different people; return their run ids."""
    asks = {"Authorization": f"Bearer {requester}"}
    approves = {"Authorization": f"Bearer {approver}"}

    def one(number: int) -> str:
        with httpx.Client(base_url=url, timeout=10) as http:
            response = http.post(
                "/api/v1/events/request",
                headers=asks,
                json={
                    "flow": "access",
                    "user_email": f"burst{number}@example.com",
                    "flow_inputs": {"reason": "burst", "duration": "8s", "target": "prod-db"},
                },
            )
            run_id = str(response.json()["run_id"])
            approved = http.post(
                "/api/v1/events/approve", headers=approves, json={"run_id": run_id}
            )
            assert approved.json()["status"] == "escalated", approved.text
            return run_id

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, range(count)))


def test_sigkill_while_a_burst_of_due_grants_is_revoked_loses_nothing(
    tmp_path: Path, receiver: GrantReceiver
) -> None:
    text = access_config(receiver.url).replace('["1m", "10m", "1h"]', '["8s"]')
    config = write_config(tmp_path, text)
    data = tmp_path / "data"
    server = SymboxProcess(config, data, ENV).start()
    # The bot that asks for a grant may not approve it too.
    requester = cli("tokens", "issue", "--bot", "desk", "--data-dir", str(data)).stdout.strip()
    approver = cli("tokens", "issue", "--bot", "ci", "--data-dir", str(data)).stdout.strip()
    started = time.monotonic()
    try:
        run_ids = make_grants(server.url, requester, approver, BURST)
        assert time.monotonic() - started < BURST_DURATION, "granting took too long to test"
        # Stopped while every grant still runs, restarted once all are due: all due at once.
        assert server.terminate() == 0
        assert len(receiver.state.granted) == BURST
        time.sleep(max(0.0, started + BURST_DURATION + 0.5 - time.monotonic()))
        receiver.state.revoke_delay = 0.3
        server.start()
        database = data / "symbox.db"

        def committed() -> int:
            with sqlite3.connect(database) as conn:
                (count,) = conn.execute(
                    "SELECT count(*) FROM events WHERE name = 'deescalate'"
                ).fetchone()
            return int(count)

        server.wait_for(lambda: committed() >= 20, "a first group of revocations to commit")
        server.kill()
        # Killed mid-burst: some revocations committed, others reached the target only.
        at_kill = committed()
        assert at_kill < BURST
        assert len(receiver.state.calls("deescalate")) > at_kill
        receiver.state.revoke_delay = 0.0
        server.start()

        def settled() -> bool:
            with sqlite3.connect(database) as conn:
                (left,) = conn.execute(
                    "SELECT count(*) FROM runs WHERE grant_state != 'revoked'"
                ).fetchone()
            return left == 0 and not receiver.state.granted

        server.wait_for(settled, "every grant to be revoked", limit=60)
    finally:
        assert server.terminate() == 0

    with sqlite3.connect(database) as conn:
        statuses = Counter(row[0] for row in conn.execute("SELECT status FROM runs"))
        revokes = Counter(
            row[0] for row in conn.execute("SELECT run_id FROM events WHERE name = 'deescalate'")
        )
        event_ids = [row[0] for row in conn.execute("SELECT id FROM events")]
    assert statuses == Counter({"deescalated": BURST})
    # Each grant revoked exactly once in the record, whatever the target was sent twice.
    assert revokes == Counter(run_ids)
    assert receiver.state.granted == set()
    audit = data / "audit.jsonl"
    records = Counter(json.loads(line)["id"] for line in audit.read_text().splitlines())
    assert max(records.values()) == 1
    assert set(event_ids) <= set(records)
    verified = cli("audit", "verify", "--data-dir", str(data), check=False)
    assert verified.returncode == 0, verified.stderr
