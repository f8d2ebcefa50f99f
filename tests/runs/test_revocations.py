"""Due revocations in groups, through the real service, store and receiver."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import anyio
import pytest

from symbox.audit.verify import verify_file
from symbox.runs.expiry import BATCHES_IN_FLIGHT, RETRY_AFTER_ERROR
from symbox.runs.locks import KeyedLocks
from symbox.runs.revocations import ROOM_WAIT
from tests.fakes.configs import GRANT_SECRET, access_config
from tests.fakes.receiver import GrantReceiver
from tests.harness import Harness, harness

pytestmark = pytest.mark.anyio

PEOPLE = 40


async def escalate(
    h: Harness, requester: str, duration: str = "1m", target: str = "prod-db"
) -> str:
    """Request for ``requester`` as the ci bot, approve it, and return the escalated run's id."""
    inputs = {"reason": "burst", "duration": duration, "target": target}
    response = await h.call(
        "POST",
        "/api/v1/events/request",
        "ci",
        {"flow": "access", "user_email": requester, "flow_inputs": inputs},
    )
    assert response.status_code == 201, response.text
    run_id = str(response.json()["run_id"])
    approved = await h.approve(run_id)
    assert approved.json()["status"] == "escalated", approved.text
    return run_id


async def escalate_many(h: Harness, count: int) -> list[str]:
    return [await escalate(h, f"user{number}@example.com") for number in range(count)]


def database(tmp_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(tmp_path / "data" / "symbox.db")


def event_counts(tmp_path: Path, name: str) -> Counter[str]:
    with database(tmp_path) as conn:
        rows = conn.execute("SELECT run_id FROM events WHERE name = ?", (name,)).fetchall()
    return Counter(run_id for (run_id,) in rows)


def check_audit(tmp_path: Path) -> None:
    """The chain verifies and every committed event has exactly one audit record."""
    with database(tmp_path) as conn:
        events = {row[0] for row in conn.execute("SELECT id FROM events")}
    audit = tmp_path / "data" / "audit.jsonl"
    result = verify_file(audit)
    assert result.ok, result.problem
    records = Counter(json.loads(line)["id"] for line in audit.read_text().splitlines())
    assert max(records.values()) == 1
    assert events <= set(records)


async def wait_revoked(h: Harness, run_ids: list[str], step: float = 0.0) -> None:
    """Wait until every grant is revoked; with ``step``, moving the clock on at each look."""

    async def all_ended() -> bool:
        if step:
            await h.advance(step)
        for run_id in run_ids:
            if (await h.run(run_id))["grant"]["state"] != "revoked":
                return False
        return True

    await h.wait_for(all_ended, "every grant to be revoked")


async def wait_shipped(h: Harness, tmp_path: Path) -> None:
    def shipped() -> bool:
        audit = tmp_path / "data" / "audit.jsonl"
        with database(tmp_path) as conn:
            (tip,) = conn.execute("SELECT max(seq) FROM audit_outbox").fetchone()
        return audit.exists() and len(audit.read_text().splitlines()) >= tip

    await h.wait_for(shipped, "the audit file to catch up")


async def test_many_grants_due_at_once_are_each_revoked_once_with_their_audit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="symbox")
    async with harness(tmp_path) as h:
        run_ids = await escalate_many(h, PEOPLE)
        assert len(h.receiver.state.granted) == PEOPLE
        await h.advance(60)
        await wait_revoked(h, run_ids)
        assert h.receiver.state.granted == set()
        assert len(h.receiver.state.calls("deescalate")) == PEOPLE
        for run_id in run_ids:
            run = await h.run(run_id)
            assert run["status"] == "deescalated"
            assert run["events"][-1]["name"] == "deescalate"
            assert run["events"][-1]["channel"] == "timer"
            assert run["events"][-1]["details"] == {"reason": "expired"}
        metrics = await h.app.metrics_text()
        assert f"symbox_deescalation_lateness_seconds_count {PEOPLE}" in metrics
        await wait_shipped(h, tmp_path)
    assert event_counts(tmp_path, "deescalate") == Counter(run_ids)
    # One log line per revocation, as on the one-by-one path.
    logged = [r for r in caplog.records if r.getMessage() == "run deescalate"]
    assert sorted(r.__dict__["run_id"] for r in logged) == sorted(run_ids)
    check_audit(tmp_path)


