"""The client commands of the real symbox command, against the real server process."""

from __future__ import annotations

import json
import os
import select
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.process import SymboxProcess, cli, symbox_command
from tests.fakes.configs import GRANT_SECRET, access_config, write_config
from tests.fakes.receiver import GrantReceiver

ENV = {"SYMBOX_GRANT_SECRET": GRANT_SECRET}
CAROL, ALICE = "carol@example.com", "alice@example.com"
LIMIT = 30.0


@pytest.fixture
def server(tmp_path: Path, receiver: GrantReceiver) -> Iterator[SymboxProcess]:
    """``symbox run`` with the access flow, stopped after the test."""
    process = SymboxProcess(
        write_config(tmp_path, access_config(receiver.url)), tmp_path / "data", ENV
    ).start()
    try:
        yield process
    finally:
        process.terminate()


def person(server: SymboxProcess, email: str) -> dict[str, str]:
    """The environment a person's client runs with: the server and their token."""
    token = cli("tokens", "issue", "--user", email, "--data-dir", str(server.data_dir))
    return {"SYMBOX_SERVER": server.url, "SYMBOX_TOKEN": token.stdout.strip()}


def test_request_pending_approve_grants_revoke(
    server: SymboxProcess, receiver: GrantReceiver
) -> None:
    carol, alice = person(server, CAROL), person(server, ALICE)
    ask = ("--reason", "e2e", "--duration", "10m", "--target", "prod-db")
    run_id = cli("request", "access", *ask, "--quiet", env=carol).stdout.strip()
    assert cli("pending", env=carol).stdout.strip() == "nothing waits for your decision"
    pending = cli("pending", env=alice).stdout
    assert run_id in pending and "carol@example.com" in pending
    approved = cli("approve", run_id, "--reason", "ok", env=alice).stdout
    assert approved.startswith(f"run {run_id} escalated: access until")
    assert receiver.state.granted == {("prod-db", CAROL)}
    grants = cli("grants", env=carol).stdout.splitlines()
    assert grants[0].split() == ["RUN", "FLOW", "TARGET", "SINCE", "LEFT", "EXPIRES"]
    assert grants[1].startswith(f"{run_id}  access  prod-db") and "(in 10 min)" in grants[1]
    as_json = json.loads(cli("grants", "--output", "json", env=carol).stdout)
    assert [grant["run_id"] for grant in as_json] == [run_id]
    refused = cli("grants", "--all", env=alice, check=False)
    assert refused.returncode == 1 and "(HTTP 403)" in refused.stderr
    revoked = cli("revoke", run_id, env=carol).stdout
    assert revoked.startswith(f"run {run_id} deescalated")
    assert receiver.state.granted == set()
    assert cli("grants", env=carol).stdout.strip() == "you hold no access now"
    # A second request, taken back before anyone decides it.
    second = cli("request", "access", *ask, "-q", env=carol).stdout.strip()
    assert cli("withdraw", second, env=carol).stdout.startswith(f"run {second} withdrawn")
    usage = cli("extend", second, env=carol, check=False)
    assert usage.returncode == 2 and "--by" in usage.stderr
    down = cli("pending", env={**alice, "SYMBOX_SERVER": "http://127.0.0.1:9"}, check=False)
    assert down.returncode == 1 and "cannot reach symbox at http://127.0.0.1:9" in down.stderr


def test_wait_sees_an_approval_made_from_another_process(server: SymboxProcess) -> None:
    carol, alice = person(server, CAROL), person(server, ALICE)
    ask = ("--reason", "wait", "--duration", "10m", "--target", "staging-db")
    waiting = subprocess.Popen(
        symbox_command("request", "access", *ask, "--wait", "--interval", "0.2"),
        env={**os.environ, **carol},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + LIMIT
        pending: list[dict[str, str]] = []
        while not pending and time.monotonic() < deadline:
            pending = json.loads(cli("pending", "--output", "json", env=alice).stdout)
        [run] = pending
        cli("approve", run["run_id"], env=alice)
        out, err = waiting.communicate(timeout=LIMIT)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 0, err
    assert out.startswith(f"run {run['run_id']} escalated: access until")
    lines = err.splitlines()
    assert "requested: waiting for a decision" in lines[0]
    assert "escalated" in lines[-1]


def _read_until(fd: int, text: str) -> str:
    seen = b""
    deadline = time.monotonic() + LIMIT
    while text.encode() not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"no {text!r} from the client; it wrote {seen!r}")
        seen += os.read(fd, 1024)
    return seen.decode()


def test_request_on_a_terminal_asks_for_missing_fields(server: SymboxProcess) -> None:
    carol = person(server, CAROL)
    leader, follower = os.openpty()
    asking = subprocess.Popen(
        symbox_command("request", "access", "--target", "prod-db", "--quiet"),
        env={**os.environ, **carol},
        stdin=follower,
        stderr=follower,
        stdout=subprocess.PIPE,
        text=True,
    )
    os.close(follower)
    try:
        _read_until(leader, "reason: ")
        os.write(leader, b"typed at a terminal\n")
        choices = _read_until(leader, "duration [1-3]: ")
        assert "2) 10m" in choices
        os.write(leader, b"2\n")
        out, _ = asking.communicate(timeout=LIMIT)
    finally:
        os.close(leader)
        if asking.poll() is None:
            asking.kill()
    assert asking.returncode == 0
    run = json.loads(
        cli("runs", "show", out.strip(), "--json", "--data-dir", str(server.data_dir)).stdout
    )
    assert run["fields"]["reason"] == "typed at a terminal"
    assert run["fields"]["duration"] == 600


def test_login_saves_the_token_for_later_commands(server: SymboxProcess, tmp_path: Path) -> None:
    carol = person(server, CAROL)
    token_file = tmp_path / "token"
    login = subprocess.run(
        symbox_command("login", "--server", server.url, "--token-file", str(token_file)),
        input=carol["SYMBOX_TOKEN"] + "\n",
        capture_output=True,
        text=True,
        timeout=LIMIT,
        check=False,
    )
    assert login.returncode == 0, login.stderr
    assert carol["SYMBOX_TOKEN"] not in login.stdout + login.stderr
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    env = {"SYMBOX_SERVER": server.url, "SYMBOX_TOKEN_FILE": str(token_file), "SYMBOX_TOKEN": ""}
    assert cli("whoami", env=env).stdout.strip() == f"user {CAROL} on {server.url}"
