"""Which asyncio event loop symbox runs on: uvloop when it is there, else asyncio's own."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

T = TypeVar("T")

AUTO = "auto"
UVLOOP = "uvloop"
ASYNCIO = "asyncio"
CHOICES = (AUTO, UVLOOP, ASYNCIO)


class LoopUnavailable(Exception):
    """The event loop asked for cannot run here."""


def uvloop_available() -> bool:
    """Tell whether uvloop can be imported (it has no Windows build)."""
    return importlib.util.find_spec("uvloop") is not None


def resolve(choice: str) -> str:
    """The loop ``choice`` means here: ``uvloop`` or ``asyncio``; raise LoopUnavailable."""
    if choice == AUTO:
        return UVLOOP if uvloop_available() else ASYNCIO
    if choice == UVLOOP and not uvloop_available():
        raise LoopUnavailable("--event-loop uvloop: uvloop is not installed")
    if choice not in (UVLOOP, ASYNCIO):
        raise LoopUnavailable(f"--event-loop {choice!r}: expected one of {', '.join(CHOICES)}")
    return choice


def run(main: Callable[[], Awaitable[T]], choice: str = AUTO) -> T:
    """Run ``main`` to completion on the event loop ``choice`` resolves to."""
    loop = resolve(choice)
    return anyio.run(main, backend="asyncio", backend_options={"use_uvloop": loop == UVLOOP})


def running_loop() -> str:
    """The name of the event loop running this coroutine: ``uvloop`` or ``asyncio``."""
    module = type(asyncio.get_running_loop()).__module__
    return UVLOOP if module.split(".")[0] == UVLOOP else ASYNCIO
