"""The HTTP client for hooks' outbound calls: every connection's address is checked as it opens."""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
import typing
from collections.abc import Awaitable, Callable
from typing import NamedTuple

import anyio
import httpcore
import httpx

from symbox.sandbox.sdk.exceptions import HTTPRefusedError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# Resolves a host name and port to the addresses a connection may use.
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


class SpecialRange(NamedTuple):
    """One special-purpose network and what it is for."""

    network: IPNetwork
    purpose: str


def _special(network: str, purpose: str) -> SpecialRange:
    return SpecialRange(ipaddress.ip_network(network), purpose)


# Every entry of IANA's IPv4 and IPv6 Special-Purpose Address Registries, plus multicast and
# the deprecated site-local and IPv4-compatible blocks. None of them is a public service a
# hook should reach by name: they hold symbox's own loopback listeners, the private
# networks it runs in and every cloud's metadata service. Entries "globally reachable" in
# the registry (AS112, AMT, anycast) are refused too: no integration lives there, and a
# short table without exceptions is one an operator can check.
SPECIAL_RANGES: tuple[SpecialRange, ...] = (
    _special("0.0.0.0/8", "this network"),
    _special("0.0.0.0/32", "this host on this network"),
    _special("10.0.0.0/8", "private-use"),
    _special("100.64.0.0/10", "shared address space: carrier-grade NAT, Alibaba Cloud metadata"),
    _special("127.0.0.0/8", "loopback"),
    _special("169.254.0.0/16", "link-local: AWS, GCP and Azure metadata, ECS credentials"),
    _special("172.16.0.0/12", "private-use"),
    _special("192.0.0.0/24", "IETF protocol assignments"),
    _special("192.0.0.0/29", "IPv4 service continuity prefix"),
    _special("192.0.0.8/32", "IPv4 dummy address"),
    _special("192.0.0.9/32", "port control protocol anycast"),
    _special("192.0.0.10/32", "TURN anycast"),
    _special("192.0.0.170/32", "NAT64/DNS64 discovery"),
    _special("192.0.0.171/32", "NAT64/DNS64 discovery"),
    _special("192.0.2.0/24", "documentation, TEST-NET-1"),
    _special("192.31.196.0/24", "AS112-v4"),
    _special("192.52.193.0/24", "AMT"),
    _special("192.88.99.0/24", "deprecated 6to4 relay anycast"),
    _special("192.168.0.0/16", "private-use"),
    _special("192.175.48.0/24", "direct delegation AS112 service"),
    _special("198.18.0.0/15", "benchmarking"),
    _special("198.51.100.0/24", "documentation, TEST-NET-2"),
    _special("203.0.113.0/24", "documentation, TEST-NET-3"),
    _special("224.0.0.0/4", "multicast"),
    _special("240.0.0.0/4", "reserved"),
    _special("255.255.255.255/32", "limited broadcast"),
    _special("::/128", "unspecified"),
    _special("::1/128", "loopback"),
    _special("::/96", "deprecated IPv4-compatible"),
    _special("::ffff:0:0/96", "IPv4-mapped"),
    _special("64:ff9b:1::/48", "local-use IPv4/IPv6 translation"),
    _special("100::/64", "discard-only"),
    _special("100:0:0:1::/64", "dummy IPv6 prefix"),
    _special("2001::/23", "IETF protocol assignments"),
    _special("2001::/32", "Teredo"),
    _special("2001:1::1/128", "port control protocol anycast"),
    _special("2001:1::2/128", "TURN anycast"),
    _special("2001:1::3/128", "DNS-SD service registration protocol anycast"),
    _special("2001:2::/48", "benchmarking"),
    _special("2001:3::/32", "AMT"),
    _special("2001:4:112::/48", "AS112-v6"),
    _special("2001:10::/28", "deprecated ORCHID"),
    _special("2001:20::/28", "ORCHIDv2"),
    _special("2001:30::/28", "drone remote ID entity tags"),
    _special("2001:db8::/32", "documentation"),
    _special("2002::/16", "6to4"),
    _special("2620:4f:8000::/48", "direct delegation AS112 service"),
    _special("3fff::/20", "documentation"),
    _special("5f00::/16", "SRv6 segment identifiers"),
    _special("fc00::/7", "unique-local: AWS metadata over IPv6"),
    _special("fe80::/10", "link-local"),
    _special("fec0::/10", "deprecated site-local"),
    _special("ff00::/8", "multicast"),
)
# The well-known NAT64 prefix is the one registry entry judged by the IPv4 address inside it:
# on an IPv6-only network DNS64 answers with it for every public name, so refusing it whole
# would cut such a deployment off, while 64:ff9b::a9fe:a9fe still reaches 169.254.169.254.
NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for: mapped, compatible, NAT64, 6to4 or Teredo."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    value = int(address)
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64_PREFIX or (value >> 32 == 0 and value > 1):
        # NAT64 and the deprecated IPv4-compatible form keep the IPv4 address in the low
        # 32 bits; :: and ::1 are IPv6's own unspecified and loopback addresses.
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def special_range(address: IPAddress) -> SpecialRange | None:
    """The most specific special-purpose range that makes ``address`` unreachable, if any."""
    if address in NAT64_PREFIX:
        address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    found = [entry for entry in SPECIAL_RANGES if address in entry.network]
    return max(found, key=lambda entry: entry.network.prefixlen, default=None)


