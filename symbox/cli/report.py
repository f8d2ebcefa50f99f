"""The access report: who had what access, when, approved by whom, for how long."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any

import anyio

from symbox.app import DATABASE_NAME
from symbox.cli.options import add_data_dir, fail
from symbox.config import parse_duration
from symbox.config.durations import iso
from symbox.engine.model import Actor, Run
from symbox.store.handle import open_store

COLUMNS = (
    "run_id",
    "flow",
    "requester",
    "target",
    "reason",
    "requested_at",
    "decision",
    "decided_by",
    "decided_at",
    "decision_reason",
    "granted_at",
    "ended_at",
    "ended_by",
    "requested_seconds",
    "access_seconds",
    "status",
    "grant_state",
    "break_glass",
    "review",
    "reviewed_by",
    "reviewed_at",
)


def _when(at: float | None) -> str | None:
    return None if at is None else iso(at)


def _who(actor: Actor | None) -> str | None:
    return None if actor is None else str(actor)


def access_row(run: Run, now: float) -> dict[str, Any]:
    """One run as a report row; ``access_seconds`` runs to ``now`` while access lasts."""
    decision = run.decision
    access: float | None = None
    if run.escalated_at is not None:
        access = round((run.ended_at or now) - run.escalated_at, 3)
    reason = run.fields.get("reason")
    return {
        "run_id": run.id,
        "flow": run.flow,
        "requester": run.requester,
        "target": run.target,
        "reason": reason if isinstance(reason, str) else None,
        "requested_at": iso(run.created_at),
        "decision": None if decision is None else ("approve" if decision.approved else "deny"),
        "decided_by": None if decision is None else _who(decision.actor),
        "decided_at": None if decision is None else iso(decision.at),
        "decision_reason": None if decision is None else decision.reason,
        "granted_at": _when(run.escalated_at),
        "ended_at": _when(run.ended_at) if run.escalated_at is not None else None,
        "ended_by": _who(run.ended_by) if run.escalated_at is not None else None,
        "requested_seconds": run.duration,
        "access_seconds": access,
        "status": run.status.value,
        "grant_state": None if run.grant is None else run.grant.state.value,
        "break_glass": run.review is not None,
        "review": None if run.review is None else run.review.state.value,
        "reviewed_by": None if run.review is None else _who(run.review.by),
        "reviewed_at": None if run.review is None else _when(run.review.at),
    }


def access_rows(
    runs: Iterable[Run], now: float, *, flow: str | None = None
) -> list[dict[str, Any]]:
    """Report rows for ``runs`` (optionally one flow's), oldest request first."""
    chosen = [run for run in runs if flow is None or run.flow == flow]
    return [access_row(run, now) for run in sorted(chosen, key=lambda r: (r.created_at, r.id))]


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    # A reason typed by a requester must not run as a formula in the auditor's spreadsheet.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as CSV with a header line; empty cells for missing values."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(row.get(key)) for key in COLUMNS})
    return out.getvalue()


def add_report_command(commands: Any) -> None:
    """Add ``report`` to the command parser."""
    report = commands.add_parser(
        "report", help="who had what access, when, approved by whom, for how long"
    )
    report.add_argument(
        "--since", default="30d", help="how far back, e.g. 7d, 12h, 3mo (default: 30d)"
    )
    report.add_argument("--flow", help="only this flow's runs")
    report.add_argument("--format", choices=["csv", "json"], default="csv")
    report.add_argument(
        "--unreviewed",
        action="store_true",
        help="only break-glass runs nobody has reviewed yet, however old",
    )
    add_data_dir(report)


def cmd_report(args: argparse.Namespace) -> int:
    """Print the access report of the data folder's database."""
    database = args.data_dir / DATABASE_NAME
    if not database.exists():
        return fail(f"no database at {database} (is --data-dir right?)")
    try:
        window = parse_duration(args.since)
    except ValueError as error:
        return fail(f"--since {args.since!r}: {error}")
    now = time.time()

    async def read() -> tuple[list[Run], list[Run]]:
        async with open_store(database) as store:
            unreviewed = await store.reader.unreviewed_runs()
            if args.unreviewed:
                return unreviewed, unreviewed
            return await store.reader.access_runs(now - window), unreviewed

    runs, unreviewed = anyio.run(read)
    rows = access_rows(runs, now, flow=args.flow)
    waiting = len([run for run in unreviewed if args.flow is None or run.flow == args.flow])
    if waiting and not args.unreviewed:
        # Said on stderr, so the report itself stays plain CSV or JSON.
        print(
            f"symbox: {waiting} break-glass run(s) need review (symbox report --unreviewed)",
            file=sys.stderr,
        )
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        sys.stdout.write(to_csv(rows))
    return 0
