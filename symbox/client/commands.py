"""The client's commands that act on one run or list runs."""

from __future__ import annotations

import argparse
from typing import Any

from symbox.client import render
from symbox.client.http import Api, Refused
from symbox.client.terminal import Terminal, describe
from symbox.engine.model import FINAL_STATUSES

RUNS = "/api/v1/runs"
# Statuses a run is done in; anything else may still change.
FINAL = frozenset(status.value for status in FINAL_STATUSES)


def show_run(args: argparse.Namespace, term: Terminal, run: dict[str, Any]) -> None:
    """Print one run: its id and where it is, or the JSON."""
    if args.output == "json":
        term.say(render.as_json(run))
    else:
        term.say(f"run {run.get('run_id')} {describe(run, term.now())}")


def cmd_decide(args: argparse.Namespace, api: Api, term: Terminal) -> int:
    """``approve RUN`` / ``deny RUN``: decide a pending request, or a grant's extension."""
    body = {"run_id": args.run, **({"reason": args.reason} if args.reason else {})}
    show_run(args, term, api.post(f"/api/v1/events/{args.command}", body))
    return 0


def cmd_end(args: argparse.Namespace, api: Api, term: Terminal) -> int:
    """``revoke RUN`` (end access now) / ``withdraw RUN`` (take back a pending request)."""
    action = "deescalate" if args.command == "revoke" else "withdraw"
    body = {"run_id": args.run, **({"reason": args.reason} if args.reason else {})}
    show_run(args, term, api.post(f"/api/v1/events/{action}", body))
    return 0


def cmd_review(args: argparse.Namespace, api: Api, term: Terminal) -> int:
    """``review RUN``: mark a break-glass run reviewed, as one of its flow's approvers."""
    body = {"run_id": args.run, **({"reason": args.reason} if args.reason else {})}
    answer = api.post("/api/v1/events/review", body)
    show_run(args, term, answer)
    review = answer.get("review")
    if review and args.output != "json":
        term.say(f"review: {review.get('state')} by {(review.get('by') or {}).get('id')}")
    return 0


def cmd_extend(args: argparse.Namespace, api: Api, term: Terminal) -> int:
    """``extend RUN --by 30m``: ask for a grant to last longer."""
    body = {"run_id": args.run, "duration": args.by}
    if args.reason:
        body["reason"] = args.reason
    try:
        answer = api.post("/api/v1/events/extend", body)
    except Refused as error:
        # A server without the route answers 405 (the events/{id} route takes GET only)
        # or a plain 404, not a run's "no run" 404.
        if error.status == 405 or (error.status == 404 and error.code == "http_error"):
            raise Refused(
                error.status,
                "unsupported",
                f"the server at {api.server} does not support extending grants "
                "(it needs a newer symbox)",
            ) from None
        raise
    show_run(args, term, answer)
    extension = answer.get("extension")
    if extension and args.output != "json":
        term.say(f"extension: {extension.get('status', extension)}")
    return 0


def cmd_pending(args: argparse.Namespace, api: Api, term: Terminal) -> int:
    """``pending``: the requests I may approve or deny now (never my own)."""
    runs = api.get(RUNS, decidable="true", limit="500")["runs"]
    if args.output == "json":
        term.say(render.as_json(runs))
        return 0
    if not runs:
        term.say("nothing waits for your decision")
        return 0
    now = term.now()
    rows = [_pending_row(run, now) for run in runs]
    headers = [
        "run",
        "flow",
        "requester",
        "target",
        "for",
        "reason",
        "approved",
        "asked",
        "expires",
    ]
    if not any(row[6] for row in rows):
        # Only requests needing several approvals have progress to show.
        headers.pop(6)
        rows = [row[:6] + row[7:] for row in rows]
    term.say(render.table(rows, headers))
    return 0


def _pending_row(run: dict[str, Any], now: float) -> list[str]:
    """A request, or an escalated run's extension, as a row of ``pending``."""
    extension = run.get("extension") or {}
    if run["status"] == "escalated" and extension.get("status") == "pending":
        # An extension: how much more, why, when it was asked, until when it can be decided.
        wanted = f"+{render.duration(extension.get('duration'))}"
        why = render.reason({"fields": {"reason": extension.get("reason") or ""}})
        asked, ends = extension.get("requested_at"), run.get("expires_at")
    else:
        wanted = render.duration((run.get("fields") or {}).get("duration"))
        why = render.reason(run)
        asked, ends = run.get("created_at"), run.get("request_expires_at")
    return [
        run["run_id"],
        run["flow"],
        run["requester"],
        run.get("target") or "",
        wanted,
        why,
        render.approvals(run) if run["status"] == "requested" else "",
        render.relative(render.parse_time(asked) or now, now),
        render.when(ends, now),
    ]


def cmd_grants(args: argparse.Namespace, api: Api, term: Terminal) -> int:
    """``grants [--all]``: the access I hold now (or everyone's) with the time left."""
    scope = {"all": "true"} if args.all else {"mine": "true"}
    runs = api.pages(RUNS, status="escalated", limit="500", **scope)
    if args.output == "json":
        term.say(render.as_json(runs))
        return 0
    if not runs:
        term.say("no access is held now" if args.all else "you hold no access now")
        return 0
    now = term.now()
    rows = []
    for run in runs:
        until = render.parse_time(run.get("expires_at"))
        left = "until revoked" if until is None else render.span(max(0.0, until - now))
        row = [run["run_id"], run["flow"], run.get("target") or ""]
        if args.all:
            row.append(run["requester"])
        since = render.when(run.get("escalated_at"), now)
        row += [since, left, render.when(run.get("expires_at"), now)]
        rows.append(row)
    headers = ["run", "flow", "target", *(["requester"] if args.all else []), "since", "left"]
    term.say(render.table(rows, [*headers, "expires"]))
    return 0
