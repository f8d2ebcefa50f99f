"""Custom strategies: a Sym-style implementation run in real workers against a real API."""

from __future__ import annotations

import pickle
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from symbox.config import load_config
from symbox.config.model import Config, Secret
from symbox.sandbox.integrations.egress import egress_client
from symbox.sandbox.integrations.views import integration_view
from symbox.sandbox.pool import HookPool
from symbox.strategies.base import GrantRequest, IdentityResolver, StrategyError
from symbox.strategies.custom import CustomStrategies, CustomStrategy
from symbox.strategies.custom_source import check_custom_strategies
from tests.fakes.access_api import API_KEY, FakeAccessApi
from tests.fakes.configs import GRANT_SECRET, write_config
from tests.fakes.custom_strategy import API_KEY_VARIABLE, STRATEGY, custom_config, write_strategy

pytestmark = pytest.mark.anyio

# Builds the ``grants`` strategy from an implementation source and an allowed_hosts entry.
Factory = Callable[..., CustomStrategy]

ENVIRON = {"SYMBOX_GRANT_SECRET": GRANT_SECRET, API_KEY_VARIABLE: API_KEY}


@pytest.fixture
def api() -> Iterator[FakeAccessApi]:
    with FakeAccessApi() as fake:
        yield fake


@pytest.fixture
async def pool() -> AsyncIterator[HookPool]:
    async with HookPool(size=1) as running:
        yield running


def load(folder: Path, api_url: str, source: str = STRATEGY, allowed: str | None = None) -> Config:
    write_strategy(folder, source)
    path = write_config(folder, custom_config(api_url, allowed))
    return load_config(path, environ=ENVIRON)


@pytest.fixture
async def build(
    tmp_path: Path, api: FakeAccessApi, pool: HookPool
) -> AsyncIterator[tuple[Config, Factory]]:
    async with egress_client() as client:

        def factory(source: str = STRATEGY, allowed: str | None = None) -> CustomStrategy:
            config = load(tmp_path, api.url, source, allowed)
            strategies = CustomStrategies(config, pool, client, timeout=2.0)
            return strategies.build(config.strategies["grants"])

        yield load(tmp_path, api.url), factory


def strategy_file(folder: Path) -> str:
    """The implementation file as errors name it."""
    return str(folder / "strategy.py")


def grant(config: Config, requester: str = "carol@example.com") -> GrantRequest:
    return GrantRequest(
        run_id="run-1",
        flow="access",
        requester=requester,
        target=config.targets["prod_db"],
        fields={"reason": "incident", "duration": 600},
        at=1_700_000_000.0,
    )


async def test_escalate_and_deescalate_call_the_api(
    build: tuple[Config, Factory], api: FakeAccessApi
) -> None:
    config, factory = build
    strategy = factory()
    await strategy.escalate(grant(config))
    assert api.state.granted == {("prod", "u-carol")}
    lookup, create = api.state.seen("GET", "/users"), api.state.seen("POST", "/grants")
    assert lookup[0].query == {"email": ["carol@example.com"]}
    assert create[0].authorization == f"Bearer {API_KEY}"
    assert create[0].body == {"user_id": "u-carol", "resource_id": "prod"}
    # Idempotent both ways, as Sym's contract asks.
    await strategy.escalate(grant(config))
    await strategy.deescalate(grant(config))
    await strategy.deescalate(grant(config))
    assert api.state.granted == set()
    deletes = api.state.seen("DELETE", "/grants/prod/u-carol")
    assert len(deletes) == 2 and deletes[0].authorization == f"Bearer {API_KEY}"


# Sym's pattern: escalate returns what deescalate needs, read with get_step_output.
REMEMBERING = (
    STRATEGY.replace(
        "import requests\n",
        "import requests\nfrom sym.sdk.templates import ApprovalTemplateStep, get_step_output\n",
    )
    .replace(
        "        response.raise_for_status()\n\n    def deescalate",
        "        response.raise_for_status()\n"
        "        return {'grant': [target_identifier, requester]}\n\n    def deescalate",
    )
    .replace(
        '        url = f"{self.base_url()}/grants/{target_identifier}/{requester}"\n',
        "        resource, user = get_step_output(ApprovalTemplateStep.ESCALATE)['grant']\n"
        '        url = f"{self.base_url()}/grants/{resource}/{user}"\n',
    )
)


async def test_deescalate_reads_what_escalate_returned(
    build: tuple[Config, Factory], api: FakeAccessApi
) -> None:
    config, factory = build
    strategy = factory(REMEMBERING)
    output = await strategy.escalate(grant(config))
    assert output == {"grant": ["prod", "u-carol"]}
    assert api.state.granted == {("prod", "u-carol")}
    await strategy.deescalate(replace(grant(config), outputs={"escalate": output}))
    assert api.state.granted == set()
    assert len(api.state.seen("DELETE", "/grants/prod/u-carol")) == 1
    # Without the escalation's output (a run granted before outputs were kept) it is {}.
    with pytest.raises(StrategyError, match="KeyError: 'grant'"):
        await strategy.deescalate(grant(config))


async def test_a_secret_the_strategy_returns_is_not_kept_in_its_output(
    build: tuple[Config, Factory], api: FakeAccessApi
) -> None:
    config, factory = build
    leaky = STRATEGY.replace(
        "        response.raise_for_status()\n\n    def deescalate",
        "        response.raise_for_status()\n"
        "        return {'header': self.headers()['Authorization'], 'id': requester}\n\n"
        "    def deescalate",
    )
    output = await factory(leaky).escalate(grant(config))
    assert output == {"header": "Bearer <redacted>", "id": "u-carol"}
    assert API_KEY not in str(output)


