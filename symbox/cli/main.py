"""The ``symbox`` command: builds the parser from every command's module and dispatches."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from symbox import __version__
from symbox.cli.audit import add_audit_command, cmd_audit
from symbox.cli.options import add_config, add_variables
from symbox.cli.report import add_report_command, cmd_report
from symbox.cli.run import add_run_command, cmd_run
from symbox.cli.runs import add_runs_command, cmd_runs
from symbox.cli.tokens import add_tokens_command, cmd_tokens
from symbox.cli.users import add_users_command, cmd_users
from symbox.cli.validate import add_validate_command, cmd_validate
from symbox.cli.version import add_version_command, cmd_version
from symbox.client.parser import add_client_commands, run_client
from symbox.flowtest.command import add_test_command, cmd_test
from symbox.flowtest.hook_call import add_hooks_command, cmd_hooks
from symbox.tfimport.command import add_import_command, cmd_import


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for every command."""
    parser = argparse.ArgumentParser(prog="symbox", description="Self-hosted just-in-time access.")
    parser.add_argument("--version", action="version", version=f"symbox {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_run_command(commands)
    add_validate_command(commands)
    add_tokens_command(commands)
    add_runs_command(commands)
    add_audit_command(commands)
    add_users_command(commands)
    add_report_command(commands)
    add_import_command(commands)
    add_test_command(commands, add_config, add_variables)
    add_hooks_command(commands, add_config, add_variables)
    add_client_commands(commands)
    add_version_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``symbox`` command."""
    args = build_parser().parse_args(argv)
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "run": cmd_run,
        "validate": cmd_validate,
        "tokens": cmd_tokens,
        "runs": cmd_runs,
        "audit": cmd_audit,
        "users": cmd_users,
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
