"""Shared pytest configuration: async tests run on asyncio through anyio; moto for AWS."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.fakes.aws_proxy import FaultProxy
    from tests.fakes.moto import MotoAws, MotoServer


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make ``tmp_path`` the current folder, so problems read ``config.hcl:LINE``."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def anyio_backend() -> str:
    """symbox runs on asyncio."""
    return "asyncio"


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """One moto server (AWS in server mode) for the whole test session."""
    from tests.fakes.moto import MotoServer

    server = MotoServer()
    yield server
    server.stop()


@pytest.fixture
def aws_env(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """An empty moto, and an environment whose AWS default chain finds only test keys."""
    from tests.fakes.moto import AWS_ENVIRONMENT, AWS_UNSET

    for name in AWS_UNSET:
        monkeypatch.delenv(name, raising=False)
    for name, value in AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    moto_server.reset()
    return moto_server


@pytest.fixture
async def aws(aws_env: MotoServer) -> AsyncIterator[MotoAws]:
    """Helpers that seed and read moto directly (not through any fault proxy)."""
    from tests.fakes.moto import MotoAws

    seeded = MotoAws(aws_env)
    await seeded.connection.open()
    try:
        yield seeded
    finally:
        await seeded.connection.aclose()


@pytest.fixture
def fault_proxy(aws_env: MotoServer) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the (empty) moto server."""
    from tests.fakes.aws_proxy import FaultProxy

    proxy = FaultProxy(aws_env.url).start()
    yield proxy
    proxy.stop()
