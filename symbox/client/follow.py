"""Following runs over time: ``request --wait`` and ``watch``."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from symbox.client import render
from symbox.client.commands import FINAL, RUNS
from symbox.client.http import Api
from symbox.client.terminal import Terminal, describe

# Redraw from the top-left corner, then clear to the end of the screen.
CLEAR_SCREEN = "\033[H\033[J"
# Back to the line's start, then clear the line.
CLEAR_LINE = "\r\033[K"


def settled(run: dict[str, Any]) -> bool:
    """Tell whether a requester has nothing more to wait for."""
    status = run.get("status")
    if status == "approved":
        return not run.get("grant")
    return status in FINAL or status == "escalated"


def granted(run: dict[str, Any]) -> bool:
    """Tell whether the request got what it asked for (access, or an approval-only sign-off)."""
    status = run.get("status")
    return bool(run.get("escalated_at")) or (status == "approved" and not run.get("grant"))


def wait_for(api: Api, term: Terminal, run_id: str, interval: float) -> dict[str, Any]:
    """Poll a run until it settles, showing a status line; return it as it settled."""
    # On a terminal the line is redrawn in place; elsewhere one line per change.
    live = term.err.isatty()
    shown = None
    while True:
        run = api.get(f"{RUNS}/{run_id}")
        line = f"run {run_id} {describe(run, term.now())}"
        if live:
            term.err.write(CLEAR_LINE + line)
            term.err.flush()
        elif run.get("status") != shown:
            print(line, file=term.err, flush=True)
        shown = run.get("status")
        if settled(run):
            if live:
                print(file=term.err, flush=True)
            return run
        term.sleep(interval)


def _ends(run: dict[str, Any], now: float) -> str:
    status = run.get("status")
    if status == "requested":
        at = run.get("request_expires_at")
    elif status == "escalated":
        at = run.get("expires_at") or ""
    else:
        at = run.get("ended_at")
    found = render.parse_time(at)
    return "" if found is None else render.relative(found, now)


def runs_table(runs: list[dict[str, Any]], now: float) -> str:
    """The runs as ``watch`` shows them."""
    rows = [
        [
            run["run_id"],
            run["flow"],
            run["requester"],
            run.get("target") or "",
            run["status"],
            render.relative(render.parse_time(run["created_at"]) or now, now),
            _ends(run, now),
        ]
        for run in runs
    ]
    headers = ["run", "flow", "requester", "target", "status", "asked", "ends"]
    return render.table(rows, headers) if rows else "no runs"


def cmd_watch(args: argparse.Namespace, api: Api, term: Terminal) -> int:
    """``watch``: a table of the newest runs, redrawn every ``--interval`` until Ctrl-C."""
    query = {"limit": str(args.limit)}
    if args.status:
        query["status"] = args.status
    if args.mine:
        query["mine"] = "true"
    try:
        while True:
            runs = api.get(RUNS, **query)["runs"]
            now = term.now()
            if args.output == "json":
                # One JSON document per line and refresh, for a script to read as it comes.
                term.say(json.dumps(runs, sort_keys=True))
            else:
                stamp = datetime.fromtimestamp(now).strftime("%H:%M:%S")
                heading = f"symbox {api.server}  {stamp}  (every {args.interval:g} s, Ctrl-C stops)"
                text = f"{heading}\n\n{runs_table(runs, now)}"
                term.out.write(CLEAR_SCREEN + text + "\n" if term.out.isatty() else text + "\n\n")
                term.out.flush()
            term.sleep(args.interval)
    except KeyboardInterrupt:
        return 0
