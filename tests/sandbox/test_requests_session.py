"""`requests.Session` and `requests.exceptions` in hooks: real workers, the host's gateway."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from symbox.config.hosts import AllowList
from symbox.sandbox.errors import HookError
from symbox.sandbox.integrations.egress import egress_client
from symbox.sandbox.integrations.http import HttpGateway
from symbox.sandbox.integrations.scope import CallScope
from symbox.sandbox.pool import HookPool
from tests.fakes.access_api import API_KEY, FakeAccessApi
from tests.sandbox.sources import hook_source

pytestmark = pytest.mark.anyio

FILE = "hooks/impl.py"
BEARER = f"Bearer {API_KEY}"


@pytest.fixture
def api() -> Iterator[FakeAccessApi]:
    with FakeAccessApi() as fake:
        yield fake


@pytest.fixture
async def call(api: FakeAccessApi) -> AsyncIterator[Any]:
    """Run a hook body (``requests`` imported, ``base`` the API's URL) in a real worker."""
    async with egress_client() as client, HookPool(size=1, default_timeout=5.0) as pool:

        async def run(body: str, allowed: str = "127.0.0.1") -> Any:
            http = HttpGateway(client, AllowList.parse(allowed.split()), max_timeout=2.0)
            preamble = f"import requests\nimport requests.exceptions\nbase = {api.url!r}\n\n\n"
            source = hook_source(body, preamble=preamble)
            return await pool.call(source, FILE, "hook", integrations=CallScope(http=http))

        yield run


async def test_a_session_carries_headers_auth_and_params(call: Any, api: FakeAccessApi) -> None:
    got = await call(
        "with requests.Session() as session:\n"
        f"    session.headers.update({{'Authorization': '{BEARER}', 'X-Team': 'db'}})\n"
        "    session.params = {'email': 'carol@example.com'}\n"
        "    found = session.get(base + '/users')\n"
        "    made = session.post(base + '/grants',"
        " json={'user_id': found.json()['id'], 'resource_id': 'db'})\n"
        "    other = session.get(base + '/users', params={'email': 'x@y'})\n"
        "    gone = session.delete(base + '/grants/db/u-carol', headers={'x-team': 'ops'})\n"
        "    session.auth = ('svc', 'pw')\n"
        "    echoed = session.get(base + '/echo').json()\n"
        "plain = requests.get(base + '/echo').json()\n"
        "return [found.json(), made.json(), other.status_code, gone.status_code,"
        " echoed, plain, repr(session)]"
    )
    assert got == [
        {"id": "u-carol"},
        {"granted": True},
        404,
        204,
        # auth= wins over an Authorization header, as in requests.
        {"authorization": "Basic c3ZjOnB3"},
        # The session's headers stay with the session.
        {"authorization": None},
        "<requests.Session>",
    ]
    [found, other] = api.state.seen("GET", "/users")
    assert found.query == {"email": ["carol@example.com"]}
    # A call's own params replace the session's of the same name.
    assert other.query == {"email": ["x@y"]}
    assert {call.authorization for call in api.state.calls[:4]} == {BEARER}
    assert api.state.granted == set()


async def test_requests_session_is_also_reachable_lowercase(call: Any) -> None:
    got = await call(
        "session = requests.session()\n"
        f"session.headers['Authorization'] = '{BEARER}'\n"
        "return session.get(base + '/users', params={'email': 'carol@example.com'}).json()"
    )
    assert got == {"id": "u-carol"}


async def test_errors_follow_the_requests_hierarchy(call: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nothing listens there once the probe is closed
    got = await call(
        "from requests.exceptions import ConnectionError, HTTPError, RequestException, Timeout\n"
        "seen = []\n"
        "try:\n"
        "    requests.get(base + '/users').raise_for_status()\n"
        "except HTTPError as error:\n"
        "    seen.append(['http', isinstance(error, RequestException),"
        " error.response.status_code])\n"
        "try:\n"
        "    requests.get(base + '/slow', timeout=0.3)\n"
        "except requests.exceptions.Timeout as error:\n"
        "    seen.append(['timeout', isinstance(error, RequestException),"
        " isinstance(error, ConnectionError)])\n"
        "try:\n"
        f"    requests.Session().get('http://127.0.0.1:{closed}/')\n"
        "except requests.ConnectionError as error:\n"
        "    seen.append(['connection', isinstance(error, RequestException),"
        " isinstance(error, Timeout)])\n"
        "try:\n"
        "    requests.get('http://192.0.2.1/')\n"
        "except RequestException as error:\n"
        "    seen.append(['refused', isinstance(error, HTTPError)])\n"
        "try:\n"
        f"    auth = {{'Authorization': '{BEARER}'}}\n"
        "    requests.delete(base + '/grants/db/u', headers=auth).json()\n"
        "except requests.exceptions.JSONDecodeError as error:\n"
        "    seen.append(['json', isinstance(error, ValueError),"
        " isinstance(error, RequestException)])\n"
        "return seen"
    )
    assert got == [
        ["http", True, 401],
        ["timeout", True, False],
        ["connection", True, False],
        ["refused", False],
        # requests' JSONDecodeError is a ValueError too, so older `except ValueError` works.
        ["json", True, True],
    ]


@pytest.mark.parametrize(
    ("body", "text"),
    [
        # A session is no way around the allow-list.
        ("requests.Session().get('http://192.0.2.1/')", "192.0.2.1:80 is not in this"),
        ("session = requests.Session()\nsession.verify = False", "session.verify cannot be set"),
        (
            "session = requests.Session()\nsession.proxies = {'http': 'x'}",
            "session.proxies cannot be set",
        ),
        (
            "session = requests.Session()\nsession.headers = 'x'\nsession.get(base)",
            "session.headers must be a dict",
        ),
        (
            "session = requests.Session()\nsession.headers['Host'] = 'evil'\n"
            "session.get(base + '/users')",
            "Host header is set by symbox",
        ),
        ("return getattr(requests.Session(), '_' + 'requests')", "invalid attribute name"),
    ],
)
async def test_sessions_keep_the_gateways_rules(call: Any, body: str, text: str) -> None:
    with pytest.raises(HookError, match=text):
        await call(body)
