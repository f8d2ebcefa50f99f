"""The app across restarts: schedules restored, the audit file repaired and rotated."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from symbox.audit.verify import verify_file
from symbox.cli.runner import startup_error
from symbox.cli.tokens import issue_token
from symbox.config.model import Flow
from symbox.engine import runs
from symbox.engine.model import Actor
from symbox.errors import StartupError
from symbox.store.handle import open_store
from tests.fakes.clock import FakeClock
from tests.fakes.configs import GRANT_SECRET, access_config
from tests.fakes.receiver import GrantReceiver
from tests.harness import harness

pytestmark = pytest.mark.anyio


def audit_records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def issue_bot_token_elsewhere(database: Path, subject: str) -> None:
    """Issue a token through a store of its own, as the CLI does in its own process."""
    async with open_store(database) as store:
        await issue_token(
            store.writer,
            kind="bot",
            subject=subject,
            label=None,
            now=1.0,
            expires_in=None,
            issued_by=Actor("operator", "test"),
        )


async def test_a_restart_restores_every_timer(tmp_path: Path) -> None:
    clock = FakeClock()
    receiver = GrantReceiver(GRANT_SECRET).start()
    data = tmp_path / "data"
    try:
        async with harness(tmp_path, clock=clock, receiver=receiver, data_dir=data) as h:
            short = await h.request(duration="10m")
            long = await h.request(duration="1h", target="staging-db")
            for run_id in (short, long):
                await h.approve(run_id)
            pending = await h.request(as_="dave@example.com")
            assert len(receiver.state.granted) == 2
        # symbox is down while the short grant's time runs out.
        clock.advance(700)
        async with harness(tmp_path, clock=clock, receiver=receiver, data_dir=data) as h:
            await h.wait_status(short, "deescalated")
            assert receiver.state.granted == {("staging-db", "carol@example.com")}
            assert (await h.run(long))["status"] == "escalated"
            assert len(h.app.schedule) == 2  # the long grant and the pending request
            await h.advance(3000)
            await h.wait_status(long, "deescalated")
            await h.wait_status(pending, "expired")
            assert receiver.state.granted == set()
    finally:
        receiver.stop()
    result = verify_file(data / "audit.jsonl")
    assert result.ok, result.problem
    loads = [r for r in audit_records(data / "audit.jsonl") if r["type"] == "config"]
    assert len(loads) == 2


async def plant_approved_run(
    database: Path, flow: Flow, run_id: str, requester: str, now: float
) -> None:
    """Store a run as if its approval committed and the process died before the grant."""
    requested = runs.open_request(
        run_id=run_id,
        flow=flow,
        requester=requester,
        submitted_by=Actor.user(requester),
        channel="api",
        fields={"reason": "x", "duration": 600, "target": "prod-db"},
        now=now,
    ).run
    approved = runs.decide(
        requested,
        flow,
        actor=Actor.user("alice@example.com"),
        approve=True,
        reason=None,
        now=now,
        channel="api",
        target_key="prod_db",
    ).run
    async with open_store(database) as store:
        for state in (requested, approved):
            await store.writer.submit(
                lambda txn, run=state: txn.save_run(run, runs.due_at(run))  # type: ignore[misc]
            )


async def test_a_run_approved_just_before_a_crash_is_escalated_on_start(tmp_path: Path) -> None:
    clock = FakeClock()
    receiver = GrantReceiver(GRANT_SECRET).start()
    data = tmp_path / "data"
    try:
        async with harness(tmp_path, clock=clock, receiver=receiver, data_dir=data) as h:
            run_id = await h.request()
            flow = h.app.config.flows["access"]
        await plant_approved_run(
            data / "symbox.db", flow, "crashed", "erin@example.com", clock.now()
        )
        async with harness(tmp_path, clock=clock, receiver=receiver, data_dir=data) as h:
            run = await h.wait_status("crashed", "escalated")
            assert receiver.state.granted == {("prod-db", "erin@example.com")}
            assert run["expires_at"] is not None
            assert (await h.run(run_id))["status"] == "requested"
    finally:
        receiver.stop()


async def test_a_pending_grant_of_a_removed_flow_errors_visibly(tmp_path: Path) -> None:
    clock = FakeClock()
    receiver = GrantReceiver(GRANT_SECRET).start()
    data = tmp_path / "data"
    try:
        async with harness(tmp_path, clock=clock, receiver=receiver, data_dir=data) as h:
            retired = replace(h.app.config.flows["access"], name="retired")
        await plant_approved_run(
            data / "symbox.db", retired, "orphan", "erin@example.com", clock.now()
        )
        async with harness(tmp_path, clock=clock, receiver=receiver, data_dir=data) as h:
            await h.wait_status("orphan", "errored")

            async def cleaned_up() -> bool:
                return bool((await h.run("orphan"))["grant"]["state"] == "revoked")

            await h.wait_for(cleaned_up, "the possibly half-made grant to be revoked")
            run = await h.run("orphan")
            assert run["error"] == "flow retired is no longer configured"
            assert receiver.state.granted == set()
    finally:
        receiver.stop()


async def test_records_committed_while_down_reach_the_file_on_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with harness(tmp_path, data_dir=data) as h:
        await h.request()
    # Like `symbox tokens issue` run while symbox is stopped: committed, not yet shipped.
    await issue_bot_token_elsewhere(data / "symbox.db", "late")
    assert '"subject":"late"' not in (data / "audit.jsonl").read_text()
    async with harness(tmp_path, data_dir=data):
        pass
    assert '"subject":"late"' in (data / "audit.jsonl").read_text()
    after = audit_records(data / "audit.jsonl")
    assert len({record["id"] for record in after}) == len(after)
    assert verify_file(data / "audit.jsonl").ok


async def test_records_committed_by_another_process_while_running_are_shipped(
    tmp_path: Path,
) -> None:
    async with harness(tmp_path) as h:
        audit = tmp_path / "data" / "audit.jsonl"
        await issue_bot_token_elsewhere(tmp_path / "data" / "symbox.db", "side")

        def shipped() -> bool:
            return any('"subject":"side"' in line for line in audit.read_text().splitlines())

        await h.wait_for(shipped, "the other process's record to be shipped")
        tip = await h.app.reader.audit_tip()
        await h.wait_for(lambda: h.app.shippers[0].cursor == tip, "the cursor to follow")


async def test_the_audit_file_follows_rotation(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        audit = tmp_path / "data" / "audit.jsonl"
        first = await h.request()
        await h.wait_for(lambda: first in audit.read_text(), "the first record")
        os.rename(audit, audit.with_suffix(".jsonl.1"))
        second = await h.request()
        await h.wait_for(lambda: audit.exists() and second in audit.read_text(), "a new file")
        await anyio.lowlevel.checkpoint()
    old = verify_file(audit.with_suffix(".jsonl.1"))
    new = verify_file(audit)
    assert old.ok and new.ok
    assert old.last_seq is not None and new.first_seq == old.last_seq + 1


async def test_a_second_server_on_the_same_data_folder_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (tmp_path / "other").mkdir()
    async with harness(tmp_path, data_dir=data):
        with pytest.raises(BaseExceptionGroup) as caught:
            async with harness(tmp_path / "other", data_dir=data):
                pass
        [error] = caught.value.exceptions
        assert isinstance(error, StartupError)
        assert str(error) == f"another symbox is running with the data folder {data}"
    # Once the first has stopped, the folder is free again.
    async with harness(tmp_path, data_dir=data):
        pass


async def test_an_audit_file_that_cannot_be_opened_is_a_clear_startup_error(
    tmp_path: Path,
) -> None:
    (tmp_path / "not-a-folder").write_text("a file where a folder should be\n")
    destination = tmp_path / "not-a-folder" / "audit.jsonl"
    extra = f"""