async def test_an_expiring_grant_covered_by_another_is_left_to_it(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        others = await escalate_many(h, 5)
        covered = await escalate(h, "carol@example.com", "1m")
        covering = await escalate(h, "carol@example.com", "10m")
        await h.advance(60)
        await wait_revoked(h, [*others, covered])
        run = await h.run(covered)
        assert run["events"][-1]["details"]["covered_by"] == covering
        assert ("prod-db", "carol@example.com") in h.receiver.state.granted
        assert (await h.run(covering))["grant"]["state"] == "active"
        revoked = {call.body["requester"]["email"] for call in h.receiver.state.calls("deescalate")}
        assert "carol@example.com" not in revoked
        assert len(revoked) == 5


async def test_two_grants_of_one_access_due_together_revoke_it_once(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        others = await escalate_many(h, 5)
        first = await escalate(h, "carol@example.com")
        second = await escalate(h, "carol@example.com")
        await h.advance(60)
        await wait_revoked(h, [*others, first, second])
        assert h.receiver.state.granted == set()
        carol = [
            call
            for call in h.receiver.state.calls("deescalate")
            if call.body["requester"]["email"] == "carol@example.com"
        ]
        # One of them is revoked while the other still covers it; the other ends the access.
        assert len(carol) == 1
        covered = [
            run_id
            for run_id in (first, second)
            if "covered_by" in (await h.run(run_id))["events"][-1]["details"]
        ]
        assert len(covered) == 1
    assert event_counts(tmp_path, "deescalate") == Counter([*others, first, second])


async def test_a_failing_revoke_in_a_group_fails_alone_and_is_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="symbox")
    async with harness(tmp_path) as h:
        run_ids = await escalate_many(h, 10)
        h.receiver.state.fail_with = [503]
        await h.advance(60)

        async def settled() -> bool:
            states = [(await h.run(run_id))["grant"]["state"] for run_id in run_ids]
            return states.count("revoked") == 9 and states.count("revoking") == 1

        await h.wait_for(settled, "nine revoked and one to retry")
        [failed] = [r for r in caplog.records if r.getMessage() == "revoke failed; trying again"]
        failed_id = failed.__dict__["run_id"]
        run = await h.run(failed_id)
        assert run["grant"]["attempts"] == 1 and "HTTP 503" in run["grant"]["last_error"]
        assert [e["name"] for e in run["events"]][-1] == "deescalate_failed"
        await h.advance(1.5)  # the first retry comes within 1.5 s (FAST_RETRIES)
        await wait_revoked(h, [failed_id])
        assert h.receiver.state.granted == set()
        await wait_shipped(h, tmp_path)
    assert event_counts(tmp_path, "deescalate") == Counter(run_ids)
    assert event_counts(tmp_path, "deescalate_failed") == Counter([failed_id])
    check_audit(tmp_path)


async def test_a_run_that_cannot_be_recorded_does_not_undo_the_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="symbox")
    async with harness(tmp_path) as h:
        run_ids = await escalate_many(h, 10)
        stuck = run_ids[3]
        # Fault injection at the storage boundary: recording this one run's revoke fails.
        with database(tmp_path) as conn:
            conn.execute(
                "CREATE TRIGGER refuse_revoke BEFORE UPDATE ON runs WHEN NEW.id = "
                f"'{stuck}' AND NEW.status = 'deescalated'"
                " BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
            )
        await h.advance(60)
        await wait_revoked(h, [run_id for run_id in run_ids if run_id != stuck])
        await h.wait_for(
            lambda: any(r.getMessage() == "processing a due run failed" for r in caplog.records),
            "the failure to be logged",
        )
        assert (await h.run(stuck))["grant"]["state"] == "active"
        with database(tmp_path) as conn:
            conn.execute("DROP TRIGGER refuse_revoke")
        await h.advance(RETRY_AFTER_ERROR)
        await wait_revoked(h, [stuck])
        assert h.receiver.state.granted == set()
        await wait_shipped(h, tmp_path)
    assert event_counts(tmp_path, "deescalate") == Counter(run_ids)
    check_audit(tmp_path)


