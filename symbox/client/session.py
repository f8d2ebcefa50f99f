"""``symbox login`` (check a token and keep it) and ``symbox whoami``."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable, Mapping

from symbox.client import render
from symbox.client.config import default_token_file, server_url, write_token_file
from symbox.client.http import Api
from symbox.client.request import UsageProblem
from symbox.client.terminal import Terminal


def cmd_login(
    args: argparse.Namespace,
    term: Terminal,
    environ: Mapping[str, str],
    secret_prompt: Callable[[str], str] = getpass.getpass,
) -> int:
    """Read a token (hidden prompt, or stdin), check it with the server, save it 0600."""
    server = server_url(args.server, environ)
    path = args.token_file or default_token_file(environ)
    if term.interactive:
        secret = secret_prompt(f"token for {server}: ").strip()
    else:
        secret = term.stdin.readline().strip()
    if not secret:
        raise UsageProblem("no token given (paste it at the prompt, or pipe it to stdin)")
    api = Api(server, secret)
    try:
        who = api.get("/api/v1/whoami")
    finally:
        api.close()
    write_token_file(path, secret)
    if args.output == "json":
        term.say(render.as_json({"server": server, "token_file": str(path), **who}))
    else:
        term.say(f"logged in to {server} as {who['kind']} {who['id']}; token saved in {path}")
    return 0


def cmd_whoami(args: argparse.Namespace, api: Api, term: Terminal) -> int:
    """Who the token acts as, on which server."""
    who = api.get("/api/v1/whoami")
    if args.output == "json":
        term.say(render.as_json({"server": api.server, **who}))
    else:
        term.say(f"{who['kind']} {who['id']} on {api.server}")
    return 0
