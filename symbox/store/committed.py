"""Runs as this process's writer last committed them, read without a thread hop."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from symbox.engine.model import Run


class CommittedRuns:
    """The newest committed version of the runs the writer wrote or read last.

    Only the event loop's thread touches it: the writer publishes a batch's runs there
    after the batch committed and before any of its jobs is answered, so a caller never
    sees a run older than one its own change committed, nor one not yet durable. It
    holds only while this process is the only one writing runs (as ``symbox run`` is);
    the writer empties it whenever another connection has committed, or when it cannot
    tell which of a batch's runs were kept.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._runs: OrderedDict[str, Run] = OrderedDict()

    def get(self, run_id: str) -> Run | None:
        """The run as last committed, if it is kept here."""
        return self._runs.get(run_id)

    def publish(self, runs: Iterable[Run]) -> None:
        """Keep ``runs``, each as it now is in the database."""
        if self._size <= 0:
            return
        for run in runs:
            self._runs[run.id] = run
            self._runs.move_to_end(run.id)
        while len(self._runs) > self._size:
            self._runs.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        self._runs.clear()

    def __len__(self) -> int:
        return len(self._runs)
