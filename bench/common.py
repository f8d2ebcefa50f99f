"""Shared pieces of the benchmarks: a no-op strategy, config, seeding, stats and machine facts."""

from __future__ import annotations

import os
import platform
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from symbox.app import DATABASE_NAME, App
from symbox.audit.entry import run_entry
from symbox.cli.tokens import issue_token
from symbox.config import load_config
from symbox.config.model import Config, Flow, Target
from symbox.engine import runs as engine
from symbox.engine.inputs import validate_inputs
from symbox.engine.model import Actor
from symbox.store.txn import WriteTxn
from symbox.store.writer import Writer
from symbox.strategies.base import GrantRequest
from tests.fakes.configs import GRANT_SECRET, access_config

FLOW = "access"
TARGET = "prod-db"
STRATEGY = "grants"
APPROVER_BOT = "ci"
# A different bot submits requests: whoever submitted a request may not decide it.
REQUESTER_BOT = "loadgen"
# Nothing listens here: the benchmarks replace the http strategy by NoopStrategy.
UNUSED_RECEIVER = "http://127.0.0.1:9/grants"


@dataclass
class NoopStrategy:
    """An access strategy that grants and revokes instantly, optionally noting when."""

    record: bool = False
    deescalated: dict[str, float] = field(default_factory=dict)

    async def escalate(self, request: GrantRequest) -> None:
        """Grant nothing, at once."""

    async def deescalate(self, request: GrantRequest) -> None:
        """Revoke nothing, at once; remember the wall-clock time of the call if recording."""
        if self.record:
            self.deescalated[request.run_id] = time.time()


def bench_env() -> dict[str, str]:
    """The environment a symbox process of the benchmarks needs (the strategy's secret)."""
    return {**os.environ, "SYMBOX_GRANT_SECRET": GRANT_SECRET}


# Hooks that run on every request and approval and change nothing: the sandbox's cost.
NOOP_HOOKS = """
def on_request(event):
    if event.payload.fields["reason"] == "never":
        return None


def on_approve(event):
    return None
"""


def write_config(
    folder: Path, receiver_url: str = UNUSED_RECEIVER, hooks: str | None = None
) -> Path:
    """Write the tests' access config (flow ``access``, approver ``bot:ci``) into ``folder``.

    With ``hooks``, the access flow's implementation is that source (``impl.py``).
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.hcl"
    text = access_config(receiver_url)
    if hooks is not None:
        (folder / "impl.py").write_text(hooks)
        text = text.replace('implementation = "# no hooks"', 'implementation = file("impl.py")', 1)
    path.write_text(text)
    return path


def read_config(path: Path) -> Config:
    """Load a config written by write_config."""
    return load_config(path, environ={"SYMBOX_GRANT_SECRET": GRANT_SECRET})


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values`` by nearest rank; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100.0 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    """p50, p99 and max of durations in seconds, in milliseconds."""
    return {
        "p50": percentile(values, 50) * 1000,
        "p99": percentile(values, 99) * 1000,
        "max": (max(values) if values else float("nan")) * 1000,
    }


def machine() -> dict[str, str]:
    """Facts about this machine for the results: cores, CPU model, memory, Python."""
    model = "unknown"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in lscpu.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    mem_kib = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "kernel": platform.release(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }


def print_machine() -> None:
    """Print machine facts, one per line."""
    for key, value in machine().items():
        print(f"{key:8} {value}")


def proc_status_kib(pid: int, key: str) -> int:
    """A ``/proc/PID/status`` memory field (e.g. VmHWM, VmRSS) in KiB; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds a process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


@asynccontextmanager
async def served_writer(data_dir: Path) -> AsyncIterator[Writer]:
    """A Writer on the data folder's database, serving jobs for the body (symbox not running)."""
    writer = Writer(data_dir / DATABASE_NAME)
    await writer.open()
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(writer.serve)
            yield writer
            group.cancel_scope.cancel()
    finally:
        await writer.close()


async def issue_bot_tokens(data_dir: Path, *names: str) -> list[str]:
    """Issue bot tokens straight into the data folder's database (symbox not running)."""
    secrets = []
    async with served_writer(data_dir) as writer:
        for name in names:
            secret, _ = await issue_token(
                writer,
                kind="bot",
                subject=name,
                label="bench",
                now=time.time(),
                expires_in=None,
                issued_by=Actor("operator", "bench"),
            )
            secrets.append(secret)
    return secrets


