"""The built executable ($SYMBOX_BINARY, from build.spec) end to end: `.ci/run` runs these.

The example config and hooks, a request that a person approves and one that a hook
approves, revocation on time through the http strategy, the audit log verified by the
executable itself, the bundled uvloop event loop, hook workers that are the executable
started as `__worker__`, as isolated as from source, and a google_group grant whose JWT
the bundled cryptography signs.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import anyio
import httpx
import pytest

from symbox.sandbox.errors import HookError, HookTimeout
from symbox.sandbox.pool import HookPool
from symbox.sandbox.worker import DEFAULT_MEMORY_LIMIT, WORKER_ARGUMENT
from tests.e2e.process import SymboxProcess, cli
from tests.fakes.api_configs import google_config
from tests.fakes.configs import GRANT_SECRET
from tests.fakes.google import FakeGoogle
from tests.fakes.receiver import GrantReceiver

ROOT = Path(__file__).resolve().parents[2]
BINARY = os.environ.get("SYMBOX_BINARY", "")
ENV = {"SYMBOX_GRANT_SECRET": GRANT_SECRET}
# What the bootloader puts in a worker's otherwise empty environment.
BOOTLOADER_VARIABLES = re.compile(r"^(_PYI_[A-Z_]+|LD_LIBRARY_PATH)$")

pytestmark = pytest.mark.skipif(not BINARY, reason="set SYMBOX_BINARY to a built executable")


def example(folder: Path, receiver_url: str) -> Path:
    """The repository's example config and hooks, with 5-second grants and this receiver."""
    shutil.copytree(ROOT / "hooks", folder / "hooks")
    text = (ROOT / "config.hcl").read_text()
    assert '["1m", "10m", "1h"]' in text and "http://127.0.0.1:8090/grants" in text
    text = text.replace('["1m", "10m", "1h"]', '["5s", "1m", "10m", "1h"]', 1)
    config = folder / "config.hcl"
    config.write_text(text.replace("http://127.0.0.1:8090/grants", receiver_url))
    return config


def executable() -> str:
    """The unpacked program the executable runs (and starts its workers from)."""
    for line in cli("version").stdout.splitlines():
        if line.startswith("executable "):
            return line.removeprefix("executable ")
    raise AssertionError("symbox version printed no executable")


def test_the_executable_says_what_it_is() -> None:
    lines = cli("version").stdout.splitlines()
    assert re.match(r"symbox \d+\.\d+\.\d+ \(frozen; Python 3\.\d+", lines[0]), lines
    assert re.match(r"built \d{4}-\d\d-\d\dT.*Z from commit \w+", lines[1]), lines
    assert cli("validate", "--config", str(ROOT / "config.hcl"), env=ENV).returncode == 0
    # The grammar came built: hcl2 would have compiled it and written its cache here.
    hcl2_folder = Path(executable()).parent / "_internal" / "hcl2"
    assert (hcl2_folder / "hcl2-parser.pickle").is_file()
    assert not (hcl2_folder / ".lark_cache.bin").exists()


def test_the_example_flow_end_to_end(tmp_path: Path, receiver: GrantReceiver) -> None:
    config = example(tmp_path, receiver.url)
    assert (
        "flow db-access: http strategy grants"
        in cli("validate", "--config", str(config), env=ENV).stdout
    )
    data = tmp_path / "data"
    server = SymboxProcess(config, data, ENV).start()
    try:
        # uvloop is bundled, so the executable runs on it by default.
        assert server.logged("symbox is ready")[0]["event_loop"] == "uvloop"
        workers = [pid for pid in children(server.pid) if is_worker(pid)]
        assert len(workers) == 2
        for pid in workers:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            names = [item.split(b"=")[0].decode() for item in environ if item]
            assert all(BOOTLOADER_VARIABLES.match(name) for name in names), names
            assert sorted(os.listdir(f"/proc/{pid}/fd")) == ["0", "1", "2"]
            limits = Path(f"/proc/{pid}/limits").read_text()
            assert re.search(rf"Max address space\s+{DEFAULT_MEMORY_LIMIT}\s", limits)

        def token(user: str) -> dict[str, str]:
            issued = cli("tokens", "issue", "--user", user, "--data-dir", str(data))
            return {"Authorization": f"Bearer {issued.stdout.strip()}"}

        carol, alice = token("carol@example.com"), token("alice@example.com")
        with server.client() as http:
            prod = request(http, carol, "prod-db", "5s")
            approved = http.post("/api/v1/events/approve", headers=alice, json={"run_id": prod})
            assert approved.json()["status"] == "escalated", approved.text
            assert ("prod-db", "carol@example.com") in receiver.state.granted
            # Staging is approved by the example's on_request hook, in a frozen worker.
            staging = http.get(
                f"/api/v1/runs/{request(http, carol, 'staging-db', '5s')}", headers=carol
            )
            assert staging.json()["status"] == "escalated", staging.text
            granted_at = time.monotonic()
            server.wait_for(lambda: not receiver.state.granted, "both grants to be revoked")
            assert time.monotonic() - granted_at < 15
            for action in ("escalate", "deescalate"):
                assert {call.body["target"]["name"] for call in receiver.state.calls(action)} == {
                    "prod-db",
                    "staging-db",
                }
    finally:
        assert server.terminate() == 0
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    verified = cli("audit", "verify", str(data / "audit.jsonl"))
    assert "records verified" in verified.stdout


