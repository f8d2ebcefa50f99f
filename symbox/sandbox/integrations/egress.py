"""The HTTP client for hooks' outbound calls: every connection's address is checked as it opens."""

from __future__ import annotations

import ipaddress
import socket
import typing
from collections.abc import Awaitable, Callable

import anyio
import httpcore
import httpx

from symbox.sandbox.sdk.exceptions import HTTPRefusedError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Resolves a host name and port to the addresses a connection may use.
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


async def system_resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses the system resolver gives for ``host``."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def is_special(address: IPAddress) -> bool:
    """Loopback, link-local (cloud metadata services live there), unspecified and the like."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return (
        address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    )


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects by address, refusing a name that resolves to a loopback or link-local address.

    A host name passed the allow-list as a name; checking its addresses here, where the
    connection is made, keeps a name the allow-list trusts (or a DNS answer that changed
    since) from reaching symbox's own loopback services or a metadata endpoint. An IP
    literal, or ``localhost``, can only get here if the allow-list names it explicitly.
    """

    def __init__(
        self,
        inner: httpcore.AsyncNetworkBackend | None = None,
        resolve: Resolver | None = None,
    ) -> None:
        self._inner = inner or httpcore.AnyIOBackend()
        self._resolve = resolve or system_resolve

    async def connect_tcp(
        self,
        host: str,
        port: int,
        # httpcore's interface: the timeout is the library's, not a cancel scope of ours.
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve, check every address, then connect to the first one."""
        address = host if _literal(host) is not None or host == "localhost" else None
        if address is None:
            try:
                addresses = await self._resolve(host, port)
            except OSError as error:
                raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from None
            special = next((item for item in addresses if is_special(item)), None)
            if special is not None:
                raise HTTPRefusedError(
                    f"{host} resolves to {special}, a loopback or link-local address; "
                    "list that address itself in allowed_hosts to call it"
                )
            if not addresses:
                raise httpcore.ConnectError(f"cannot resolve {host}")
            address = str(addresses[0])
        return await self._inner.connect_tcp(
            address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Never: hooks reach hosts over TCP only."""
        raise HTTPRefusedError("unix sockets are not reachable from hooks")

    async def sleep(self, seconds: float) -> None:
        """Sleep as the wrapped backend does."""
        await self._inner.sleep(seconds)


def egress_client(resolve: Resolver | None = None) -> httpx.AsyncClient:
    """An httpx client for hooks' calls: no proxy or certificates from the environment.

    Redirects are not followed by the client: the gateway follows same-host ones itself.
    """
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    # httpx takes no network backend, so its pool is replaced by one that uses the guard.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        network_backend=GuardedBackend(resolve=resolve),
    )
    return httpx.AsyncClient(transport=transport, trust_env=False, follow_redirects=False)
