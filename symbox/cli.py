"""The ``symbox`` command: parses arguments, calls into the package, prints results."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import platform
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio

from symbox import __version__, logs, loops
from symbox.admin import issue_token, revoke_token
from symbox.api.app import MAX_PAGE
from symbox.api.views import run_view
from symbox.app import DATABASE_NAME, Options, parse_listen
from symbox.argtypes import bounded
from symbox.audit.entry import iso
from symbox.audit.outbox import OutboxLimits
from symbox.audit_cli import add_audit_command, cmd_audit
from symbox.buildinfo import build_info, is_frozen
from symbox.client.parser import add_client_commands, run_client
from symbox.config import parse_duration
from symbox.config.variables import VAR, VAR_FILE, VarOption, parse_var
from symbox.engine.model import Actor, RunStatus
from symbox.engine.people import InvalidEmail, canonical_email
from symbox.engine.permissions import BOT_NAME
from symbox.errors import StartupError
from symbox.flowtest.command import add_test_command, cmd_test
from symbox.flowtest.hook_call import add_hooks_command, cmd_hooks
from symbox.report import add_report_command, cmd_report
from symbox.runner import (
    AnyEnvironment,
    ConfigRefused,
    Runner,
    load_checked,
    log_notices,
    startup_error,
)
from symbox.store.handle import open_store
from symbox.tfimport.command import add_import_command, cmd_import
from symbox.users_cli import add_users_command, cmd_users

DEFAULT_CONFIG = "config.hcl"
DEFAULT_DATA_DIR = "symbox-data"
# Bounds of --hook-timeout: long enough for a slow lookup, short enough for Slack.
MIN_HOOK_TIMEOUT = 0.1
# The most runs one `runs list` prints: the API's page limit.
MAX_LIST = MAX_PAGE
MAX_HOOK_TIMEOUT = 60.0


def _operator() -> Actor:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = str(os.getuid())
    return Actor("operator", name)


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        default=DEFAULT_CONFIG,
        help=f"config file, or folder of *.tf and *.hcl files (default: {DEFAULT_CONFIG})",
    )


class _VarOptionAction(argparse.Action):
    """Collects --var and --var-file in command-line order: a later one wins, as in Terraform."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        option = VarOption(str(self.const), str(values))
        if option.kind == VAR:
            try:
                parse_var(option.text)
            except ValueError as error:
                parser.error(str(error))
        given = getattr(namespace, self.dest, None) or []
        setattr(namespace, self.dest, [*given, option])


