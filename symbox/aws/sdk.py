"""The AWS SDK (aioboto3, aiobotocore), imported only when an AWS connection opens.

Importing it costs about a third of symbox's start-up (aiohttp comes with it), which a
config without AWS strategies or destinations need not pay.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import datetime
from typing import TYPE_CHECKING, Any

import aioboto3
from aiobotocore.config import AioConfig
from aiobotocore.credentials import AioCredentialResolver, AioDeferredRefreshableCredentials
from aiobotocore.session import AioSession
from botocore.credentials import CredentialProvider

from symbox.aws.errors import call
from symbox.aws.settings import ROLE_SESSION_SECONDS, ConnectionSettings

if TYPE_CHECKING:
    from types_aiobotocore_sts.client import STSClient

# The connection's own logger: these lines are about the connection, wherever the code is.
log = logging.getLogger("symbox.aws.session")


def client_config(settings: ConnectionSettings) -> AioConfig:
    """Timeouts and retries for every client of a connection."""
    return AioConfig(
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        retries={"mode": "standard", "total_max_attempts": settings.max_attempts},
        user_agent_extra="symbox",
    )


async def session(
    settings: ConnectionSettings,
    stack: AsyncExitStack,
    now: Callable[[], datetime] | None,
) -> aioboto3.Session:
    """A session with the default credential chain, or with a role assumed through it."""
    # The default chain: environment, shared files, container or instance credentials.
    base = aioboto3.Session(region_name=settings.region)
    if not settings.role_arn:
        return base
    sts = await stack.enter_async_context(
        base.client("sts", endpoint_url=settings.endpoint_url, config=client_config(settings))
    )
    assumed = AioSession()
    assumed.register_component(
        "credential_provider", AioCredentialResolver([_AssumedRole(sts, settings, now)])
    )
    return aioboto3.Session(botocore_session=assumed, region_name=settings.region)


class _AssumedRole(CredentialProvider):
    """Credentials of a role assumed through STS, refreshed by botocore before they expire."""

    METHOD = "symbox-assume-role"
    CANONICAL_NAME = "symbox-assume-role"

    def __init__(
        self,
        sts: STSClient,
        settings: ConnectionSettings,
        now: Callable[[], datetime] | None,
    ) -> None:
        super().__init__()
        self._sts = sts
        self._settings = settings
        self._now = now

    async def load(self) -> AioDeferredRefreshableCredentials:
        """Credentials that call AssumeRole on first use and again near expiry."""
        if self._now is None:
            return AioDeferredRefreshableCredentials(self._fetch, self.METHOD)
        return AioDeferredRefreshableCredentials(self._fetch, self.METHOD, self._now)

    async def _fetch(self) -> dict[str, str]:
        settings = self._settings
        assert settings.role_arn is not None, "only built for a role"
        arguments: dict[str, Any] = {
            "RoleArn": settings.role_arn,
            "RoleSessionName": settings.session_name,
            "DurationSeconds": ROLE_SESSION_SECONDS,
        }
        if settings.external_id:
            arguments["ExternalId"] = settings.external_id
        response = await call("sts:AssumeRole", self._sts.assume_role(**arguments))
        credentials = response["Credentials"]
        log.info(
            "assumed AWS role",
            extra={"role_arn": settings.role_arn, "expires": credentials["Expiration"].isoformat()},
        )
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": credentials["Expiration"].isoformat(),
        }
