"""``symbox runs``: list runs and show one, from the data folder's database."""

from __future__ import annotations

import argparse
import json
from typing import Any

import anyio

from symbox.api.app import MAX_PAGE
from symbox.api.views import run_view
from symbox.app import DATABASE_NAME
from symbox.argtypes import bounded
from symbox.cli.options import add_data_dir, fail, table
from symbox.engine.model import RunStatus
from symbox.store.handle import open_store

# The most runs one `runs list` prints: the API's page limit.
MAX_LIST = MAX_PAGE
_limit = bounded(int, 1, MAX_LIST, what="a whole number")


def add_runs_command(commands: Any) -> None:
    """Add ``symbox runs list`` and ``symbox runs show``."""
    runs = commands.add_parser("runs", help="list and show runs")
    run_commands = runs.add_subparsers(dest="runs_command", required=True, metavar="ACTION")
    runs_list = run_commands.add_parser("list", help="list runs, newest first")
    runs_list.add_argument("--status", choices=[status.value for status in RunStatus])
    runs_list.add_argument("--flow")
    runs_list.add_argument(
        "--limit", type=_limit, default=50, help=f"1 to {MAX_LIST} runs (default: %(default)s)"
    )
    runs_list.add_argument("--json", action="store_true", help="print JSON")
    add_data_dir(runs_list)
    show = run_commands.add_parser("show", help="show one run with its events")
    show.add_argument("run_id")
    show.add_argument("--json", action="store_true", help="print JSON")
    add_data_dir(show)


def cmd_runs(args: argparse.Namespace) -> int:
    """List runs or show one, from the data folder's database."""
    database = args.data_dir / DATABASE_NAME
    if not database.exists():
        return fail(f"no database at {database} (is --data-dir right?)")

    async def listing() -> int:
        async with open_store(database) as store:
            runs = await store.reader.list_runs(
                status=args.status, flow=args.flow, limit=args.limit
            )
        views = [run_view(run) for run in runs]
        if args.json:
            print(json.dumps(views, indent=2))
        else:
            for view in views:
                # A failing revocation must stand out in the table, not only in --json.
                view["grant"] = view["grant"]["state"] if view["grant"] else None
            table(
                views,
                ["run_id", "status", "grant", "flow", "requester", "target", "expires_at"],
            )
        return 0

    async def show() -> int:
        async with open_store(database) as store:
            run = await store.reader.get_run(args.run_id)
            if run is None:
                return fail(f"no run {args.run_id!r}")
            view = run_view(run, await store.reader.run_events(run.id))
        if args.json:
            print(json.dumps(view, indent=2))
            return 0
        for key, value in view.items():
            if key == "events" or value is None or value in ([], {}):
                continue
            print(f"{key:18} {json.dumps(value) if isinstance(value, dict | list) else value}")
        print("events:")
        for event in view["events"]:
            error = f"  error: {event['error']}" if event.get("error") else ""
            actor = event["actor"]["id"]
            print(f"  {event['timestamp']}  {event['name']:22} {actor}{error}")
        return 0

    return anyio.run(listing if args.runs_command == "list" else show)
