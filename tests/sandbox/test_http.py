"""`requests` in hooks: real workers, the host's gateway, a real API on loopback, and escapes."""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from symbox.config.hosts import AllowList
from symbox.config.model import Secret
from symbox.sandbox.errors import HookError, HookFailure
from symbox.sandbox.integrations.egress import IPAddress, egress_client
from symbox.sandbox.integrations.http import HttpGateway
from symbox.sandbox.integrations.scope import CallScope, SecretVault
from symbox.sandbox.pool import HookPool
from tests.fakes.access_api import API_KEY, FakeAccessApi
from tests.sandbox.sources import hook_source

pytestmark = pytest.mark.anyio

FILE = "hooks/impl.py"
SECRETS = {"settings.secrets[0]": Secret(API_KEY, "env(ACCESS_API_KEY)")}


@pytest.fixture
def api() -> Iterator[FakeAccessApi]:
    with FakeAccessApi() as fake:
        yield fake


async def partner_dns(host: str, port: int) -> list[IPAddress]:
    """A resolver whose answer for api.partner.test points at loopback (a rebinding attack)."""
    if host == "api.partner.test":
        return [ipaddress.ip_address("127.0.0.1")]
    raise OSError(f"{host}: no such host")


@pytest.fixture
async def call(api: FakeAccessApi) -> AsyncIterator[Any]:
    """Run a hook body (with `requests` imported and `base` the API's URL) in a real worker."""
    async with (
        egress_client(resolve=partner_dns) as client,
        HookPool(size=1, default_timeout=5.0) as pool,
    ):

        async def run(body: str, allowed: str = "127.0.0.1", **gateway: Any) -> Any:
            http = HttpGateway(client, AllowList.parse(allowed.split()), **gateway)
            scope = CallScope(http=http, secrets=SecretVault(SECRETS))
            preamble = f"import requests\nbase = {api.url!r}\n\n\n"
            source = hook_source(body, preamble=preamble)
            return await pool.call(source, FILE, "hook", integrations=scope)

        yield run


async def test_requests_reach_an_allowed_api(call: Any, api: FakeAccessApi) -> None:
    got = await call(
        "auth = {'Authorization': 'Bearer " + API_KEY + "'}\n"
        "found = requests.get(base + '/users', params={'email': 'carol@example.com'},"
        " headers=auth)\n"
        "made = requests.post(base + '/grants', headers=auth,"
        " json={'user_id': found.json()['id'], 'resource_id': 'db'})\n"
        "gone = requests.delete(base + '/grants/db/u-carol', headers=auth)\n"
        "missing = requests.get(base + '/users', params={'email': 'x@y'}, headers=auth)\n"
        "try:\n    missing.raise_for_status()\n    raised = None\n"
        "except requests.HTTPError as error:\n    raised = str(error)\n"
        "return [found.status_code, found.ok, found.headers['CONTENT-TYPE'], made.json(),"
        " gone.status_code, gone.text, missing.ok, raised]"
    )
    assert got == [
        200,
        True,
        "application/json",
        {"granted": True},
        204,
        "",
        False,
        f"404 Client Error: Not Found for url: {api.url}/users",
    ]
    assert api.state.granted == set()
    [post] = api.state.seen("POST", "/grants")
    assert post.authorization == f"Bearer {API_KEY}"
    assert post.body == {"user_id": "u-carol", "resource_id": "db"}


async def test_forms_basic_auth_and_same_host_redirects(call: Any, api: FakeAccessApi) -> None:
    got = await call(
        "requests.put(base + '/form', data={'a': 1, 'b': 'two'}, auth=('svc', 'pw'))\n"
        "moved = requests.get(base + '/moved', headers={'Authorization': 'Bearer "
        + API_KEY
        + "'})\n"
        "kept = requests.get(base + '/moved', allow_redirects=False)\n"
        "return [moved.status_code, moved.json(), moved.url, kept.status_code]"
    )
    assert got == [200, {"id": "u-carol"}, f"{api.url}/users", 302]
    [form] = api.state.seen("PUT", "/form")
    assert form.body == "a=1&b=two"
    assert form.authorization == "Basic c3ZjOnB3"


