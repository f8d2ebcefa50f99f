"""Audit destinations in the running app: routing, outages, the outbox's bound and pruning."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from symbox.app import App, Options, running
from symbox.audit.delivery import RetryTiming
from symbox.audit.outbox import OutboxLimits
from symbox.audit.verify import verify_file
from symbox.config import load_config
from symbox.engine.model import Actor
from symbox.errors import Unavailable
from tests.fakes.audit_receiver import AuditReceiver
from tests.fakes.clock import FakeClock
from tests.fakes.configs import (
    GRANT_SECRET,
    REASON_FIELD,
    access_config,
    approval_flow,
    write_config,
)
from tests.fakes.receiver import GrantReceiver
from tests.fakes.segment import SegmentReceiver

pytestmark = pytest.mark.anyio

FAST = RetryTiming(first=0.01, maximum=0.05)
CAROL = Actor.user("carol@example.com")
ALICE = Actor.user("alice@example.com")


def destinations(siem_url: str) -> str:
    """The access config's flows in one environment that ships to ``siem``, one that does not."""
    return f"""
resource "sym_log_destination" "siem" {{
  type     = "http"
  settings = {{
    url     = "{siem_url}/ingest"
    headers = {{ Authorization = env("SIEM_TOKEN") }}
  }}
}}

resource "sym_environment" "shipping" {{
  name                = "shipping"
  log_destination_ids = [sym_log_destination.siem.id]
}}

{approval_flow("quiet", REASON_FIELD)}"""


def config_text(grants_url: str, siem_url: str) -> str:
    """Flows access and signoff ship to siem (environment shipping); quiet does not."""
    text = access_config(grants_url, extra=destinations(siem_url))
    return text.replace(
        "environment_id = sym_environment.main.id\n  vars = {\n    approvers = "
        '"alice@example.com,bob',
        "environment_id = sym_environment.shipping.id\n  vars = {\n    approvers = "
        '"alice@example.com,bob',
    ).replace(
        'name           = "signoff"\n  implementation = "# no hooks"\n'
        "  environment_id = sym_environment.main.id",
        'name           = "signoff"\n  implementation = "# no hooks"\n'
        "  environment_id = sym_environment.shipping.id",
    )


@pytest.fixture
def siem() -> Iterator[AuditReceiver]:
    """The HTTP log intake."""
    intake = AuditReceiver()
    yield intake
    intake.stop()


@asynccontextmanager
async def app_with(
    tmp_path: Path, siem: AuditReceiver, limits: OutboxLimits | None = None
) -> AsyncIterator[App]:
    """symbox with the file and the siem destination, and a grant receiver."""
    grants = GrantReceiver(GRANT_SECRET).start()
    try:
        path = write_config(tmp_path, config_text(grants.url, siem.url))
        config = load_config(
            path, environ={"SYMBOX_GRANT_SECRET": GRANT_SECRET, "SIEM_TOKEN": "Bearer s3cret"}
        )
        options = Options(
            data_dir=tmp_path / "data",
            port=0,
            shutdown_grace=2.0,
            audit_retry=FAST,
            audit_limits=limits or OutboxLimits(),
        )
        async with running(config, options, FakeClock()) as app:
            yield app
    finally:
        grants.stop()


async def signoff(app: App, flow: str = "signoff") -> str:
    """Request and approve an approval-only run; return its id."""
    run = await app.service.request(
        actor=CAROL, flow_name=flow, requester=None, inputs={"reason": "audit"}, channel="api"
    )
    await app.service.decide(actor=ALICE, run_id=run.id, approve=True, reason=None, channel="api")
    return run.id


