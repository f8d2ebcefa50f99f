"""The outbox's size: pruning what every destination has, an alarm, and a hard bound."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import anyio

from symbox.store.reader import Reader
from symbox.store.writer import Writer

log = logging.getLogger(__name__)

Gauge = tuple[str, str, tuple[tuple[str, str], ...], float]
Report = Callable[[str], Awaitable[None]]
# Rows deleted per write job, so pruning a large backlog never holds the writer for long.
PRUNE_CHUNK = 5000


class Cursor(Protocol):
    """A destination's durable position in the outbox (an AuditShipper)."""

    @property
    def name(self) -> str:
        """The destination's name."""
        ...

    @property
    def cursor(self) -> int:
        """The last seq the destination has (or passed over)."""
        ...


@dataclass(frozen=True)
class OutboxLimits:
    """How many records the outbox may hold, and when to raise the alarm before that."""

    limit: int = 1_000_000
    alarm_fraction: float = 0.8
    # While the alarm holds, it is repeated this often (log, Slack).
    repeat_every: float = 3600.0

    @property
    def alarm_at(self) -> int:
        """The size at which the alarm goes off."""
        return max(1, int(self.limit * self.alarm_fraction))

    @property
    def clear_at(self) -> int:
        """The size below which a raised alarm clears (lower, so it does not flap)."""
        return int(self.alarm_at * 0.9)


class OutboxMonitor:
    """Measures the outbox, prunes it behind the slowest destination, and guards its bound.

    At the bound, new requests and approvals are refused (see ``refusal``): no new access
    is granted that the audit trail could not record. Revocations, expiries and failures
    are still recorded, past the bound if need be, because refusing them would leave
    access in place.
    """

    def __init__(
        self,
        reader: Reader,
        writer: Writer,
        cursors: Sequence[Cursor],
        *,
        limits: OutboxLimits | None = None,
        report: Report | None = None,
        interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._cursors = cursors
        self.limits = limits or OutboxLimits()
        self._report = report
        self._interval = interval
        self._monotonic = monotonic
        self.size = 0
        self.tip = 0
        self.pruned = 0
        self._alarmed_at: float | None = None

    @property
    def full(self) -> bool:
        """True when the outbox holds as many records as it may."""
        return self.size >= self.limits.limit

    @property
    def alarm(self) -> bool:
        """True while the alarm is raised: from its level until the outbox is well below it."""
        if self._alarmed_at is not None:
            return self.size >= self.limits.clear_at
        return self.size >= self.limits.alarm_at

    def refusal(self) -> str | None:
        """Why new access is refused right now, or None."""
        if not self.full:
            return None
        return (
            f"the audit outbox is full ({self.size} records, limit {self.limits.limit}): "
            "an audit destination is not taking records; new requests and approvals "
            "resume once it catches up"
        )

    async def check(self) -> None:
        """Prune what every destination has, measure, and raise or clear the alarm."""
        floor, tip = await self._reader.audit_span()
        behind = min((cursor.cursor for cursor in self._cursors), default=tip)
        while floor and floor < min(behind, tip):
            up_to = min(behind, floor + PRUNE_CHUNK - 1)
            deleted = await self._writer.submit(
                lambda txn, up_to=up_to: txn.prune_audit(up_to)  # type: ignore[misc]
            )
            self.pruned += deleted
            floor, tip = await self._reader.audit_span()
            if not deleted:
                break
        self.tip = tip
        self.size = 0 if not floor else tip - floor + 1
        await self._alarm()

    async def _alarm(self) -> None:
        now = self._monotonic()
        if not self.alarm:
            if self._alarmed_at is not None:
                self._alarmed_at = None
                log.warning("audit outbox is below its alarm level again", extra=self._state())
            return
        if self._alarmed_at is not None and now - self._alarmed_at < self.limits.repeat_every:
            return
        self._alarmed_at = now
        slow = [c.name for c in self._cursors if self.tip - c.cursor >= self.size // 2]
        message = (
            f"symbox: the audit outbox holds {self.size} records (alarm at "
            f"{self.limits.alarm_at}, limit {self.limits.limit}); behind: "
            f"{', '.join(slow) or 'none'}. "
            + (
                "New requests and approvals are refused until it drains."
                if self.full
                else "At the limit, new requests and approvals will be refused."
            )
        )
        log.error(message, extra={**self._state(), "behind": slow})
        if self._report is not None:
            try:
                await self._report(message)
            except Exception:
                log.exception("reporting the audit outbox alarm failed")

    def _state(self) -> dict[str, int]:
        return {"outbox_records": self.size, "outbox_limit": self.limits.limit}

    def gauges(self) -> list[Gauge]:
        """The outbox's gauges for /metrics."""
        return [
            ("symbox_audit_outbox_records", "Audit records held in the outbox.", (), self.size),
            (
                "symbox_audit_outbox_limit",
                "Most records the outbox may hold.",
                (),
                self.limits.limit,
            ),
            (
                "symbox_audit_outbox_alarm",
                "1 while the outbox is above its alarm level.",
                (),
                1.0 if self.alarm else 0.0,
            ),
            (
                "symbox_audit_outbox_full",
                "1 while new requests and approvals are refused for a full outbox.",
                (),
                1.0 if self.full else 0.0,
            ),
        ]

    async def run(self) -> None:
        """Check every ``interval`` seconds until cancelled."""
        while True:
            try:
                await self.check()
            except Exception:
                log.exception("checking the audit outbox failed")
            await anyio.sleep(self._interval)


def slack_report(post: Callable[..., Awaitable[object]], channels: Sequence[str]) -> Report:
    """Post an alarm to each error logger's channel with ``chat_postMessage``."""

    async def report(text: str) -> None:
        failed = 0
        for channel in channels:
            try:
                await post(channel=channel, text=text)
            except Exception:
                # One unreachable channel must not keep the alarm from the others.
                failed += 1
                log.exception("posting the audit outbox alarm failed", extra={"channel": channel})
        if failed:
            raise RuntimeError(f"the alarm reached {len(channels) - failed} of {len(channels)}")

    return report