async def test_remote_identity_refuses_users_the_api_does_not_know(
    build: tuple[Config, Factory], tmp_path: Path
) -> None:
    _, factory = build
    strategy = factory()
    assert isinstance(strategy, IdentityResolver)
    assert await strategy.remote_identity("carol@example.com") == "u-carol"
    with pytest.raises(StrategyError) as caught:
        await strategy.remote_identity("dave@example.com")
    assert str(caught.value) == f"{strategy_file(tmp_path)}:6: no identity for dave@example.com"
    assert caught.value.permanent and not caught.value.reached_target


async def test_a_strategy_that_needs_no_identity_accepts_everyone(
    build: tuple[Config, Factory], api: FakeAccessApi
) -> None:
    _, factory = build
    # Sym's own no-op example: fetch_remote_identity returns None and nothing asks for it.
    noop = (
        "from sym.sdk.strategies import AccessStrategy\n\n\n"
        "class CustomAccessStrategy(AccessStrategy):\n"
        "    def fetch_remote_identity(self, user):\n        return None\n\n"
        "    def escalate(self, target_id, event):\n        pass\n\n"
        "    def deescalate(self, target_id, event):\n        pass\n"
    )
    strategy = factory(noop)
    assert await strategy.remote_identity("dave@example.com") == "dave@example.com"


FAILING = STRATEGY.replace(
    "        response.raise_for_status()\n\n    def deescalate",
    "        raise RuntimeError('grant refused for ' + self.headers()['Authorization'])\n\n"
    "    def deescalate",
)


async def test_a_hook_exception_names_the_file_and_line_without_the_secret(
    build: tuple[Config, Factory], api: FakeAccessApi, tmp_path: Path
) -> None:
    config, factory = build
    strategy = factory(FAILING)
    with pytest.raises(StrategyError) as caught:
        await strategy.escalate(grant(config))
    text = str(caught.value)
    assert text == (
        f"{strategy_file(tmp_path)}:30: RuntimeError: grant refused for Bearer <redacted>"
    )
    assert API_KEY not in text
    # The grant was sent before the error: the service must treat it as possibly made.
    assert caught.value.reached_target and not caught.value.permanent


async def test_a_host_outside_the_allow_list_is_refused(
    build: tuple[Config, Factory], api: FakeAccessApi, tmp_path: Path
) -> None:
    config, factory = build
    strategy = factory(allowed="api.example.com")
    with pytest.raises(StrategyError) as caught:
        await strategy.escalate(grant(config))
    assert str(caught.value) == (
        f"{strategy_file(tmp_path)}:7: HTTPRefusedError: 127.0.0.1:"
        f"{api.port} is not in this integration's allowed_hosts"
    )
    assert not caught.value.reached_target
    assert api.state.calls == []


async def test_timeouts_and_bad_returns_become_strategy_errors(
    build: tuple[Config, Factory], api: FakeAccessApi, tmp_path: Path
) -> None:
    config, factory = build
    spinning = STRATEGY.replace(
        "    def deescalate(self, target_id, event):\n",
        "    def deescalate(self, target_id, event):\n        while True:\n            pass\n",
    ).replace(
        "        response.raise_for_status()\n\n    def deescalate",
        "        return 'done'\n\n    def deescalate",
    )
    strategy = factory(spinning)
    with pytest.raises(StrategyError) as caught:
        await strategy.escalate(grant(config))
    assert str(caught.value) == (
        f"{strategy_file(tmp_path)}:25: escalate returned 'done'; expected None or a dict"
    )
    assert caught.value.permanent and caught.value.reached_target
    with pytest.raises(StrategyError) as slow:
        await strategy.deescalate(grant(config))
    assert str(slow.value) == f"{strategy_file(tmp_path)}:32: deescalate ran longer than 2 s"
    assert not slow.value.reached_target


def test_the_worker_gets_secret_handles_not_values(tmp_path: Path) -> None:
    config = load(tmp_path, "http://127.0.0.1:1")
    view, secrets = integration_view(config.integrations["api"])
    assert API_KEY.encode() not in pickle.dumps(view)
    assert view["settings"]["secrets"] == [
        {"__sym_secret__": {"id": "settings.secrets[0]", "label": f"env({API_KEY_VARIABLE})"}}
    ]
    secret = secrets["settings.secrets[0]"]
    assert isinstance(secret, Secret) and secret.reveal() == API_KEY


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("def escalate(:\n", "1: "),
        ("import os\n", "1: "),
        (
            "class Nothing:\n    pass\n",
            "1: the module defines no subclass of sym.sdk.strategies.AccessStrategy",
        ),
        (
            "from sym.sdk.strategies import AccessStrategy\n\n"
            "class Half(AccessStrategy):\n    def escalate(self, target_id, event):\n"
            "        pass\n",
            "3: Half does not define fetch_remote_identity",
        ),
        (
            "from sym.sdk.strategies import AccessStrategy\n\n"
            "class A(AccessStrategy):\n    pass\n\nclass B(AccessStrategy):\n    pass\n",
            "6: the module defines several AccessStrategy subclasses (A, B); keep one",
        ),
    ],
)
def test_validate_reports_implementations_that_cannot_run(
    tmp_path: Path, source: str, problem: str
) -> None:
    config = load(tmp_path, "http://127.0.0.1:1", source)
    problems = check_custom_strategies(config)
    shown = strategy_file(tmp_path)
    assert len(problems) == 1 and problems[0].startswith(f"{shown}:{problem}"), problems


def test_validate_accepts_the_sym_style_strategy(tmp_path: Path) -> None:
    assert check_custom_strategies(load(tmp_path, "http://127.0.0.1:1")) == []