async def test_a_run_whose_access_is_busy_waits_for_it(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        others = await escalate_many(h, 5)
        busy = await escalate(h, "carol@example.com")
        with database(tmp_path) as conn:
            (key,) = conn.execute("SELECT grant_key FROM runs WHERE id = ?", (busy,)).fetchone()
        release = anyio.Event()

        async def hold_the_key() -> None:
            async with h.app.service.locks.hold(key):
                await release.wait()

        async with anyio.create_task_group() as group:
            group.start_soon(hold_the_key)
            await anyio.sleep(0.01)
            await h.advance(60)
            await wait_revoked(h, others)
            await anyio.sleep(0.05)
            assert (await h.run(busy))["grant"]["state"] == "active"
            release.set()
        await wait_revoked(h, [busy])
        assert h.receiver.state.granted == set()
    assert event_counts(tmp_path, "deescalate") == Counter([*others, busy])


async def test_a_lock_is_taken_without_waiting_only_when_free() -> None:
    locks = KeyedLocks()
    assert locks.try_acquire("a")
    assert not locks.try_acquire("a")
    assert locks.try_acquire("b")
    order: list[str] = []

    async def waiter() -> None:
        async with locks.hold("a"):
            order.append("waiter")

    async with anyio.create_task_group() as group:
        group.start_soon(waiter)
        await anyio.sleep(0.01)
        assert locks.users("a") == 2 and order == []
        order.append("released")
        locks.release("a")
    locks.release("b")
    assert order == ["released", "waiter"]
    assert len(locks) == 0


async def test_a_run_whose_events_cannot_be_recorded_fails_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="symbox")
    async with harness(tmp_path) as h:
        run_ids = await escalate_many(h, 10)
        stuck = run_ids[6]
        # Its row can be written but not its event: the group is done again run by run.
        with database(tmp_path) as conn:
            conn.execute(
                "CREATE TRIGGER refuse_event BEFORE INSERT ON events WHEN NEW.run_id = "
                f"'{stuck}' AND NEW.name = 'deescalate'"
                " BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
            )
        await h.advance(60)
        await wait_revoked(h, [run_id for run_id in run_ids if run_id != stuck])
        await h.wait_for(
            lambda: any(r.getMessage() == "processing a due run failed" for r in caplog.records),
            "the failure to be logged",
        )
        run = await h.run(stuck)
        assert run["grant"]["state"] == "active" and run["status"] == "escalated"
        with database(tmp_path) as conn:
            conn.execute("DROP TRIGGER refuse_event")
        await h.advance(RETRY_AFTER_ERROR)
        await wait_revoked(h, [stuck])
        await wait_shipped(h, tmp_path)
    assert event_counts(tmp_path, "deescalate") == Counter(run_ids)
    check_audit(tmp_path)


async def test_a_run_changed_while_its_revoke_was_made_is_recorded_as_it_stands(
    tmp_path: Path,
) -> None:
    async with harness(tmp_path) as h:
        run_ids = await escalate_many(h, 5)
        target = run_ids[2]
        h.receiver.state.revoke_delay = 0.5
        await h.advance(60)
        await h.wait_for(
            lambda: len(h.receiver.state.calls("deescalate")) == 5, "the revokes to be made"
        )
        # Someone revokes it by hand while its expiry's revoke is on its way.
        async with anyio.create_task_group() as group:
            group.start_soon(
                h.call,
                "POST",
                "/api/v1/events/deescalate",
                "alice@example.com",
                {"run_id": target},
            )

            async def revoke_requested() -> bool:
                return bool((await h.run(target))["grant"]["state"] == "revoking")

            await h.wait_for(revoke_requested, "the revoke request to be recorded")
            # The CLI beside the server commits too: the writer cannot trust what it kept.
            with database(tmp_path) as conn:
                conn.execute(
                    "INSERT INTO identities (email, system, identity, updated_at)"
                    " VALUES ('dan@example.com', 'okta', 'dan', 0)"
                )
            await wait_revoked(h, run_ids)
        run = await h.run(target)
        names = [event["name"] for event in run["events"]]
        assert names == ["request", "approve", "escalate", "deescalate_requested", "deescalate"]
        assert run["events"][-1]["details"]["reason"] == "revoked"
    assert event_counts(tmp_path, "deescalate") == Counter(run_ids)


async def test_a_limited_strategy_revokes_a_group_oldest_due_first(tmp_path: Path) -> None:
    def one_at_a_time(receiver_url: str) -> str:
        return access_config(receiver_url).replace(
            'signing_secret = env("SYMBOX_GRANT_SECRET")',
            'signing_secret = env("SYMBOX_GRANT_SECRET")\n    max_concurrency = 1',
            1,
        )

    # Each grant expires 5 s after the one before it. The store reads a group in the order
    # of the runs' keys (random), and only the timer's 4 calls in flight reach the gate at
    # once: the gate alone cannot put the group back in order.
    async with harness(tmp_path, config_text=one_at_a_time, timer_concurrency=4) as h:
        requesters = [f"user{number}@example.com" for number in range(12)]
        run_ids = []
        for requester in requesters:
            run_ids.append(await escalate(h, requester, duration="10m"))
            await h.advance(5)
        await h.advance(10 * 60)
        await wait_revoked(h, run_ids)
    revoked = [item.body["requester"]["email"] for item in h.receiver.state.calls("deescalate")]
    assert revoked == requesters


