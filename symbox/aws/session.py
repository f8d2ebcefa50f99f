"""Long-lived AWS clients: credentials, an optional assumed role, region and endpoint."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from symbox.aws.settings import ConnectionSettings, Service

if TYPE_CHECKING:
    import aioboto3
    from aiobotocore.config import AioConfig
    from types_aiobotocore_iam.client import IAMClient
    from types_aiobotocore_identitystore.client import IdentityStoreClient
    from types_aiobotocore_lambda.client import LambdaClient
    from types_aiobotocore_sso_admin.client import SSOAdminClient


class AwsSetupError(Exception):
    """AWS clients could not be created (no region, unreadable AWS config, ...)."""


class AwsConnection:
    """One client per AWS service for one ConnectionSettings, open while symbox runs."""

    def __init__(
        self, settings: ConnectionSettings, *, now: Callable[[], datetime] | None = None
    ) -> None:
        self.settings = settings
        self._now = now
        self._services: set[Service] = set()
        self._clients: dict[str, Any] = {}
        self._stack: AsyncExitStack | None = None

    def require(self, service: Service) -> None:
        """Ask for a client of ``service``; call before ``open``."""
        self._services.add(service)

    def sso_admin(self) -> SSOAdminClient:
        """The IAM Identity Center admin client."""
        return cast("SSOAdminClient", self._client("sso-admin"))

    def identitystore(self) -> IdentityStoreClient:
        """The identity store client."""
        return cast("IdentityStoreClient", self._client("identitystore"))

    def iam(self) -> IAMClient:
        """The IAM client."""
        return cast("IAMClient", self._client("iam"))

    def lambda_(self) -> LambdaClient:
        """The Lambda client (``aws_lambda`` strategies)."""
        return cast("LambdaClient", self._client("lambda"))

    def firehose(self) -> Any:
        """The Data Firehose client (audit destinations; untyped: no stubs are installed)."""
        return self._client("firehose")

    def secretsmanager(self) -> Any:
        """The Secrets Manager client (``sym_secrets``; untyped like ``firehose``)."""
        return self._client("secretsmanager")

    def kinesis(self) -> Any:
        """The Kinesis Data Streams client (audit destinations; untyped like ``firehose``)."""
        return self._client("kinesis")

    def _client(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None:
            raise RuntimeError(f"no open {service} client: AWS connections are not open")
        return client

    async def open(self) -> None:
        """Create the clients (no AWS call is made until the first request)."""
        stack = AsyncExitStack()
        try:
            session = await self._session(stack)
            config = self._config()
            url = self.settings.endpoint_url
            for service in sorted(self._services):
                if service == "sso-admin":
                    made: Any = session.client("sso-admin", endpoint_url=url, config=config)
                elif service == "identitystore":
                    made = session.client("identitystore", endpoint_url=url, config=config)
                elif service == "iam":
                    made = session.client("iam", endpoint_url=url, config=config)
                else:
                    made = session.client(service, endpoint_url=url, config=config)
                self._clients[service] = await stack.enter_async_context(made)
        except Exception as error:
            # botocore is loaded by now (the clients come from it); imported here so that a
            # start without AWS never loads it.
            from botocore.exceptions import BotoCoreError

            if not isinstance(error, BotoCoreError):
                raise
            await stack.aclose()
            self._clients.clear()
            where = self.settings.describe()
            raise AwsSetupError(f"cannot create AWS clients ({where}): {error}") from None
        self._stack = stack

    async def aclose(self) -> None:
        """Close every client (idempotent)."""
        stack, self._stack = self._stack, None
        self._clients.clear()
        if stack is not None:
            await stack.aclose()

    def _config(self) -> AioConfig:
        # The SDK is imported here, on first use: see symbox.aws.sdk.
        from symbox.aws.sdk import client_config

        return client_config(self.settings)

    async def _session(self, stack: AsyncExitStack) -> aioboto3.Session:
        from symbox.aws.sdk import session

        return await session(self.settings, stack, self._now)


class AwsConnections:
    """The AWS connections of one symbox: one per distinct settings, shared by its users."""

    def __init__(self, *, now: Callable[[], datetime] | None = None) -> None:
        self._now = now
        self._connections: dict[ConnectionSettings, AwsConnection] = {}

    def connection(self, settings: ConnectionSettings, *services: Service) -> AwsConnection:
        """The connection for ``settings``, with clients for ``services`` once open."""
        connection = self._connections.get(settings)
        if connection is None:
            connection = AwsConnection(settings, now=self._now)
            self._connections[settings] = connection
        for service in services:
            connection.require(service)
        return connection

    def __len__(self) -> int:
        return len(self._connections)

    async def open(self) -> None:
        """Open every connection; on failure close the ones already open and raise."""
        opened: list[AwsConnection] = []
        try:
            for connection in self._connections.values():
                await connection.open()
                opened.append(connection)
        except BaseException:
            for connection in opened:
                await connection.aclose()
            raise

    async def aclose(self) -> None:
        """Close every connection."""
        for connection in self._connections.values():
            await connection.aclose()
