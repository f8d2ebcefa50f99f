"""How the pool starts workers: from source with `-m`, and as the frozen executable would."""

from __future__ import annotations

import sys

import pytest

from symbox.sandbox.pool import HookPool, default_command
from symbox.sandbox.worker import WORKER_ARGUMENT

pytestmark = pytest.mark.anyio


def test_the_frozen_executable_starts_itself_as_the_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert default_command() == (sys.executable, WORKER_ARGUMENT)


def test_from_source_the_worker_is_an_isolated_module_launch() -> None:
    assert default_command() == (sys.executable, "-I", "-m", "symbox.sandbox.worker")


async def test_the_entry_point_dispatches_the_worker_argument() -> None:
    # The same dispatch the executable runs, through `python -m symbox __worker__`.
    command = (sys.executable, "-I", "-m", "symbox", WORKER_ARGUMENT)
    source = "def answer(x):\n    return {'doubled': x * 2}\n"
    async with HookPool(size=2, command=command) as pool:
        assert len(pool.pids) == 2
        assert await pool.call(source, "impl.py", "answer", [21]) == {"doubled": 42}
