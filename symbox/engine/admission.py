"""Whether a new request may open, given the requester's open runs of the same flow."""

from __future__ import annotations

from collections.abc import Sequence

from symbox.config.durations import iso
from symbox.config.model import Flow
from symbox.engine.model import FINAL_STATUSES, Run, RunStatus
from symbox.engine.runs import Conflict

# A run in one of these may still grant access (or holds it): the rest have ended.
OPEN_STATUSES = frozenset(status for status in RunStatus if status not in FINAL_STATUSES)


class DuplicateRequest(Conflict):
    """The requester already has an open run of the flow for the target (HTTP 409)."""

    code = "duplicate_request"

    def __init__(self, existing: Run) -> None:
        what = f" for {existing.target}" if existing.target else ""
        super().__init__(
            f"you already have an open request{what} in flow {existing.flow}: run "
            f"{existing.id} ({existing.status.value}; requested at {iso(existing.created_at)})"
        )
        self.run_id = existing.id


class TooManyOpen(Conflict):
    """The requester holds (or awaits) as many grants of the flow as it allows (HTTP 409)."""

    code = "too_many_active"

    def __init__(self, flow: Flow, limit: int, open_runs: Sequence[Run]) -> None:
        ids = ", ".join(run.id for run in open_runs)
        super().__init__(
            f"flow {flow.name} allows {limit} open request{'s' if limit != 1 else ''} or "
            f"grant{'s' if limit != 1 else ''} per person; you have {len(open_runs)}: {ids}"
        )
        self.run_id = open_runs[0].id if open_runs else None


def admit(new: Run, flow: Flow, open_runs: Sequence[Run]) -> None:
    """Refuse ``new`` if it duplicates an open run or passes the flow's bound on grants.

    ``open_runs`` are the requester's runs of ``flow`` that have not ended, oldest first.
    """
    mine = [run for run in open_runs if run.id != new.id and run.status in OPEN_STATUSES]
    if not flow.params.allow_duplicate_requests:
        for run in mine:
            if run.target == new.target:
                raise DuplicateRequest(run)
    limit = flow.params.max_active_grants_per_user
    if limit is not None and len(mine) >= limit:
        raise TooManyOpen(flow, limit, mine)