resource "sym_log_destination" "audit" {{
  type     = "file"
  settings = {{ path = "{destination}" }}
}}
"""

    def config(receiver_url: str) -> str:
        return access_config(receiver_url, extra=extra)

    with pytest.raises(BaseExceptionGroup) as caught:
        async with harness(tmp_path, config_text=config):
            pass
    error = startup_error(caught.value)
    assert str(error) == f"audit destination file:audit: Not a directory: {destination}"


def child_processes() -> set[int]:
    """Process ids whose parent is this process (exited but unreaped ones included)."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            children.add(int(stat.parent.name))
    return children


async def test_a_start_that_fails_leaves_no_hook_worker_behind(tmp_path: Path) -> None:
    # Hook workers are launched before the store opens; this start fails after that.
    (tmp_path / "impl.py").write_text(
        "from sym.sdk.annotations import hook\n\n\n@hook\ndef on_request(event):\n    return None\n"
    )
    (tmp_path / "not-a-folder").write_text("a file where a folder should be\n")
    extra = f"""
resource "sym_log_destination" "audit" {{
  type     = "file"
  settings = {{ path = "{tmp_path / "not-a-folder" / "audit.jsonl"}" }}
}}
"""

    def config(receiver_url: str) -> str:
        return access_config(receiver_url, extra=extra).replace(
            'implementation = "# no hooks"', 'implementation = file("impl.py")', 1
        )

    before = child_processes()
    with pytest.raises(BaseExceptionGroup) as caught:
        async with harness(tmp_path, config_text=config):
            pass
    assert isinstance(startup_error(caught.value), StartupError)
    assert child_processes() == before
