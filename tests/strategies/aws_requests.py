"""Grant requests and open connections for the AWS strategy tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from symbox.aws.session import AwsConnection
from symbox.aws.settings import ConnectionSettings
from symbox.config.model import Location, Target
from symbox.strategies.base import GrantRequest
from tests.fakes.moto import REGION

HERE = Location("config.hcl", 1)


def grant(target_type: str, requester: str = "carol@example.com", **settings: Any) -> GrantRequest:
    """A grant request for a target of ``target_type`` with ``settings``."""
    target = Target("t", "admin", target_type, None, settings, (), HERE)
    return GrantRequest("run-1", "access", requester, target, {"reason": "x"}, 0.0)


@asynccontextmanager
async def connection(
    url: str, *services: Any, max_attempts: int = 2
) -> AsyncIterator[AwsConnection]:
    """An open connection to ``url`` with clients for ``services``."""
    opened = AwsConnection(
        ConnectionSettings(region=REGION, endpoint_url=url, max_attempts=max_attempts)
    )
    for service in services:
        opened.require(service)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.aclose()
