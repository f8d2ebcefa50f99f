"""Works the notification outbox: due rows are sent, retried with backoff, or end as failed.

Rows are written with the run change that causes them, so a notification due when symbox
stops is sent after it starts again. Delivery is at least once: a row sent just before a
crash, but not yet marked, is sent again.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import anyio
import httpx

from symbox.audit.delivery import RetryTiming
from symbox.audit.outbox import Gauge
from symbox.clock import Clock
from symbox.config.model import Config
from symbox.metrics import Metrics
from symbox.notify.email import EmailSender
from symbox.notify.model import EMAIL, KINDS, SLACK, Queued, Sender, SendError
from symbox.notify.webhook import WebhookSender
from symbox.store.reader import Reader
from symbox.store.writer import Writer

log = logging.getLogger(__name__)

# The deliverer looks at the outbox at least this often (clock seconds), so a row it was
# not woken for (written by another process) waits at most this long.
MAX_SLEEP = 30.0
# After the outbox itself could not be read or written, try again after this long.
ERROR_PAUSE = 1.0
# Delivered and failed notifications are kept this long (to look into), then deleted.
KEEP_DONE = 7 * 86400.0
# How often (clock seconds) the deliverer deletes what it no longer keeps.
PRUNE_EVERY = 3600.0


@dataclass(frozen=True)
class NotifyRetry:
    """Backoff between attempts (doubling, jittered, capped) and how many attempts in all."""

    first: float = 10.0
    maximum: float = 900.0
    attempts: int = 12

    def delay(self, attempts: int, sample: float) -> float:
        """Seconds before the next attempt after ``attempts`` failed ones."""
        return RetryTiming(self.first, self.maximum).delay(attempts, sample)


def build_senders(config: Config, client: httpx.AsyncClient) -> dict[str, Sender]:
    """A sender per webhook and smtp integration, by integration key."""
    senders: dict[str, Sender] = {}
    for integration in config.integrations.values():
        if integration.type == "webhook":
            senders[integration.key] = WebhookSender(integration, client)
        elif integration.type == "smtp":
            senders[integration.key] = EmailSender(integration)
    return senders


class NotificationDeliverer:
    """Sends due notifications, a few at a time, and reschedules the ones that fail."""

    def __init__(
        self,
        reader: Reader,
        writer: Writer,
        clock: Clock,
        senders: Mapping[str, Sender],
        metrics: Metrics,
        *,
        retry: NotifyRetry | None = None,
        sample: Callable[[], float] = random.random,
        batch: int = 64,
        concurrency: int = 16,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._clock = clock
        self._senders = senders
        self._metrics = metrics
        self._retry = retry or NotifyRetry()
        self._sample = sample
        self._batch = batch
        self._slots = anyio.Semaphore(concurrency)
        self._wake = anyio.Event()
        # Set when an attempt could not be recorded, so the loop pauses instead of spinning.
        self._troubled = False
        self._pruned_at: float | None = None
        # Runs whose rows are being sent now.
        self._busy: set[str] = set()

    def wake(self) -> None:
        """Say that rows may have been queued (called after every commit; never blocks)."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled: one run's rows in order, runs side by side.

        A run whose rows are being sent is left alone until they are done, so a slow
        receiver delays only its own runs' notifications, never the others'.
        """
        async with anyio.create_task_group() as workers:
            while True:
                self._wake = anyio.Event()
                if self._troubled:
                    self._troubled = False
                    await anyio.sleep(ERROR_PAUSE)
                try:
                    await self._prune()
                    # One moment for both looks: a row falling due between them would be
                    # neither started nor waited for, and would sleep out MAX_SLEEP.
                    now = self._clock.now()
                    if await self._start_due(workers, now):
                        continue  # a full batch: more may be due already
                    next_at = await self._reader.next_notification_after(now)
                except Exception:
                    log.exception("reading the notification outbox failed")
                    await anyio.sleep(ERROR_PAUSE)
                    continue
                await self._sleep(next_at)

    async def _prune(self) -> None:
        now = self._clock.now()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        await self._writer.submit(lambda txn: txn.prune_notifications(now - KEEP_DONE))

    async def _start_due(self, workers: anyio.abc.TaskGroup, now: float) -> bool:
        """Start sending the rows due at ``now`` of runs not being sent already; True when
        the batch was full and some were started (more may be due)."""
        due = await self._reader.due_notifications(now, self._batch)
        by_run: dict[str, list[Queued]] = {}
        for queued in due:
            if queued.outgoing.run_id not in self._busy:
                by_run.setdefault(queued.outgoing.run_id, []).append(queued)
        for run_id, rows in by_run.items():
            await self._slots.acquire()
            self._busy.add(run_id)
            workers.start_soon(self._attempt_in_order, run_id, rows)
        return len(due) >= self._batch and bool(by_run)

    async def _sleep(self, deadline: float | None) -> None:
        until = self._clock.now() + MAX_SLEEP
        until = until if deadline is None else min(until, deadline)
        async with anyio.create_task_group() as waiters:

            async def woken() -> None:
                await self._wake.wait()
                waiters.cancel_scope.cancel()

            async def due() -> None:
                await self._clock.sleep_until(until)
                waiters.cancel_scope.cancel()

            waiters.start_soon(woken)
            waiters.start_soon(due)

    async def _attempt_in_order(self, run_id: str, rows: list[Queued]) -> None:
        try:
            for queued in rows:
                try:
                    await self._record(queued, await self._send(queued))
                except Exception:
                    # The row stays due and is attempted again on the next pass.
                    self._troubled = True
                    log.exception("recording a notification attempt failed", extra=_about(queued))
        finally:
            self._busy.discard(run_id)
            self._slots.release()
            # The run's later rows (queued meanwhile) are due for the next look.
            self._wake.set()

    async def _send(self, queued: Queued) -> SendError | None:
        sender = self._senders.get(queued.outgoing.integration)
        if sender is None:
            return SendError(
                f"the config has no notification integration {queued.outgoing.integration!r}",
                permanent=True,
            )
        try:
            await sender.send(queued)
        except SendError as error:
            return error
        except Exception as error:
            log.exception("sending a notification failed", extra=_about(queued))
            return SendError(f"{type(error).__name__}: {error}"[:300])
        return None

    async def _record(self, queued: Queued, error: SendError | None) -> None:
        now = self._clock.now()
        row, kind = queued.id, queued.outgoing.kind
        attempts = queued.attempts + 1
        if error is None:
            await self._writer.submit(lambda txn: txn.notification_delivered(row, now))
            # Slack hears of most events; a line each would double the run's own log lines.
            level = logging.DEBUG if kind == SLACK else logging.INFO
            log.log(level, "notification delivered", extra={**_about(queued), "attempts": attempts})
            self._count(kind, "delivered")
            return
        reason = str(error)
        if error.permanent or attempts >= self._retry.attempts:
            await self._writer.submit(lambda txn: txn.notification_failed(row, reason, now, None))
            log.error(
                "notification failed for good",
                extra={**_about(queued), "attempts": attempts, "error": reason},
            )
            self._count(kind, "failed")
            return
        retry_at = now + self._retry.delay(attempts, self._sample())
        await self._writer.submit(lambda txn: txn.notification_failed(row, reason, now, retry_at))
        log.warning(
            "notification attempt failed; retrying",
            extra={**_about(queued), "attempts": attempts, "error": reason, "retry_at": retry_at},
        )
        self._count(kind, "retried")

    def _count(self, kind: str, outcome: str) -> None:
        self._metrics.count(
            "symbox_notifications_total",
            "Notification delivery attempts, by kind and outcome.",
            kind=kind,
            outcome=outcome,
        )

    async def gauges(self) -> list[Gauge]:
        """Notifications waiting to be delivered (retries included), by kind, for /metrics."""
        pending = await self._reader.pending_notifications()
        return [
            (
                "symbox_notifications_pending",
                "Notifications queued and not yet delivered, by kind.",
                (("kind", kind),),
                pending.get(kind, 0),
            )
            for kind in KINDS
        ]


def _about(queued: Queued) -> dict[str, object]:
    outgoing = queued.outgoing
    return {
        "run_id": outgoing.run_id,
        "notification": queued.id,
        "kind": outgoing.kind,
        "integration": outgoing.integration,
        **({"recipient": outgoing.recipient} if outgoing.kind == EMAIL else {}),
    }