def _add_variables(parser: argparse.ArgumentParser) -> None:
    for flag, kind, metavar, what in (
        ("--var", VAR, "NAME=VALUE", "set a variable (repeatable)"),
        ("--var-file", VAR_FILE, "FILE", "read variables from a tfvars file (repeatable)"),
    ):
        parser.add_argument(
            flag,
            dest="variables",
            action=_VarOptionAction,
            const=kind,
            default=[],
            metavar=metavar,
            help=f"{what}; later ones win over earlier ones and over tfvars files in the folder",
        )


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("SYMBOX_DATA_DIR", DEFAULT_DATA_DIR),
        type=Path,
        help=f"state folder (default: $SYMBOX_DATA_DIR or ./{DEFAULT_DATA_DIR})",
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for every command."""
    parser = argparse.ArgumentParser(prog="symbox", description="Self-hosted just-in-time access.")
    parser.add_argument("--version", action="version", version=f"symbox {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the server (API, timers, audit)")
    _add_config(run)
    _add_variables(run)
    _add_data_dir(run)
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

    validate = commands.add_parser("validate", help="check the config and summarise it")
    _add_config(validate)
    _add_variables(validate)
    validate.add_argument(
        "--no-env",
        action="store_true",
        help="check without the secrets: every env(NAME) is taken as set (for CI)",
    )

    tokens = commands.add_parser("tokens", help="issue, list and revoke API tokens")
    token_commands = tokens.add_subparsers(dest="tokens_command", required=True, metavar="ACTION")
    issue = token_commands.add_parser("issue", help="issue a token (printed once)")
    who = issue.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="the token acts as this user (an email)")
    who.add_argument("--bot", help="the token acts as this bot (a name)")
    issue.add_argument("--expires", default="90d", help="lifetime, e.g. 30d, 12h (default: 90d)")
    issue.add_argument("--label", help="what the token is for")
    _add_data_dir(issue)
    listing = token_commands.add_parser("list", help="list tokens (never their secrets)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    _add_data_dir(listing)
    revoke = token_commands.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("token_id")
    _add_data_dir(revoke)

    runs = commands.add_parser("runs", help="list and show runs")
    run_commands = runs.add_subparsers(dest="runs_command", required=True, metavar="ACTION")
    runs_list = run_commands.add_parser("list", help="list runs, newest first")
    runs_list.add_argument("--status", choices=[status.value for status in RunStatus])
    runs_list.add_argument("--flow")
    runs_list.add_argument(
        "--limit", type=_limit, default=50, help=f"1 to {MAX_LIST} runs (default: %(default)s)"
    )
    runs_list.add_argument("--json", action="store_true", help="print JSON")
    _add_data_dir(runs_list)
    show = run_commands.add_parser("show", help="show one run with its events")
    show.add_argument("run_id")
    show.add_argument("--json", action="store_true", help="print JSON")
    _add_data_dir(show)

    add_audit_command(commands, _add_data_dir)

    add_users_command(commands, _add_data_dir)

    add_report_command(commands, _add_data_dir)

    add_import_command(commands)

    add_test_command(commands, _add_config, _add_variables)
    add_hooks_command(commands, _add_config, _add_variables)
    add_client_commands(commands)

    commands.add_parser("version", help="print the version")
    return parser


_limit = bounded(int, 1, MAX_LIST, what="a whole number")


def _fail(message: str) -> int:
    print(f"symbox: {message}", file=sys.stderr)
    return 1


def _report_problems(problems: list[str]) -> int:
    for problem in problems:
        print(problem, file=sys.stderr)
    count = len(problems)
    print(f"{count} problem{'s' if count != 1 else ''} found", file=sys.stderr)
    return 1


def cmd_validate(args: argparse.Namespace) -> int:
    """Print a summary of a valid config, or every problem."""
    try:
        environ = AnyEnvironment(os.environ) if args.no_env else None
        config = load_checked(args.config, args.variables, environ)
    except ConfigRefused as error:
        return _report_problems(error.problems)
    for notice in config.notices:
        print(notice)
    print(f"config ok: {', '.join(config.files)}")
    for environment in sorted(config.environments.values(), key=lambda item: item.name):
        print(f"environment {environment.name}")
        for flow in sorted(config.flows.values(), key=lambda item: item.name):
            if flow.environment != environment.key:
                continue
            strategy = config.strategies.get(flow.params.strategy or "")
            if strategy is None:
                print(f"  flow {flow.name}: approval only")
                continue
            targets = ", ".join(config.targets[key].name for key in strategy.targets)
            print(f"  flow {flow.name}: {strategy.type} strategy {strategy.name} -> {targets}")
    return 0


# A hook timeout, within what makes sense for a call Slack may wait on.
_seconds = bounded(float, MIN_HOOK_TIMEOUT, MAX_HOOK_TIMEOUT, what="a number of seconds", unit=" s")


def cmd_run(args: argparse.Namespace) -> int:
    """Run the server until SIGTERM or SIGINT; SIGHUP reloads the config."""
    logs.configure(args.log_level, args.log_format)
    try:
        host, port = parse_listen(args.listen)
    except ValueError as error:
        return _fail(str(error))
    try:
        config = load_checked(args.config, args.variables)
    except ConfigRefused as error:
        return _report_problems(error.problems)
    log_notices(config)
    limits = OutboxLimits(limit=max(1, args.audit_outbox_limit))
    try:
        max_ttl = None if not args.token_max_ttl else float(parse_duration(args.token_max_ttl))
    except ValueError as error:
        return _fail(f"--token-max-ttl: {error}")
    try:
        checkpoint_every = float(parse_duration(args.audit_checkpoint_every))
    except ValueError as error:
        return _fail(f"--audit-checkpoint-every: {error}")
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
        return _fail(str(error))
    except (StartupError, BaseExceptionGroup) as error:
        startup = startup_error(error)
        if startup is None:
            raise
        return _fail(str(startup))
    return 0


def cmd_tokens(args: argparse.Namespace) -> int:
    """Issue, list or revoke tokens in the data folder's database."""
    database = args.data_dir / DATABASE_NAME
    if not database.exists():
        return _fail(f"no database at {database}: start symbox run first, or fix --data-dir")
    if getattr(args, "user", None):
        try:
            canonical_email(args.user)
        except InvalidEmail as error:
            return _fail(f"--user {error}")
    if getattr(args, "bot", None) and not BOT_NAME.match(args.bot):
        return _fail(f"--bot {args.bot!r}: use letters, digits, '.', '_' and '-' (at most 64)")

    async def issue() -> int:
        expires = None if args.expires in ("never", "0") else parse_duration(args.expires)
        async with open_store(database) as store:
            secret, record = await issue_token(
                store.writer,
                kind="user" if args.user else "bot",
                subject=args.user or args.bot,
                label=args.label,
                now=time.time(),
                expires_in=expires,
                issued_by=_operator(),
            )
        print(secret)
        expiry = "never" if record.expires_at is None else iso(record.expires_at)
        print(
            f"token {record.id} for {record.kind} {record.subject}, expires {expiry}",
            file=sys.stderr,
        )
        return 0

    async def listing() -> int:
        async with open_store(database) as store:
            tokens = await store.reader.list_tokens()
        now = time.time()
        rows = [
            {
                "id": token.id,
                "state": _token_state(token.revoked_at, token.expires_at, now),
                "kind": token.kind,
                "subject": token.subject,
                "label": token.label,
                "created_at": iso(token.created_at),
                "expires_at": None if token.expires_at is None else iso(token.expires_at),
                "revoked_at": None if token.revoked_at is None else iso(token.revoked_at),
                "last_used_at": None if token.last_used_at is None else iso(token.last_used_at),
            }
            for token in tokens
        ]
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            columns = ["id", "state", "kind", "subject", "label", "expires_at", "last_used_at"]
            _table(rows, columns)
        return 0

    async def revoke() -> int:
        async with open_store(database) as store:
            done = await revoke_token(
                store.writer, args.token_id, now=time.time(), revoked_by=_operator()
            )
        if not done:
            return _fail(f"no live token {args.token_id!r}")
        print(f"revoked {args.token_id}")
        return 0

    actions = {"issue": issue, "list": listing, "revoke": revoke}
    try:
        return anyio.run(actions[args.tokens_command])
    except (ValueError, sqlite3.Error) as error:
        return _fail(str(error))


