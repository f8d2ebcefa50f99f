"""Connect-time address checks: every special-purpose range is refused, nothing leaves loopback.

The resolver is a fake and the sockets beneath the check are a recorder that connects to
nothing, so no test here sends a packet anywhere.
"""

from __future__ import annotations

import ipaddress
import ssl
import typing
from pathlib import Path
from typing import Any

import anyio
import httpcore
import pytest

from symbox.config.hosts import AllowList
from symbox.sandbox.errors import HookError
from symbox.sandbox.integrations.egress import (
    NAT64_PREFIX,
    SPECIAL_RANGES,
    GuardedBackend,
    IPAddress,
    describe,
    egress_client,
    is_special,
    special_range,
    ssl_contexts,
)
from symbox.sandbox.integrations.http import HttpGateway
from symbox.sandbox.integrations.scope import CallScope
from symbox.sandbox.pool import HookPool
from symbox.sandbox.sdk.exceptions import HTTPRefusedError
from tests.fakes.smtp import self_signed
from tests.sandbox.sources import hook_source

pytestmark = pytest.mark.anyio

# One address inside each entry of IANA's special-purpose registries (and the other blocks
# symbox refuses), with the entry it must be refused as: written out here rather than read
# from the table, so an entry dropped from the table fails a test.
INSIDE = [
    ("0.1.2.3", "0.0.0.0/8"),
    ("0.0.0.0", "0.0.0.0/32"),
    ("10.20.30.40", "10.0.0.0/8"),
    ("100.64.0.1", "100.64.0.0/10"),
    ("127.0.0.1", "127.0.0.0/8"),
    ("169.254.1.1", "169.254.0.0/16"),
    ("172.31.255.254", "172.16.0.0/12"),
    ("192.0.0.100", "192.0.0.0/24"),
    ("192.0.0.6", "192.0.0.0/29"),
    ("192.0.0.8", "192.0.0.8/32"),
    ("192.0.0.9", "192.0.0.9/32"),
    ("192.0.0.10", "192.0.0.10/32"),
    ("192.0.0.170", "192.0.0.170/32"),
    ("192.0.0.171", "192.0.0.171/32"),
    ("192.0.2.1", "192.0.2.0/24"),
    ("192.31.196.1", "192.31.196.0/24"),
    ("192.52.193.1", "192.52.193.0/24"),
    ("192.88.99.1", "192.88.99.0/24"),
    ("192.168.1.1", "192.168.0.0/16"),
    ("192.175.48.6", "192.175.48.0/24"),
    ("198.19.255.1", "198.18.0.0/15"),
    ("198.51.100.7", "198.51.100.0/24"),
    ("203.0.113.9", "203.0.113.0/24"),
    ("239.255.255.250", "224.0.0.0/4"),
    ("250.1.2.3", "240.0.0.0/4"),
    ("255.255.255.255", "255.255.255.255/32"),
    ("::", "::/128"),
    ("::1", "::1/128"),
    ("::a00:1", "::/96"),
    ("::ffff:8.8.8.8", "::ffff:0:0/96"),
    ("64:ff9b:1::5db8:d70e", "64:ff9b:1::/48"),
    ("100::1", "100::/64"),
    ("100:0:0:1::1", "100:0:0:1::/64"),
    ("2001:100::1", "2001::/23"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001::/32"),
    ("2001:1::1", "2001:1::1/128"),
    ("2001:1::2", "2001:1::2/128"),
    ("2001:1::3", "2001:1::3/128"),
    ("2001:2::1", "2001:2::/48"),
    ("2001:3::1", "2001:3::/32"),
    ("2001:4:112::1", "2001:4:112::/48"),
    ("2001:10::1", "2001:10::/28"),
    ("2001:20::1", "2001:20::/28"),
    ("2001:30::1", "2001:30::/28"),
    ("2001:db8::1", "2001:db8::/32"),
    ("2002:5db8:d70e::1", "2002::/16"),
    ("2620:4f:8000::1", "2620:4f:8000::/48"),
    ("3fff::1", "3fff::/20"),
    ("5f00::1", "5f00::/16"),
    ("fc00::1", "fc00::/7"),
    ("fe80::1", "fe80::/10"),
    ("fec0::1", "fec0::/10"),
    ("ff02::1", "ff00::/8"),
]

# Cloud metadata endpoints and IPv6 forms that stand for a special IPv4 address.
NAMED = [
    ("fd00:ec2::254", "fc00::/7"),
    ("100.100.100.200", "100.64.0.0/10"),
    ("169.254.169.254", "169.254.0.0/16"),
    ("169.254.170.2", "169.254.0.0/16"),
    ("100.64.0.1", "100.64.0.0/10"),
    ("::ffff:169.254.169.254", "::ffff:0:0/96"),
    ("::169.254.169.254", "::/96"),
    ("64:ff9b::a9fe:a9fe", "169.254.0.0/16"),
    ("64:ff9b::7f00:1", "127.0.0.0/8"),
    ("64:ff9b::a00:1", "10.0.0.0/8"),
    ("2002:a9fe:a9fe::1", "2002::/16"),
    ("2001:0:4136:e378:8000:63bf:5601:5601", "2001::/32"),
]

# Public addresses, several just outside a special range, that must stay reachable.
PUBLIC = [
    "93.184.215.14",
    "8.8.8.8",
    "1.1.1.1",
    "9.255.255.255",
    "11.0.0.0",
    "100.63.255.255",
    "100.128.0.0",
    "172.32.0.1",
    "192.0.1.1",
    "192.167.255.255",
    "198.20.0.1",
    "223.255.255.255",
    "2606:4700::1111",
    "2a05:d014::1",
    "2001:200::1",
    "2001:4860:4860::8888",
    "2620:4f:8001::1",
    "3fff:1000::1",
    # NAT64 (DNS64 synthesises these on IPv6-only networks) for a public IPv4 address.
    "64:ff9b::5db8:d70e",
]


def ip(text: str) -> IPAddress:
    """An address from its text."""
    return ipaddress.ip_address(text)


@pytest.mark.parametrize(("address", "network"), INSIDE + NAMED)
def test_special_addresses_are_refused_as_their_range(address: str, network: str) -> None:
    found = special_range(ip(address))
    assert found is not None
    assert found.network == ipaddress.ip_network(network)
    assert is_special(ip(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert special_range(ip(address)) is None
    assert not is_special(ip(address))
    assert describe(ip(address)) is None


def test_every_table_entry_is_tested() -> None:
    tested = {ipaddress.ip_network(network) for _, network in INSIDE}
    assert {entry.network for entry in SPECIAL_RANGES} == tested
    assert len(SPECIAL_RANGES) == len(tested)
    assert NAT64_PREFIX not in tested


DESCRIPTIONS = [
    ("127.0.0.1", "in 127.0.0.0/8 (loopback)"),
    ("fd00:ec2::254", "in fc00::/7 (unique-local: AWS metadata over IPv6)"),
    (
        "100.100.100.200",
        "in 100.64.0.0/10 (shared address space: carrier-grade NAT, Alibaba Cloud metadata)",
    ),
    ("::ffff:169.254.169.254", "in ::ffff:0:0/96 (IPv4-mapped), standing for 169.254.169.254"),
    ("2002:a9fe:a9fe::1", "in 2002::/16 (6to4), standing for 169.254.169.254"),
    (
        "64:ff9b::a9fe:a9fe",
        "a NAT64 address for 169.254.169.254, which is in 169.254.0.0/16 "
        "(link-local: AWS, GCP and Azure metadata, ECS credentials)",
    ),
]


@pytest.mark.parametrize(("address", "text"), DESCRIPTIONS)
def test_a_refusal_names_the_range(address: str, text: str) -> None:
    assert describe(ip(address)) == text


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Sockets that record each connection asked for and open none."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Record the connection and fail it, as an unreachable host would."""
        self.connects.append((host, port))
        raise httpcore.ConnectError(f"{host}:{port} is not reachable from tests")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Never asked for: the guard refuses unix sockets itself."""
        raise AssertionError(path)

    async def sleep(self, seconds: float) -> None:
        """Sleep for real: only the sockets are fake."""
        await anyio.sleep(seconds)


class FakeDns:
    """A resolver answering from a table and recording the names it was asked for."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        """The table's addresses for ``host``; OSError for any other name."""
        self.asked.append(host)
        if host not in self.answers:
            raise OSError(f"{host}: no such host")
        return [ip(address) for address in self.answers[host]]


@pytest.mark.parametrize("address", [address for address, _ in INSIDE + NAMED])
async def test_a_name_resolving_to_a_special_address_is_never_connected(address: str) -> None:
    sockets = RecordingBackend()
    dns = FakeDns({"api.partner.test": ["93.184.215.14", address]})
    guard = GuardedBackend(inner=sockets, resolve=dns)
    with pytest.raises(HTTPRefusedError) as caught:
        await guard.connect_tcp("api.partner.test", 443)
    assert f"api.partner.test resolves to {ip(address)}, " in str(caught.value)
    assert sockets.connects == []


@pytest.mark.parametrize("address", PUBLIC)
async def test_a_name_resolving_to_public_addresses_connects_by_address(address: str) -> None:
    sockets = RecordingBackend()
    guard = GuardedBackend(inner=sockets, resolve=FakeDns({"api.partner.test": [address]}))
    with pytest.raises(httpcore.ConnectError):
        await guard.connect_tcp("api.partner.test", 443)
    assert sockets.connects == [(address, 443)]


# Hosts written as numbers other than an address itself: the C library reads the decimal,
# hex, octal and short forms as 169.254.169.254, and the IPv6 forms stand for it.
NUMERIC_FORMS = [
    "2852039166",
    "0xa9fea9fe",
    "0xa9.0xfe.0xa9.0xfe",
    "0251.0376.0251.0376",
    "169.254.43518",
    "0177.1",
    "::ffff:169.254.169.254",
    "::ffff:a9fe:a9fe",
    "::169.254.169.254",
    "64:ff9b::a9fe:a9fe",
    "2002:a9fe:a9fe::1",
    "2001:0:4136:e378:8000:63bf:5601:5601",
]


@pytest.mark.parametrize("host", NUMERIC_FORMS)
async def test_numeric_hosts_are_checked_without_a_resolver(host: str) -> None:
    sockets = RecordingBackend()
    dns = FakeDns({})
    guard = GuardedBackend(inner=sockets, resolve=dns)
    with pytest.raises(HTTPRefusedError) as caught:
        await guard.connect_tcp(host, 80)
    assert "special-purpose addresses are refused" in str(caught.value)
    assert sockets.connects == []
    assert dns.asked == []


@pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.5", "169.254.169.254", "::1", "localhost"])
async def test_an_address_written_as_itself_is_the_allow_lists_to_grant(host: str) -> None:
    sockets = RecordingBackend()
    dns = FakeDns({})
    guard = GuardedBackend(inner=sockets, resolve=dns)
    with pytest.raises(httpcore.ConnectError):
        await guard.connect_tcp(host, 8080)
    assert sockets.connects == [(host, 8080)]
    assert dns.asked == []


# URLs whose host only the allow-list entry written the same way lets past the gateway:
# each then reaches the connect-time check, which refuses it.
LISTED_URLS = [
    ("http://2852039166/latest/", "2852039166", "2852039166 is 169.254.169.254, in 169.254.0.0/16"),
    ("http://0xa9fea9fe/", "0xa9fea9fe", "0xa9fea9fe is 169.254.169.254, in 169.254.0.0/16"),
    ("http://0177.1/", "0177.1", "0177.1 is 127.0.0.1, in 127.0.0.0/8 (loopback)"),
    (
        "http://[::ffff:169.254.169.254]/",
        "::ffff:169.254.169.254",
        "::ffff:169.254.169.254 is ::ffff:a9fe:a9fe, in ::ffff:0:0/96 (IPv4-mapped), "
        "standing for 169.254.169.254",
    ),
    (
        "http://[64:ff9b::a9fe:a9fe]:8080/",
        "[64:ff9b::a9fe:a9fe]:8080",
        "64:ff9b::a9fe:a9fe is a NAT64 address for 169.254.169.254",
    ),
]


@pytest.mark.parametrize(("url", "listed", "text"), LISTED_URLS)
async def test_address_literals_in_urls_are_checked_at_connect_time(
    url: str, listed: str, text: str
) -> None:
    sockets = RecordingBackend()
    dns = FakeDns({})
    async with egress_client(resolve=dns, network=sockets) as client:
        gateway = HttpGateway(client, AllowList.parse([listed]))
        with pytest.raises(HTTPRefusedError) as caught:
            await gateway.call("request", {"method": "GET", "url": url})
    assert text in str(caught.value)
    assert sockets.connects == []
    assert dns.asked == []


async def test_an_invalid_octal_address_is_not_a_valid_url() -> None:
    async with egress_client(resolve=FakeDns({}), network=RecordingBackend()) as client:
        gateway = HttpGateway(client, AllowList.parse(["0251.0376.0251.0376"]))
        with pytest.raises(HTTPRefusedError, match="the url is not a valid URL"):
            await gateway.call("request", {"method": "GET", "url": "http://0251.0376.0251.0376/"})


METADATA = {
    "imds6.partner.test": ["fd00:ec2::254"],
    "alibaba.partner.test": ["100.100.100.200"],
    "public.partner.test": ["93.184.215.14"],
}
HOOK_REFUSALS = [
    (
        "imds6.partner.test",
        "imds6.partner.test resolves to fd00:ec2::254, in fc00::/7 (unique-local: AWS metadata "
        "over IPv6); special-purpose addresses are refused unless allowed_hosts lists the "
        "address itself",
    ),
    (
        "alibaba.partner.test",
        "alibaba.partner.test resolves to 100.100.100.200, in 100.64.0.0/10 (shared address "
        "space: carrier-grade NAT, Alibaba Cloud metadata); special-purpose addresses are "
        "refused unless allowed_hosts lists the address itself",
    ),
]


async def run_hook(pool: HookPool, host: str, sockets: RecordingBackend) -> Any:
    """Run a hook in a real worker that GETs ``http://<host>/latest/`` through the gateway."""
    async with egress_client(resolve=FakeDns(METADATA), network=sockets) as client:
        http = HttpGateway(client, AllowList.parse(["*.partner.test"]))
        body = f"import requests\nreturn requests.get('http://{host}/latest/').status_code"
        source = hook_source(body)
        return await pool.call(source, "hooks/impl.py", "hook", integrations=CallScope(http=http))


@pytest.mark.parametrize(("host", "text"), HOOK_REFUSALS)
async def test_a_hook_calling_a_metadata_name_is_refused_before_connecting(
    one_worker: HookPool, host: str, text: str
) -> None:
    sockets = RecordingBackend()
    with pytest.raises(HookError) as caught:
        await run_hook(one_worker, host, sockets)
    assert caught.value.type_name == "HTTPRefusedError"
    assert text in str(caught.value)
    assert sockets.connects == []


async def test_a_hook_calling_a_public_name_connects_by_its_address(one_worker: HookPool) -> None:
    sockets = RecordingBackend()
    with pytest.raises(HookError) as caught:
        await run_hook(one_worker, "public.partner.test", sockets)
    assert caught.value.type_name == "HTTPConnectionError"
    assert sockets.connects == [("93.184.215.14", 80)]


def test_one_tls_context_serves_symbox_and_hooks_when_the_environment_names_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    own, hooks = ssl_contexts()
    assert own is hooks


def test_certificates_the_environment_names_are_trusted_by_symbox_not_by_hooks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A self-signed CA certificate, as a company's own would be given.
    bundle = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    own, hooks = ssl_contexts()
    assert own is not hooks
    ours = ssl.PEM_cert_to_DER_cert(bundle.read_text())
    assert own.get_ca_certs(binary_form=True) == [ours]
    assert ours not in hooks.get_ca_certs(binary_form=True)
