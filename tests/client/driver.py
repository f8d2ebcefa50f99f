"""Runs client commands in-process against a harness server, as a person or script would."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import anyio.to_thread

from symbox.cli.main import build_parser
from symbox.client.parser import run_client
from symbox.client.terminal import Terminal
from tests.harness import Harness


@dataclass
class Result:
    """A finished client command."""

    code: int
    out: str
    err: str


def _no_sleep(seconds: float) -> None:
    raise AssertionError("this command was not expected to wait")


async def client(
    h: Harness,
    as_: str,
    *argv: str,
    answers: list[str] | None = None,
    sleep: Callable[[float], None] = _no_sleep,
    environ: dict[str, str] | None = None,
) -> Result:
    """Run ``symbox ARGV --server URL`` with ``as_``'s token in $SYMBOX_TOKEN.

    ``answers`` makes it a terminal: each prompt takes the next answer.
    """
    out, err = io.StringIO(), io.StringIO()
    pending = list(answers or [])

    def ask(prompt: str) -> str:
        err.write(prompt)
        if not pending:
            raise EOFError
        return pending.pop(0)

    term = Terminal(
        out=out, err=err, interactive=answers is not None, ask=ask, now=h.clock.now, sleep=sleep
    )
    args = build_parser().parse_args([*argv, "--server", str(h.http.base_url)])
    env = {"SYMBOX_TOKEN": await h.token(as_), "HOME": "/nonexistent", **(environ or {})}
    # The client is synchronous: it runs in a thread while the server serves on this loop.
    code = await anyio.to_thread.run_sync(partial(run_client, args, term, env))
    return Result(code, out.getvalue(), err.getvalue())