def with_legacy_strategy(legacy_url: str) -> Callable[[str], str]:
    """The access config plus a second http strategy, to ``legacy_url``, and its flow."""
    extra = f"""
resource "sym_target" "legacy_db" {{
  type = "custom"
  name = "legacy-db"
  settings = {{
    identifier = "legacy"
  }}
}}

resource "sym_strategy" "legacy" {{
  type    = "http"
  name    = "legacy"
  targets = [sym_target.legacy_db.id]
  settings = {{
    url            = "{legacy_url}"
    signing_secret = env("SYMBOX_GRANT_SECRET")
  }}
}}

resource "sym_flow" "legacy" {{
  name           = "legacy"
  implementation = "# no hooks"
  environment_id = sym_environment.main.id
  vars = {{
    approvers = "alice@example.com,bot:ci"
  }}
  params {{
    strategy_id = sym_strategy.legacy.id
    allow_duplicate_requests = true
    prompt_field {{
      name = "reason"
      type = "string"
    }}
    prompt_field {{
      name           = "duration"
      type           = "duration"
      allowed_values = ["1m", "10m", "1h"]
    }}
  }}
}}
"""
    return lambda url: access_config(url, extra=extra)


@pytest.fixture
def legacy() -> Iterator[GrantReceiver]:
    """A second receiver, for the legacy strategy, whose revokes hang until released."""
    receiver = GrantReceiver(GRANT_SECRET).start()
    receiver.state.hold_revokes()
    try:
        yield receiver
    finally:
        receiver.state.release_revokes()
        receiver.stop()


def sent_at_least(receiver: GrantReceiver, count: int) -> bool:
    return len(receiver.state.calls("deescalate")) >= count


async def escalate_legacy(h: Harness, requester: str) -> str:
    response = await h.call(
        "POST",
        "/api/v1/events/request",
        "ci",
        {
            "flow": "legacy",
            "user_email": requester,
            "flow_inputs": {"reason": "x", "duration": "1m", "target": "legacy-db"},
        },
    )
    assert response.status_code == 201, response.text
    run_id = str(response.json()["run_id"])
    assert (await h.approve(run_id)).json()["status"] == "escalated"
    return run_id


async def test_a_strategy_whose_target_hangs_holds_up_only_its_own_revocations(
    tmp_path: Path,
    legacy: GrantReceiver,
) -> None:
    async with harness(
        tmp_path, config_text=with_legacy_strategy(legacy.url), timer_concurrency=4
    ) as h:
        try:
            # More hanging revokes than calls in flight, falling due in more groups
            # than the timer reads at once.
            hanging: list[str] = []
            for wave in range(BATCHES_IN_FLIGHT + 1):
                hanging += [
                    await escalate_legacy(h, f"old{wave}-{number}@example.com")
                    for number in range(3)
                ]
                await h.advance(60)
                await h.wait_for(
                    partial(sent_at_least, legacy, min(len(hanging), 4)),
                    "the legacy target to be sent revokes",
                )
            # Grants through the other strategy, falling due with and after them.
            together = await escalate_many(h, 3)
            await h.advance(30)
            after = [await escalate(h, f"late{number}@example.com") for number in range(3)]
            await h.advance(60)
            await wait_revoked(h, together + after)
            # ...while every call to the legacy target still hangs: none has failed or
            # timed out, and no more than its calls in flight were made.
            assert len(legacy.state.calls("deescalate")) == 4
            for run_id in hanging:
                grant = (await h.run(run_id))["grant"]
                assert grant["state"] == "active" and grant["attempts"] == 0, grant
        finally:
            legacy.state.release_revokes()
        await wait_revoked(h, hanging)
    assert len(legacy.state.calls("deescalate")) == len(hanging)
    check_audit(tmp_path)