REFUSALS = [
    (
        "requests.get('file:///etc/passwd')",
        "only http:// and https:// URLs may be called, not file",
    ),
    ("requests.get('ftp://127.0.0.1/')", "not ftp"),
    ("requests.get('http://127.0.0.1@evil.example/x')", "evil.example:80 is not in this"),
    ("requests.get('http://169.254.169.254/latest/meta-data/')", "169.254.169.254:80 is not in"),
    ("requests.get('http://[::ffff:127.0.0.1]/')", "::ffff:127.0.0.1:80 is not in"),
    ("requests.get('http://localhost/')", "localhost:80 is not in this integration"),
    ("requests.get(base + '/away')", "redirected to http://192.0.2.1/; only redirects to the same"),
    ("requests.get(base + '/big')", "is larger than 1048576 bytes"),
    ("requests.get(base + '/users', headers={'Host': 'evil'})", "Host header is set by symbox"),
    ("requests.get(base + '/users', verify=False)", "cannot turn TLS verification off"),
    ("requests.get(base, files={'f': 'x'})", "files= is not supported"),
]


@pytest.mark.parametrize(("body", "text"), REFUSALS)
async def test_refused_calls_raise_http_refused_error(call: Any, body: str, text: str) -> None:
    with pytest.raises(HookError) as caught:
        await call(body)
    assert caught.value.type_name == "HTTPRefusedError"
    assert text in str(caught.value)


async def test_a_name_that_resolves_to_loopback_is_refused(call: Any, api: FakeAccessApi) -> None:
    url = f"http://api.partner.test:{api.port}/users"
    with pytest.raises(HookError) as caught:
        await call(f"return requests.get({url!r}).status_code", allowed="api.partner.test")
    assert (
        "api.partner.test resolves to 127.0.0.1, in 127.0.0.0/8 (loopback); special-purpose "
        "addresses are refused unless allowed_hosts lists the address itself"
    ) in str(caught.value)
    assert api.state.calls == []


async def test_refusals_and_timeouts_are_catchable(call: Any, api: FakeAccessApi) -> None:
    got = await call(
        "from sym.sdk.exceptions import SymException\n"
        "seen = []\n"
        "try:\n    requests.get('http://evil.example/')\n"
        "except requests.RequestException as error:\n    seen.append(str(error))\n"
        "try:\n    requests.get(base + '/slow', timeout=0.2)\n"
        "except requests.Timeout as error:\n    seen.append(str(error))\n"
        "try:\n    requests.get('http://127.0.0.1:9/')\n"
        "except requests.ConnectionError as error:\n    seen.append(str(error))\n"
        "return seen",
    )
    assert got == [
        "evil.example:80 is not in this integration's allowed_hosts",
        f"GET {api.url}/slow took longer than 0.2 s",
        "GET http://127.0.0.1:9/ failed: ConnectError",
    ]


STRATEGY = """\
from sym.sdk.strategies import AccessStrategy


class Probe(AccessStrategy):
    def fetch_remote_identity(self, user):
        return None

    def escalate(self, target_id, event):
        handle = self.integration.settings["secrets"][0]
        return [repr(handle), handle.label, handle.retrieve_value()]

    def deescalate(self, target_id, event):
        handle = self.integration.settings["secrets"][0]
        {body}
"""
HANDLE = {"__sym_secret__": {"id": "settings.secrets[0]", "label": "env(ACCESS_API_KEY)"}}


async def run_probe(method: str, body: str = "pass") -> Any:
    integration = {"name": "api", "type": "custom", "settings": {"secrets": [HANDLE]}}
    spec = {"method": method, "target_id": "db", "event": {}, "integration": integration}
    async with HookPool(size=1) as pool:
        vault = SecretVault(SECRETS)
        scope = CallScope(secrets=vault)
        source = STRATEGY.replace("{body}", body)
        bound = {**spec, "integration": vault.bind(integration)}
        return await pool.call_strategy(source, FILE, bound, integrations=scope)


