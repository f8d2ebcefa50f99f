"""The ``symbox`` command: builds the parser for the command asked for, and dispatches."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from symbox import __version__

Handler = Callable[[argparse.Namespace], int]
# Adds a module's subcommand(s) to the parser and returns the function that runs them.
# One small function per module rather than a table of module names: PyInstaller finds
# the modules an executable needs from import statements, not from strings.
Loader = Callable[[Any], Handler]


def _run(commands: Any) -> Handler:
    from symbox.cli.run import add_run_command, cmd_run

    add_run_command(commands)
    return cmd_run


def _validate(commands: Any) -> Handler:
    from symbox.cli.validate import add_validate_command, cmd_validate

    add_validate_command(commands)
    return cmd_validate


def _tokens(commands: Any) -> Handler:
    from symbox.cli.tokens import add_tokens_command, cmd_tokens

    add_tokens_command(commands)
    return cmd_tokens


def _runs(commands: Any) -> Handler:
    from symbox.cli.runs import add_runs_command, cmd_runs

    add_runs_command(commands)
    return cmd_runs


def _audit(commands: Any) -> Handler:
    from symbox.cli.audit import add_audit_command, cmd_audit

    add_audit_command(commands)
    return cmd_audit


def _users(commands: Any) -> Handler:
    from symbox.cli.users import add_users_command, cmd_users

    add_users_command(commands)
    return cmd_users


def _report(commands: Any) -> Handler:
    from symbox.cli.report import add_report_command, cmd_report

    add_report_command(commands)
    return cmd_report


def _import(commands: Any) -> Handler:
    from symbox.tfimport.command import add_import_command, cmd_import

    add_import_command(commands)
    return cmd_import


def _test(commands: Any) -> Handler:
    from symbox.cli.options import add_config, add_variables
    from symbox.flowtest.command import add_test_command, cmd_test

    add_test_command(commands, add_config, add_variables)
    return cmd_test


def _hooks(commands: Any) -> Handler:
    from symbox.cli.options import add_config, add_variables
    from symbox.flowtest.hook_call import add_hooks_command, cmd_hooks

    add_hooks_command(commands, add_config, add_variables)
    return cmd_hooks


def _client(commands: Any) -> Handler:
    from symbox.client.parser import add_client_commands, run_client

    add_client_commands(commands)
    return run_client


def _version(commands: Any) -> Handler:
    from symbox.cli.version import add_version_command, cmd_version

    add_version_command(commands)
    return cmd_version


CLIENT_COMMANDS = (
    "login",
    "whoami",
    "request",
    "pending",
    "approve",
    "deny",
    "review",
    "grants",
    "revoke",
    "withdraw",
    "extend",
    "watch",
)

# Each command's module is imported only when it is asked for (or for the full help), so
# that `symbox run` starts without the client, `symbox test` and `symbox import`.
COMMANDS: tuple[tuple[tuple[str, ...], Loader], ...] = (
    (("run",), _run),
    (("validate",), _validate),
    (("tokens",), _tokens),
    (("runs",), _runs),
    (("audit",), _audit),
    (("users",), _users),
    (("report",), _report),
    (("import",), _import),
    (("test",), _test),
    (("hooks",), _hooks),
    (CLIENT_COMMANDS, _client),
    (("version",), _version),
)


def _parser(argv: Sequence[str] | None) -> tuple[argparse.ArgumentParser, dict[str, Handler]]:
    parser = argparse.ArgumentParser(prog="symbox", description="Self-hosted just-in-time access.")
    parser.add_argument("--version", action="version", version=f"symbox {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    first = argv[0] if argv else None
    asked = [entry for entry in COMMANDS if first in entry[0]]
    handlers: dict[str, Handler] = {}
    for names, load in asked or COMMANDS:
        handler = load(commands)
        handlers.update(dict.fromkeys(names, handler))
    return parser, handlers


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Return the parser for the command ``argv`` starts with, or for every command."""
    return _parser(argv)[0]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``symbox`` command."""
    words = sys.argv[1:] if argv is None else list(argv)
    parser, handlers = _parser(words)
    args = parser.parse_args(words)
    try:
        code = handlers[args.command](args)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # The reader went away (`symbox report --format json | head`): nothing to say.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