def _token_state(revoked_at: float | None, expires_at: float | None, now: float) -> str:
    if revoked_at is not None:
        return "revoked"
    return "expired" if expires_at is not None and expires_at <= now else "active"


def cmd_runs(args: argparse.Namespace) -> int:
    """List runs or show one, from the data folder's database."""
    database = args.data_dir / DATABASE_NAME
    if not database.exists():
        return _fail(f"no database at {database} (is --data-dir right?)")

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
            _table(
                views,
                ["run_id", "status", "grant", "flow", "requester", "target", "expires_at"],
            )
        return 0

    async def show() -> int:
        async with open_store(database) as store:
            run = await store.reader.get_run(args.run_id)
            if run is None:
                return _fail(f"no run {args.run_id!r}")
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


def _table(rows: Sequence[dict[str, Any]], columns: list[str]) -> None:
    cells = [
        [("" if row.get(col) is None else str(row.get(col))) for col in columns] for row in rows
    ]
    widths = [max([len(col)] + [len(cell[i]) for cell in cells]) for i, col in enumerate(columns)]
    print("  ".join(col.upper().ljust(width) for col, width in zip(columns, widths, strict=True)))
    for cell in cells:
        print("  ".join(value.ljust(width) for value, width in zip(cell, widths, strict=True)))


def cmd_version(args: argparse.Namespace) -> int:
    """Print the version, what it runs on and, for a built executable, what it was built from."""
    frozen = "frozen" if is_frozen() else "source"
    print(
        f"symbox {__version__} ({frozen}; Python {platform.python_version()}, {platform.machine()})"
    )
    build = build_info()
    if build:
        print(
            f"built {build.get('built_at', '?')} from commit {build.get('commit') or '?'}"
            f" ({build.get('format', '?')}, {build.get('platform', '?')})"
        )
    if is_frozen():
        print(f"executable {sys.executable}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``symbox`` command."""
    args = build_parser().parse_args(argv)
    handlers = {
        "run": cmd_run,
        "validate": cmd_validate,
        "tokens": cmd_tokens,
        "runs": cmd_runs,
        "audit": cmd_audit,
        "users": lambda args: cmd_users(args, _operator(), _table),
        "report": cmd_report,
        "import": cmd_import,
        "test": cmd_test,
        "hooks": cmd_hooks,
        "version": cmd_version,
    }
    try:
        # Client commands talk to a server over HTTP; the others work on local files.
        code = run_client(args) if "client" in args else handlers[args.command](args)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # The reader went away (`symbox report --format json | head`): nothing to say.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