async def test_a_secret_handle_resolves_through_the_host() -> None:
    shown = await run_probe("escalate")
    assert shown == ["<secret env(ACCESS_API_KEY)>", "env(ACCESS_API_KEY)", API_KEY]


HANDLE_ESCAPES = [
    ("return handle._channel", "_channel"),
    ("return getattr(handle, '_channel')", "_channel"),
    ("return getattr(handle, '_data')", "_data"),
    ("return handle.retrieve_value.__self__", "__self__"),
    ("handle.label = 'x'", "read-only"),
    ("return vars(handle)", "vars"),
    ("return handle.__class__", "__class__"),
]


@pytest.mark.parametrize(("body", "text"), HANDLE_ESCAPES)
async def test_secret_handles_hide_their_channel(body: str, text: str) -> None:
    with pytest.raises(HookFailure) as caught:
        await run_probe("deescalate", body)
    assert text in str(caught.value)
    assert API_KEY not in str(caught.value)


# A compromised worker that skips the SDK and asks the host directly.
ROGUE_WORKER = """\
import pickle
from symbox.sandbox.worker import READY, read_frame, write_frame
write_frame(1, READY)
asks = [
    ("secrets", "retrieve", {"id": "settings.secrets[0]"}),
    ("secrets", "retrieve", {"id": "settings.api_token"}),
    ("secrets", "retrieve", {"id": ["settings.secrets[0]"]}),
    ("http", "request", {"method": "GET", "url": "http://169.254.169.254/", "params": []}),
    ("http", "request", {"method": "GET", "url": "file:///etc/passwd", "params": []}),
    ("http", "request", {"method": "CONNECT", "url": "http://127.0.0.1/", "params": []}),
]
while (frame := read_frame(0)) is not None:
    request = pickle.loads(frame)
    call_id = request["call_id"]
    given = [("secrets", "retrieve", {"id": handle}) for handle in request["args"]]
    answers = []
    for integration, method, args in given + asks:
        call = {"integration": integration, "method": method, "args": args}
        write_frame(1, pickle.dumps({"integration_call": call, "call_id": call_id}))
        reply = pickle.loads(read_frame(0))
        answers.append(reply.get("value") or reply["error"]["message"])
    write_frame(1, pickle.dumps({"ok": True, "value": answers, "call_id": call_id}))
"""


async def test_the_host_enforces_scope_even_for_a_rogue_worker() -> None:
    command = [sys.executable, "-c", ROGUE_WORKER]
    async with egress_client() as client, HookPool(size=1, command=command) as rogue:
        http = HttpGateway(client, AllowList.parse(["127.0.0.1"]))
        vault = SecretVault(SECRETS)
        handle = vault.bind(HANDLE)["__sym_secret__"]["id"]
        scoped = CallScope(http=http, secrets=vault)
        answers = await rogue.call("", FILE, "anything", [handle], integrations=scoped)
        # A hook's scope (no secrets, no allowed hosts) gives even less.
        bare = await rogue.call("", FILE, "anything", integrations=CallScope())
        # Once its call is over, the handle it was given resolves to nothing.
        vault.close()
        late = await rogue.call("", FILE, "anything", [handle], integrations=scoped)
    assert answers == [
        API_KEY,
        # The configured path is no handle: only the id this call was given is.
        "that secret is not one of this integration's settings",
        "that secret is not one of this integration's settings",
        "that secret is not one of this integration's settings",
        "169.254.169.254:80 is not in this integration's allowed_hosts",
        "only http:// and https:// URLs may be called, not file",
        "method 'CONNECT' is not supported",
    ]
    assert bare[:2] == ["no secrets are available here"] * 2
    assert late[0] == "that secret is not one of this integration's settings"
    assert bare[3] == "outbound HTTP is not configured for this hook"
