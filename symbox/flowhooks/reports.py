"""What the hook pool reports, made visible: an audited `hook_error`, a metric, a log line."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from symbox.audit.entry import system_entry
from symbox.clock import Clock
from symbox.config.model import Config
from symbox.engine.model import Actor
from symbox.flowhooks.forms import implementation_file
from symbox.metrics import Metrics
from symbox.sandbox.pool import HookIncident

# Commits one audit record that belongs to no run.
Record = Callable[[dict[str, Any]], Awaitable[None]]


class HookReports:
    """The App's PoolReporter: names the flows behind an owner and audits what happened."""

    def __init__(self, config: Config, record: Record, metrics: Metrics, clock: Clock) -> None:
        self._config = config
        self._record = record
        self._metrics = metrics
        self._clock = clock

    def describe(self, owner: str) -> str:
        """An owner (a hook file, or "strategy NAME") with the flows whose code it is."""
        flows = sorted(
            flow.name for flow in self._config.flows.values() if implementation_file(flow) == owner
        )
        if not flows:
            return owner
        return f"{owner} (flow {', '.join(flows)})"

    async def misbehaved(self, incident: HookIncident) -> None:
        """Audit a replaced worker as a `hook_error` naming the suspected flows."""
        suspects = [self.describe(owner) for owner in incident.suspects]
        ran = ", ".join(suspects) if suspects else "no code"
        self._metrics.count(
            "symbox_hook_worker_incidents_total",
            "Hook workers replaced after a protocol failure or a crash.",
            scope=incident.scope,
        )
        reason = f"hook worker replaced: {incident.reason}; {ran} had run on it"
        await self._record(
            system_entry(
                "sandbox",
                "hook_error",
                actor=Actor.system(),
                at=self._clock.now(),
                channel="system",
                fields={
                    "scope": incident.scope,
                    "suspects": suspects,
                    "victim": self.describe(incident.victim),
                    "retried": incident.retried,
                },
                errors=(reason,),
            )
        )

    async def throttled(self, owner: str, scope: str) -> None:
        """Audit and count an owner that keeps timing out and now runs one call at a time."""
        self._metrics.count(
            "symbox_hook_throttled_total",
            "Times a flow's hooks were throttled for timing out again and again.",
            scope=scope,
        )
        await self._record(
            system_entry(
                "sandbox",
                "hook_throttled",
                actor=Actor.system(),
                at=self._clock.now(),
                channel="system",
                fields={"scope": scope, "owner": self.describe(owner)},
                errors=(f"{self.describe(owner)} keeps timing out; one call at a time",),
            )
        )
