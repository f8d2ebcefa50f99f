"""Periodic `checkpoint` records: the chain's head, shipped to every destination.

`audit verify` holds a file's end against the database; someone who cuts both the file
and the database would leave nothing to hold it against. A checkpoint record names the
head (seq and hash) as it stood, and reaches every destination, so a log service outside
the machine holds proof of how long the chain was.
"""

from __future__ import annotations

import logging

from symbox.audit.entry import system_entry
from symbox.clock import Clock
from symbox.engine.model import Actor
from symbox.store.txn import WriteTxn
from symbox.store.writer import Writer

log = logging.getLogger(__name__)

DEFAULT_CHECKPOINT_EVERY = 3600.0


class AuditCheckpoints:
    """Writes a checkpoint every ``every`` seconds, when records were sealed since the last."""

    def __init__(
        self, writer: Writer, clock: Clock, every: float = DEFAULT_CHECKPOINT_EVERY
    ) -> None:
        self._writer = writer
        self._clock = clock
        self._every = every

    async def run(self) -> None:
        """Write checkpoints until cancelled."""
        while True:
            await self._clock.sleep_until(self._clock.now() + self._every)
            try:
                await self.write()
            except Exception:
                # The next period tries again; a checkpoint is never worth stopping for.
                log.exception("audit checkpoint failed")

    async def write(self) -> int | None:
        """Seal one checkpoint of the head now, unless the head is itself a checkpoint."""
        now = self._clock.now()
        return await self._writer.submit(lambda txn: _checkpoint(txn, now))


def _checkpoint(txn: WriteTxn, now: float) -> int | None:
    head = txn.audit_head()
    if head is None or head[2] == "checkpoint":
        return None  # nothing sealed since the last checkpoint: an idle log stays quiet
    seq, digest, _ = head
    entry = system_entry(
        "audit",
        "checkpoint",
        actor=Actor.system(),
        at=now,
        channel="system",
        fields={"head_seq": seq, "head_hash": digest},
    )
    return txn.append_audit(entry)