async def wait_until(check: Any, what: str, limit: float = 30.0) -> None:
    """Poll an async check until it holds."""
    with anyio.move_on_after(limit):
        while True:
            if await check():
                return
            await anyio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def file_records(tmp_path: Path) -> list[dict[str, Any]]:
    """Every record in the audit file."""
    lines = (tmp_path / "data" / "audit.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


async def test_a_destination_down_during_1000_runs_gets_every_record_in_order(
    tmp_path: Path, siem: AuditReceiver
) -> None:
    siem.down()
    async with app_with(tmp_path, siem) as app:
        file, remote = app.shippers
        assert remote.name == "http:siem"

        async def runs(worker: int) -> None:
            for number in range(worker, 1000, 20):
                await signoff(app, "quiet" if number % 100 == 0 else "signoff")

        async with anyio.create_task_group() as group:
            for worker in range(20):
                group.start_soon(runs, worker)
        tip = await app.reader.audit_tip()

        async def file_done() -> bool:
            return file.cursor == tip

        await wait_until(file_done, "the file to have every record")
        await app.outbox.check()
        # The file is not held up, and nothing the siem lacks is pruned.
        assert remote.cursor < tip and remote.failing
        assert app.outbox.size >= tip - remote.cursor
        metrics = await app.metrics_text()
        assert 'symbox_audit_destination_failing{destination="http:siem"} 1' in metrics

        siem.up()

        async def remote_done() -> bool:
            return remote.cursor == tip

        await wait_until(remote_done, "the siem to catch up")
        await app.outbox.check()
        assert app.outbox.size == 1  # only the chain's tip stays
        assert not remote.failing

    everything = file_records(tmp_path)
    assert verify_file(tmp_path / "data" / "audit.jsonl").ok
    expected = [
        record["seq"]
        for record in everything
        if record.get("run", {}).get("flow") != "quiet" and record["seq"] <= tip
    ]
    received = siem.items()
    # In order, none lost, none twice, and the quiet environment's runs not sent at all.
    assert [item["seq"] for item in received] == expected
    assert len(expected) >= 2 * 990 + 1
    assert {item["id"] for item in received} == {
        record["id"] for record in everything if record["seq"] in set(expected)
    }
    assert all(request.headers["Authorization"] == "Bearer s3cret" for request in siem.accepted())
    assert received[0]["event"]["type"] == "config_load"


async def test_at_the_bound_new_access_is_refused_but_revocation_goes_on(
    tmp_path: Path, siem: AuditReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with app_with(tmp_path, siem, OutboxLimits(limit=40, alarm_fraction=0.5)) as app:
        granted = await app.service.request(
            actor=CAROL,
            flow_name="access",
            requester=None,
            inputs={"reason": "x", "duration": "10m", "target": "prod-db"},
            channel="api",
        )
        granted = await app.service.decide(
            actor=ALICE, run_id=granted.id, approve=True, reason=None, channel="api"
        )
        assert granted.status.value == "escalated"
        siem.down()
        refused = 0
        for _ in range(40):
            await app.outbox.check()
            try:
                await signoff(app)
            except Unavailable:
                refused += 1
        assert refused > 0
        assert app.outbox.full
        alarms = [
            r for r in caplog.records if r.getMessage().startswith("symbox: the audit outbox")
        ]
        assert len(alarms) == 1 and alarms[0].levelno == logging.ERROR
        metrics = await app.metrics_text()
        assert "symbox_audit_outbox_full 1" in metrics
        assert "symbox_audit_outbox_alarm 1" in metrics
        # Taking access away is never refused.
        revoked = await app.service.revoke(
            actor=CAROL, run_id=granted.id, reason=None, channel="api"
        )
        assert revoked.status.value == "deescalated"
        siem.up()

        async def drained() -> bool:
            await app.outbox.check()
            return not app.outbox.alarm

        await wait_until(drained, "the outbox to drain")
        await signoff(app)
    assert any(r.getMessage().startswith("audit outbox is below") for r in caplog.records)


SEGMENT_DESTINATION = """
resource "sym_integration" "segment" {{
  type        = "segment"
  name        = "segment"
  external_id = "my-workspace"
  settings    = {{ write_key = env("SEGMENT_WRITE_KEY") }}
}}

resource "sym_log_destination" "segment" {{
  type           = "segment"
  integration_id = sym_integration.segment.id
  settings       = {{ stream_name = "symbox-audit", base_url = "{url}" }}
}}
"""


async def test_a_segment_destination_gets_every_record_once_as_a_track_event(
    tmp_path: Path,
) -> None:
    segment = SegmentReceiver("wk-segment")
    grants = GrantReceiver(GRANT_SECRET).start()
    try:
        segment.fail(503)
        text = access_config(grants.url, extra=SEGMENT_DESTINATION.format(url=segment.url))
        config = load_config(
            write_config(tmp_path, text),
            environ={"SYMBOX_GRANT_SECRET": GRANT_SECRET, "SEGMENT_WRITE_KEY": "wk-segment"},
        )
        options = Options(data_dir=tmp_path / "data", port=0, audit_retry=FAST)
        async with running(config, options, FakeClock()) as app:
            _, remote = app.shippers
            assert remote.name == "segment:segment"
            await signoff(app)
            tip = await app.reader.audit_tip()

            async def done() -> bool:
                return remote.cursor == tip

            await wait_until(done, "segment to have every record")
    finally:
        grants.stop()
        segment.stop()
    everything = file_records(tmp_path)
    # Every record once, in order, after the 503 was retried; the messageId is the record id.
    assert segment.message_ids() == [record["id"] for record in everything]
    events = segment.items()
    assert [event["event"] for event in events] == [
        record["event"]["type"] for record in everything
    ]
    approve = next(event for event in events if event["event"] == "approve")
    assert approve["userId"] == "alice@example.com"
    assert events[0]["anonymousId"] == "symbox"  # the config load: symbox itself
    assert approve["properties"]["hash"] == next(
        record["hash"] for record in everything if record["id"] == approve["messageId"]
    )
