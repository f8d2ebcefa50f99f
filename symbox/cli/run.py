"""``symbox run``: the server, until SIGTERM or SIGINT; SIGHUP reloads the config."""

from __future__ import annotations

import argparse
import os
from typing import Any

from symbox import logs, loops
from symbox.app import PARSE_CACHE_NAME, Options, parse_listen
from symbox.argtypes import bounded
from symbox.audit.outbox import OutboxLimits
from symbox.cli.options import add_config, add_data_dir, add_variables, fail, report_problems
from symbox.cli.runner import ConfigRefused, Runner, load_checked, log_notices, startup_error
from symbox.config import parse_duration
from symbox.config.parse_cache import ParseCache
from symbox.errors import StartupError

# Bounds of --hook-timeout: long enough for a slow lookup, short enough for Slack.
MIN_HOOK_TIMEOUT = 0.1
MAX_HOOK_TIMEOUT = 60.0

# A hook timeout, within what makes sense for a call Slack may wait on.
_seconds = bounded(float, MIN_HOOK_TIMEOUT, MAX_HOOK_TIMEOUT, what="a number of seconds", unit=" s")


def add_run_command(commands: Any) -> None:
    """Add ``symbox run``."""
    run = commands.add_parser("run", help="run the server (API, timers, audit)")
    add_config(run)
    add_variables(run)
    add_data_dir(run)
    run.add_argument("--listen", default="127.0.0.1:8080", help="HOST:PORT (default: %(default)s)")
    run.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    run.add_argument(
        "--log-format",
        default=os.environ.get("SYMBOX_LOG_FORMAT", "json"),
        choices=logs.FORMATS,
        help="json lines (default, or $SYMBOX_LOG_FORMAT) or text for people (coloured on a "
        "terminal)",
    )
    run.add_argument(
        "--audit-outbox-limit",
        type=int,
        default=os.environ.get("SYMBOX_AUDIT_OUTBOX_LIMIT", "1000000"),
        help="audit records the outbox may hold before new access is refused "
        "(default: $SYMBOX_AUDIT_OUTBOX_LIMIT or 1000000; the alarm goes off at 80%%)",
    )

    run.add_argument(
        "--token-max-ttl",
        default=os.environ.get("SYMBOX_TOKEN_MAX_TTL"),
        help="refuse API tokens older than this (e.g. 30d), whatever expiry they were issued "
        "with (default: $SYMBOX_TOKEN_MAX_TTL, or no bound)",
    )
    run.add_argument(
        "--audit-checkpoint-every",
        default=os.environ.get("SYMBOX_AUDIT_CHECKPOINT_EVERY", "1h"),
        help="how often a checkpoint record of the audit chain's head goes to every log "
        "destination, when records were written since the last (default: "
        "$SYMBOX_AUDIT_CHECKPOINT_EVERY or 1h)",
    )
    run.add_argument(
        "--hook-timeout",
        type=_seconds,
        default=os.environ.get("SYMBOX_HOOK_TIMEOUT", "2"),
        help="seconds one hook or reducer call may run before its worker is killed "
        "(default: $SYMBOX_HOOK_TIMEOUT or 2; 0.1 to 60)",
    )

    run.add_argument(
        "--event-loop",
        default=os.environ.get("SYMBOX_EVENT_LOOP", loops.AUTO),
        choices=loops.CHOICES,
        help="the asyncio event loop: uvloop, asyncio's own, or auto (uvloop when installed; "
        "default: $SYMBOX_EVENT_LOOP or auto)",
    )


def cmd_run(args: argparse.Namespace) -> int:
    """Run the server until SIGTERM or SIGINT; SIGHUP reloads the config."""
    logs.configure(args.log_level, args.log_format)
    try:
        host, port = parse_listen(args.listen)
    except ValueError as error:
        return fail(str(error))
    try:
        trees = ParseCache(args.data_dir / PARSE_CACHE_NAME)
        config = load_checked(args.config, args.variables, trees=trees)
    except ConfigRefused as error:
        return report_problems(error.problems)
    log_notices(config)
    limits = OutboxLimits(limit=max(1, args.audit_outbox_limit))
    try:
        max_ttl = None if not args.token_max_ttl else float(parse_duration(args.token_max_ttl))
    except ValueError as error:
        return fail(f"--token-max-ttl: {error}")
    try:
        checkpoint_every = float(parse_duration(args.audit_checkpoint_every))
    except ValueError as error:
        return fail(f"--audit-checkpoint-every: {error}")
    options = Options(
        data_dir=args.data_dir,
        host=host,
        port=port,
        audit_limits=limits,
        hook_timeout=args.hook_timeout,
        token_max_ttl=max_ttl,
        audit_checkpoint_every=checkpoint_every,
    )
    runner = Runner(args.config, config, options, args.variables)
    try:
        loops.run(runner.run, args.event_loop)
    except loops.LoopUnavailable as error:
        return fail(str(error))
    except (StartupError, BaseExceptionGroup) as error:
        startup = startup_error(error)
        if startup is None:
            raise
        return fail(str(startup))
    return 0