def is_special(address: IPAddress) -> bool:
    """Tell whether ``address`` is in a special-purpose range (loopback, private, metadata...)."""
    return special_range(address) is not None


def describe(address: IPAddress) -> str | None:
    """Where ``address`` lies, for a refusal ("in 127.0.0.0/8 (loopback)"), or None if public."""
    found = special_range(address)
    if found is None:
        return None
    where = f"in {found.network} ({found.purpose})"
    inner = embedded_ipv4(address)
    if inner is None:
        return where
    if address in NAT64_PREFIX:
        return f"a NAT64 address for {inner}, which is {where}"
    return f"{where}, standing for {inner}"


async def system_resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses the system resolver gives for ``host``."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _numeric(host: str) -> IPAddress | None:
    """The address a host written as a number stands for: ``1.2.3.4``, ``::1``, ``0xa9fea9fe``.

    The short, decimal, octal and hex IPv4 forms are read as the C library would read them,
    so ``2852039166`` is checked as the 169.254.169.254 it connects to, whatever resolver
    is in use.
    """
    literal = _literal(host)
    if literal is not None:
        return literal
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def listed_itself(host: str) -> bool:
    """Tell whether ``host`` is an address written as itself, which the allow-list named.

    This is the one way to a special-purpose address: an operator who lists ``127.0.0.1``
    or ``10.0.0.5`` in ``allowed_hosts`` means that address. A number in another form
    (``2852039166``) or an IPv6 form standing for an IPv4 address (``::ffff:10.0.0.5``)
    is not trusted that way: it is checked like a resolved address.
    """
    literal = _literal(host)
    return host == "localhost" or (literal is not None and embedded_ipv4(literal) is None)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects by address, refusing a host whose address is in a special-purpose range.

    A host name passed the allow-list as a name; checking its addresses here, where the
    connection is made, keeps a name the allow-list trusts (or a DNS answer that changed
    since) from reaching symbox's own loopback services, a private network or a metadata
    endpoint. An address written as itself, or ``localhost``, can only get here if the
    allow-list names it explicitly, so it is not checked (see `listed_itself`).
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
        address = host if listed_itself(host) else await self._checked(host, port)
        return await self._inner.connect_tcp(
            address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def _checked(self, host: str, port: int) -> str:
        numeric = _numeric(host)
        if numeric is not None:
            addresses = [numeric]
        else:
            try:
                addresses = await self._resolve(host, port)
            except OSError as error:
                raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from None
        for address in addresses:
            where = describe(address)
            if where is None:
                continue
            if numeric is None:
                what = f"{host} resolves to {address}, {where}"
            elif str(address) == host:
                what = f"{host} is {where}"
            else:
                what = f"{host} is {address}, {where}"
            raise HTTPRefusedError(
                f"{what}; special-purpose addresses are refused unless allowed_hosts lists "
                "the address itself"
            )
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}")
        return str(addresses[0])

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


def ssl_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """TLS contexts for symbox's own calls and for hooks' calls, in that order.

    symbox's own trust the certificates ``SSL_CERT_FILE`` or ``SSL_CERT_DIR`` name (as
    httpx does); hooks' trust only the default store. Loading a store costs ~16 ms of
    start-up, so when the environment names none, one context serves both.
    """
    own = httpx.create_ssl_context(trust_env=True)
    if os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR"):
        return own, httpx.create_ssl_context(trust_env=False)
    return own, own


def egress_client(
    resolve: Resolver | None = None,
    network: httpcore.AsyncNetworkBackend | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx.AsyncClient:
    """An httpx client for hooks' calls: no proxy or certificates from the environment.

    Redirects are not followed by the client: the gateway follows same-host ones itself.
    ``resolve`` and ``network`` replace the system resolver and the sockets beneath the
    address check, so tests can see what would have been connected to. ``ssl_context``
    must trust no certificates from the environment (``ssl_contexts`` makes one).
    """
    # One context for both: loading the system's certificates is most of a client's cost.
    if ssl_context is None:
        ssl_context = httpx.create_ssl_context(trust_env=False)
    transport = httpx.AsyncHTTPTransport(verify=ssl_context, trust_env=False)
    # httpx takes no network backend, so its pool is replaced by one that uses the guard.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context, network_backend=GuardedBackend(inner=network, resolve=resolve)
    )
    return httpx.AsyncClient(transport=transport, trust_env=False, follow_redirects=False)