async def test_a_backed_up_strategy_defers_what_it_has_no_room_for(
    tmp_path: Path, legacy: GrantReceiver
) -> None:
    async with harness(
        tmp_path,
        config_text=with_legacy_strategy(legacy.url),
        timer_concurrency=1,
        revoke_backlog=2,
    ) as h:
        try:
            first = [await escalate_legacy(h, f"old{n}@example.com") for n in range(2)]
            await h.advance(30)
            then = [await escalate_legacy(h, f"then{n}@example.com") for n in range(5)]
            hanging = first + then
            await h.advance(30)
            await h.wait_for(partial(sent_at_least, legacy, 1), "a revoke to be sent")
            await h.advance(30)

            async def deferred(count: int) -> bool:
                # Time moves on while we look: the runs beyond the backlog wait for
                # room until the strategy has committed nothing for ROOM_WAIT.
                await h.advance(ROOM_WAIT / 5)
                metrics = await h.app.metrics_text()
                line = f'symbox_revocations_deferred_total{{strategy="legacy"}} {count}'
                return line in metrics

            await h.wait_for(lambda: deferred(5), "the runs beyond the backlog to be put off")
            # Put off, not failed: looked at again a second on, still without room.
            await h.wait_for(lambda: deferred(10), "the timer to look at them again")
            assert len(legacy.state.calls("deescalate")) == 1
            for run_id in hanging:
                grant = (await h.run(run_id))["grant"]
                assert grant["state"] == "active" and grant["attempts"] == 0, grant
        finally:
            legacy.state.release_revokes()

        # As the target answers, room is made and the rest are taken on.
        await wait_revoked(h, hanging, step=1)
    revoked = {item.body["requester"]["email"] for item in legacy.state.calls("deescalate")}
    assert revoked == {f"old{n}@example.com" for n in range(2)} | {
        f"then{n}@example.com" for n in range(5)
    }
    check_audit(tmp_path)


async def test_hanging_calls_to_one_target_leave_connections_for_the_others(
    tmp_path: Path,
    legacy: GrantReceiver,
) -> None:
    # More hanging calls than an HTTP client's usual connection pool (100).
    count = 104
    async with harness(
        tmp_path, config_text=with_legacy_strategy(legacy.url), timer_concurrency=count
    ) as h:
        try:
            hanging = [await escalate_legacy(h, f"old{n}@example.com") for n in range(count)]
            await h.advance(60)
            await h.wait_for(
                lambda: len(legacy.state.calls("deescalate")) == count,
                "every revoke to reach the legacy target",
            )
            run_ids = await escalate_many(h, 2)
            await h.advance(60)
            await wait_revoked(h, run_ids)
        finally:
            legacy.state.release_revokes()
        await wait_revoked(h, hanging)


async def test_a_strategy_working_through_a_burst_takes_on_more_as_it_commits(
    tmp_path: Path,
) -> None:
    # Four due, then four more while the first four are being revoked, with room for
    # four: the second four wait for room as the first are committed; none is put off.
    async with harness(tmp_path, timer_concurrency=2, revoke_backlog=4) as h:
        h.receiver.state.revoke_delay = 0.05
        first = await escalate_many(h, 4)
        await h.advance(30)
        then = [await escalate(h, f"then{number}@example.com") for number in range(4)]
        await h.advance(30)
        await h.wait_for(partial(sent_at_least, h.receiver, 1), "the first revokes")
        await h.advance(30)
        run_ids = first + then
        await wait_revoked(h, run_ids)
        assert "symbox_revocations_deferred_total" not in await h.app.metrics_text()
    assert event_counts(tmp_path, "deescalate") == Counter(run_ids)
    check_audit(tmp_path)


async def test_a_strategy_with_no_room_holds_up_only_its_own_revocations(
    tmp_path: Path,
    legacy: GrantReceiver,
) -> None:
    async with harness(
        tmp_path,
        config_text=with_legacy_strategy(legacy.url),
        timer_concurrency=1,
        revoke_backlog=2,
    ) as h:
        try:
            first = [await escalate_legacy(h, f"old{n}@example.com") for n in range(2)]
            await h.advance(30)
            then = [await escalate_legacy(h, f"then{n}@example.com") for n in range(2)]
            others = await escalate_many(h, 2)
            await h.advance(30)
            await h.wait_for(partial(sent_at_least, legacy, 1), "the first legacy revoke")
            # The legacy strategy has all it may hold; its next runs, due with the
            # others, wait for room, holding up the others' at most ROOM_WAIT.
            await h.advance(30)

            waited = h.clock.now()
            await wait_revoked(h, others, step=ROOM_WAIT / 10)
            assert h.clock.now() - waited <= ROOM_WAIT + 0.5
            # ...while the legacy target still hangs, and its runs wait, not deferred.
            assert len(legacy.state.calls("deescalate")) == 1
            metrics = await h.app.metrics_text()
            assert "symbox_revocations_deferred_total" not in metrics
        finally:
            legacy.state.release_revokes()

        await wait_revoked(h, first + then, step=0.1)
    check_audit(tmp_path)
