"""The client's subcommands: their arguments, and running one with its errors reported."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from symbox.argtypes import bounded
from symbox.client import config
from symbox.client.commands import (
    cmd_decide,
    cmd_end,
    cmd_extend,
    cmd_grants,
    cmd_pending,
    cmd_review,
)
from symbox.client.follow import cmd_watch
from symbox.client.http import Api, ClientError, Refused
from symbox.client.request import UsageProblem, cmd_request, field_option
from symbox.client.session import cmd_login, cmd_whoami
from symbox.client.terminal import Terminal

# Exit statuses, as documented in docs/client.md.
OK, FAILED, USAGE = 0, 1, 2
# An interrupted command exits as a shell expects of SIGINT.
INTERRUPTED = 130

EPILOG = "exit status: 0 done, 1 refused or failed, 2 usage (see docs/client.md)"

Command = Callable[[argparse.Namespace, Api, Terminal], int]


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("server")
    group.add_argument(
        "--server",
        metavar="URL",
        help=f"symbox's URL (default: ${config.SERVER_VARIABLE}, else {config.DEFAULT_SERVER})",
    )
    group.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        help=f"the token file (default: ${config.TOKEN_FILE_VARIABLE}, else "
        "$XDG_CONFIG_HOME/symbox/token); without it $SYMBOX_TOKEN wins over the file",
    )
    group.add_argument(
        "--output",
        choices=["table", "json"],
        default="table",
        help="table for people (default) or json for scripts",
    )
    return common


def _duration(text: str) -> str:
    from symbox.config import parse_duration

    try:
        parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


_interval = bounded(float, 0.1, 3600.0, what="a number of seconds", unit=" s")


def add_client_commands(commands: Any) -> None:
    """Add the client's subcommands; each runs through ``run_client``."""
    common = _common()

    def add(name: str, command: Any, text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = commands.add_parser(
            name, parents=[common], help=text, description=f"{text}.", epilog=EPILOG
        )
        parser.set_defaults(client=command)
        return parser

    login = add("login", "login", "check a token with the server and save it for the client")
    login.set_defaults(client="login")
    add("whoami", cmd_whoami, "who the saved token acts as")

    request = add("request", cmd_request, "ask for access through a flow")
    request.add_argument("flow", metavar="FLOW")
    request.add_argument(
        "--field", action="append", type=field_option, metavar="NAME=VALUE", help="a form field"
    )
    request.add_argument("--reason", help="the reason field")
    request.add_argument("--duration", type=_duration, help="the duration field (30m, 1h...)")
    request.add_argument("--target", help="the target to get access to")
    request.add_argument("--for", dest="for_user", metavar="EMAIL", help="requester (bot tokens)")
    request.add_argument(
        "--break-glass",
        action="store_true",
        help="grant it to yourself now, without an approver (flows with break_glass; "
        "needs --reason; reviewed afterwards)",
    )
    request.add_argument("--wait", action="store_true", help="follow the run until it settles")
    request.add_argument("--interval", type=_interval, default=1.0, help="seconds between polls")
    request.add_argument("-q", "--quiet", action="store_true", help="print only the run's id")

    add("pending", cmd_pending, "the requests you may approve or deny now")
    for name in ("approve", "deny"):
        text = f"{name} a pending request"
        decide = add(name, cmd_decide, text)
        decide.add_argument("run", metavar="RUN")
        decide.add_argument("--reason")

    review = add("review", cmd_review, "review break-glass access after the fact")
    review.add_argument("run", metavar="RUN")
    review.add_argument("--reason")

    grants = add("grants", cmd_grants, "the access you hold now, with the time left")
    grants.add_argument("--all", action="store_true", help="everyone's (a token that sees all)")
    for name, text in (
        ("revoke", "end a grant's access now"),
        ("withdraw", "take back your request before anyone decides it"),
    ):
        end = add(name, cmd_end, text)
        end.add_argument("run", metavar="RUN")
        end.add_argument("--reason")
    extend = add("extend", cmd_extend, "ask for a grant to last longer")
    extend.add_argument("run", metavar="RUN")
    extend.add_argument("--by", required=True, type=_duration, metavar="DURATION")
    extend.add_argument("--reason")

    watch = add("watch", cmd_watch, "a live table of runs, until Ctrl-C")
    watch.add_argument("--interval", type=_interval, default=2.0, help="seconds between refreshes")
    watch.add_argument("--status", help="only runs in this status")
    watch.add_argument("--mine", action="store_true", help="only your own runs")
    watch.add_argument(
        "--limit", type=bounded(int, 1, 500, what="a whole number"), default=30, metavar="N"
    )


def run_client(
    args: argparse.Namespace,
    term: Terminal | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Run a client command; report failures on stderr and return the exit status."""
    term = term or Terminal(interactive=sys.stdin.isatty())
    environ = os.environ if environ is None else environ
    api = None
    try:
        if args.client == "login":
            return cmd_login(args, term, environ)
        server = config.server_url(args.server, environ)
        secret, warning = config.token(args.token_file, environ)
        if warning:
            term.warn(warning)
        api = Api(server, secret)
        command: Command = args.client
        return command(args, api, term)
    except UsageProblem as error:
        term.warn(str(error))
        return USAGE
    except Refused as error:
        relogin = error.status == 401 and args.client != "login"
        hint = "; log in again: symbox login" if relogin else ""
        term.warn(f"{error} (HTTP {error.status}){hint}")
        return FAILED
    except (ClientError, config.ConfigProblem) as error:
        term.warn(str(error))
        return FAILED
    except KeyboardInterrupt:
        print(file=term.err)
        return INTERRUPTED
    finally:
        if api is not None:
            api.close()
