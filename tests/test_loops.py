"""The event loop symbox runs on, as --event-loop chooses it."""

from __future__ import annotations

import pytest

from symbox import loops


async def _name() -> str:
    return loops.running_loop()


def test_each_choice_runs_on_its_loop() -> None:
    assert loops.uvloop_available()
    assert loops.run(_name, "uvloop") == "uvloop"
    assert loops.run(_name, "asyncio") == "asyncio"
    assert loops.run(_name, "auto") == "uvloop"


def test_auto_falls_back_to_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loops, "uvloop_available", lambda: False)
    assert loops.resolve("auto") == "asyncio"
    assert loops.run(_name, "auto") == "asyncio"
    with pytest.raises(loops.LoopUnavailable, match="uvloop is not installed"):
        loops.resolve("uvloop")


def test_an_unknown_loop_is_refused() -> None:
    with pytest.raises(loops.LoopUnavailable, match="'tornado'"):
        loops.resolve("tornado")
