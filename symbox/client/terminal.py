"""What a client command talks to besides the server: streams, the clock, the user."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from symbox.client import render


def ask_on_stderr(prompt: str) -> str:
    """Ask a person: the prompt goes to stderr so stdout stays the command's answer."""
    print(prompt, end="", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\n")


@dataclass
class Terminal:
    """Where a command writes, whether a person is there to answer, and the time."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    # A person at a terminal: prompts may be asked and status lines redrawn.
    interactive: bool = False
    ask: Callable[[str], str] = ask_on_stderr
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    now: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep

    def say(self, text: str) -> None:
        """Write a line to the output."""
        print(text, file=self.out, flush=True)

    def warn(self, text: str) -> None:
        """Write a line to the error stream, prefixed with the program's name."""
        print(f"symbox: {text}", file=self.err, flush=True)


def describe(run: dict[str, Any], now: float) -> str:
    """Where a run is, in a few words: ``escalated: access until 14:05 (in 10 min)``."""
    status = str(run.get("status"))
    decisions = run.get("decisions") or []
    decided = decisions[-1] if decisions else None
    detail = ""
    if status == "requested":
        expires = render.when(run.get("request_expires_at"), now)
        approved = render.approvals(run)
        progress = f" ({approved} approvals)" if approved else ""
        detail = f"waiting for a decision{progress}; expires {expires}"
    elif status == "approved":
        detail = "granting access" if run.get("grant") else "approved"
    elif status == "escalated":
        until = run.get("expires_at")
        detail = f"access until {render.when(until, now)}" if until else "access until revoked"
    elif status == "deescalated":
        detail = "access ended"
    elif status == "denied" and decided:
        why = f": {decided['reason']}" if decided.get("reason") else ""
        detail = f"by {(decided.get('actor') or {}).get('id', '?')}{why}"
    elif status == "expired":
        detail = "nobody decided in time"
    elif status == "errored":
        detail = str(run.get("error") or "")
    elif status == "withdrawn":
        detail = "by its requester"
    return f"{status}: {detail}" if detail else status