def request(http: httpx.Client, headers: dict[str, str], target: str, duration: str) -> str:
    """Ask for access to ``target`` in the example's db-access flow; return the run id."""
    response = http.post(
        "/api/v1/events/request",
        headers=headers,
        json={
            "flow": "db-access",
            "flow_inputs": {"reason": "smoke test", "duration": duration, "target": target},
        },
    )
    assert response.status_code == 201, response.text
    run_id: str = response.json()["run_id"]
    return run_id


def children(pid: int) -> list[int]:
    """The direct children of a process."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def is_worker(pid: int) -> bool:
    """Whether the process is a hook worker started from the executable."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return argv[1:2] == [WORKER_ARGUMENT.encode()]


@pytest.mark.anyio
async def test_frozen_workers_keep_their_limits() -> None:
    command = (executable(), WORKER_ARGUMENT)
    source = (
        "def spin():\n    while True:\n        pass\n\n"
        "def allocate():\n    return 'x' * (4 * 1024 ** 3)\n\n"
        "def imports():\n    import os\n"
    )
    async with HookPool(size=1, command=command, default_timeout=1.0) as pool:
        [first] = pool.pids
        with pytest.raises(HookTimeout):
            await pool.call(source, "impl.py", "spin")
        # Killed and reaped: a frozen worker is one process, with no bootloader left behind.
        assert pool.pids != (first,)
        assert not await anyio.Path(f"/proc/{first}").exists()
        with pytest.raises(HookError, match="MemoryError"):
            await pool.call(source, "impl.py", "allocate")
        with pytest.raises(HookError, match="os"):
            await pool.call(source, "impl.py", "imports")


def test_a_google_group_grant_is_signed_by_the_bundled_cryptography(tmp_path: Path) -> None:
    group = "prod-db@acme.example"
    with FakeGoogle() as google:
        google.add_group(group)
        config = tmp_path / "config.hcl"
        config.write_text(google_config(google.url))
        data = tmp_path / "data"
        server = SymboxProcess(config, data, {"GOOGLE_SERVICE_ACCOUNT_KEY": google.key()})
        server.start()
        try:

            def token(user: str) -> dict[str, str]:
                issued = cli("tokens", "issue", "--user", user, "--data-dir", str(data))
                return {"Authorization": f"Bearer {issued.stdout.strip()}"}

            with server.client() as http:
                inputs = {"reason": "smoke test", "duration": "10m", "target": "prod-db"}
                asked = http.post(
                    "/api/v1/events/request",
                    headers=token("carol@example.com"),
                    json={"flow": "access", "flow_inputs": inputs},
                )
                assert asked.status_code == 201, asked.text
                approved = http.post(
                    "/api/v1/events/approve",
                    headers=token("alice@example.com"),
                    json={"run_id": asked.json()["run_id"]},
                )
                assert approved.json()["status"] == "escalated", approved.text
        finally:
            assert server.terminate() == 0
        # The fake verified the assertion's RS256 signature before it issued the token.
        assert google.assertions
        assert google.members(group) == {"carol@example.com": "MANAGER"}