@dataclass(frozen=True)
class GrantSeeder:
    """Builds write jobs that store escalated runs of the ``access`` flow, as the service does."""

    flow: Flow
    target_key: str
    target: Target
    fields: dict[str, object]
    duration: int

    @classmethod
    def for_config(cls, config: Config, target: str = TARGET) -> GrantSeeder:
        """Resolve the flow, target and validated inputs once for many runs."""
        flow = config.flow_by_name(FLOW)
        assert flow is not None, "the bench config has an access flow"
        target_key = next(key for key, t in config.targets.items() if t.name == target)
        fields = validate_inputs(
            config, flow, {"reason": "bench", "duration": "1h", "target": target}
        )
        duration = fields["duration"]
        assert isinstance(duration, int)
        return cls(flow, target_key, config.targets[target_key], dict(fields), duration)

    def job(
        self, index: int, expires_at: float, *, audit: bool = True, ended: bool = False
    ) -> tuple[str, Callable[[WriteTxn], None]]:
        """The id of a new run and a job storing it escalated until ``expires_at``.

        The run goes request -> approve -> escalate through the engine's transitions; each
        step is saved with its due time, events and audit records like ``RunService._save``.
        The steps' times are set back so that the grant ends at ``expires_at``. Without
        ``audit`` the runs' audit records are left out (seeding is then ~40% faster).
        """
        escalated_at = expires_at - self.duration
        requested = engine.open_request(
            run_id=str(uuid.uuid4()),
            flow=self.flow,
            requester=f"user{index}@example.com",
            submitted_by=Actor.bot(REQUESTER_BOT),
            channel="api",
            fields=self.fields,
            now=escalated_at - 0.002,
        )
        approved = engine.decide(
            requested.run,
            self.flow,
            actor=Actor.bot(APPROVER_BOT),
            approve=True,
            reason=None,
            now=escalated_at - 0.001,
            channel="api",
            target_key=self.target_key,
        )
        active = engine.escalated(approved.run, self.flow, escalated_at)
        steps = [requested, approved, active]
        if ended:
            # Revoked on time: the grant is over as far as symbox knows.
            steps.append(engine.deescalated(active.run, expires_at))
        target = self.target

        def job(txn: WriteTxn) -> None:
            for transition in steps:
                run = transition.run
                txn.save_run(run, engine.due_at(run))
                for event in transition.events:
                    txn.add_event(event)
                    if audit:
                        txn.append_audit(run_entry(event, run, target))

        return requested.run.id, job


@dataclass(frozen=True)
class Seeded:
    """What seeding stored: the runs' ids in the order of the expiries, and how long it took."""

    run_ids: list[str]
    seconds: float


async def seed_active_grants(
    data_dir: Path,
    config: Config,
    expiries: Sequence[float],
    *,
    audit: bool = True,
    batch: int = 1000,
    target: str = TARGET,
    ended: bool = False,
) -> Seeded:
    """Store one escalated run per expiry time through the writer, ``batch`` runs a job."""
    seeder = GrantSeeder.for_config(config, target)
    run_ids: list[str] = []
    started = time.perf_counter()
    async with served_writer(data_dir) as writer:
        for first in range(0, len(expiries), batch):
            jobs = []
            for offset, expires_at in enumerate(expiries[first : first + batch]):
                run_id, job = seeder.job(first + offset, expires_at, audit=audit, ended=ended)
                run_ids.append(run_id)
                jobs.append(job)

            def one_batch(txn: WriteTxn, jobs: list[Callable[[WriteTxn], None]] = jobs) -> None:
                for job in jobs:
                    job(txn)

            await writer.submit(one_batch)
    return Seeded(run_ids, time.perf_counter() - started)


async def drive_cycles(app: App, tasks: int, duration: float) -> tuple[int, float]:
    """Run request -> approve cycles on ``app``'s service from ``tasks`` tasks for
    ``duration`` seconds, in-process (no HTTP); return (cycles, CPU seconds used)."""
    requester, approver = Actor.bot(REQUESTER_BOT), Actor.bot(APPROVER_BOT)
    inputs = {"reason": "bench", "duration": "1h", "target": TARGET}
    cycles = 0
    stop_at = time.perf_counter() + duration

    async def loop(task: int) -> None:
        nonlocal cycles
        number = 0
        while time.perf_counter() < stop_at:
            number += 1
            run = await app.service.request(
                actor=requester,
                flow_name=FLOW,
                requester=f"t{task}-{number}@example.com",
                inputs=inputs,
                channel="api",
            )
            await app.service.decide(
                actor=approver, run_id=run.id, approve=True, reason=None, channel="api"
            )
            cycles += 1

    cpu_before = time.process_time()
    async with anyio.create_task_group() as loops:
        for task in range(tasks):
            loops.start_soon(loop, task)
    return cycles, time.process_time() - cpu_before
