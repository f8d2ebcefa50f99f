"""API tokens kept in Secrets Manager (moto) as Sym keeps them: ``api_token_secret``."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from symbox.aws.secrets import SecretsManagerSecrets
from symbox.aws.session import AwsConnections
from symbox.config import load_config
from symbox.config.model import Config
from symbox.sandbox.integrations.build import build_integrations
from symbox.sandbox.sdk.exceptions import PagerDutyError
from symbox.strategies.apis import build_api_strategy
from symbox.strategies.base import StrategyError
from symbox.strategies.rest import RetryTiming
from tests.fakes.api_configs import okta_config
from tests.fakes.moto import REGION, MotoAws
from tests.fakes.okta import OKTA_TOKEN, FakeOkta
from tests.harness import harness
from tests.sandbox.fake_services import PAGERDUTY_TOKEN, FakePagerDuty
from tests.strategies.aws_requests import grant

pytestmark = pytest.mark.anyio

CAROL = "carol@example.com"
GROUP = "00g-admins"
PATH = "symbox/okta-token"
QUICK = RetryTiming(attempts=2, base=0.01, cap=1.0)


def stored_token(text: str, moto_url: str, json_key: str | None = None) -> str:
    """``text`` with its env() API token swapped for a sym_secret in Secrets Manager."""
    extra = f'\n  settings  = {{ json_key = "{json_key}" }}' if json_key else ""
    swapped = text.replace(
        'api_token = env("OKTA_TOKEN")', "api_token_secret = sym_secret.token.id"
    ).replace('api_token = env("PD_TOKEN")', "api_token_secret = sym_secret.token.id")
    assert swapped != text
    return (
        swapped
        + f"""
resource "sym_secrets" "aws" {{
  type = "aws_secrets_manager"
  name = "aws"
  settings = {{
    region       = "{REGION}"
    endpoint_url = "{moto_url}"
  }}
}}

resource "sym_secret" "token" {{
  path      = "{PATH}"
  source_id = sym_secrets.aws.id{extra}
}}
"""
    )


async def _put(aws: MotoAws, value: str) -> None:
    await aws.connection.secretsmanager().create_secret(Name=PATH, SecretString=value)


@pytest.mark.parametrize("json_key", [None, "token"])
async def test_an_okta_strategy_grants_and_revokes_with_a_token_from_secrets_manager(
    tmp_path: Path,
    aws: MotoAws,
    caplog: pytest.LogCaptureFixture,
    json_key: str | None,
) -> None:
    await _put(aws, json.dumps({"token": OKTA_TOKEN}) if json_key else OKTA_TOKEN)
    caplog.set_level(logging.DEBUG, logger="symbox")
    with FakeOkta() as okta:
        okta.add_group(GROUP)
        user = okta.add_user(CAROL)
        text = stored_token(okta_config(okta.url), aws.server.url, json_key)
        # No OKTA_TOKEN in the environment: the token can only come from Secrets Manager.
        async with harness(tmp_path, config_text=lambda _: text) as h:
            run_id = await h.request(target="okta-admins", duration="10m")
            approved = await h.approve(run_id)
            assert approved.json()["status"] == "escalated", approved.text
            assert okta.members(GROUP) == {user}
            await h.advance(600)
            await h.wait_status(run_id, "deescalated")
            assert okta.members(GROUP) == set()
        assert okta.calls
        assert all(call.headers["authorization"] == f"SSWS {OKTA_TOKEN}" for call in okta.calls)
        assert all(call.status != 401 for call in okta.calls)
    assert OKTA_TOKEN not in (tmp_path / "data" / "audit.jsonl").read_text()
    assert all(OKTA_TOKEN not in record.getMessage() for record in caplog.records)


def _config(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "config.hcl"
    path.write_text(text)
    return load_config(path, environ={})


async def test_a_missing_secret_is_a_retried_error_naming_its_path(
    tmp_path: Path, aws: MotoAws
) -> None:
    config = _config(tmp_path, stored_token(okta_config("http://127.0.0.1:9"), aws.server.url))
    connections = AwsConnections()
    secrets = SecretsManagerSecrets(config, connections, lambda: 0.0)
    await connections.open()
    try:
        async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
            strategy = build_api_strategy(
                config, config.strategies["okta"], client, _NoOne(), QUICK, secrets
            )
            with pytest.raises(StrategyError) as caught:
                await strategy.escalate(grant("okta_group", group_id=GROUP))
    finally:
        await connections.aclose()
    assert not caught.value.permanent and not caught.value.reached_target
    assert PATH in str(caught.value)


async def test_a_pagerduty_hook_integration_reads_its_token_from_secrets_manager(
    tmp_path: Path, aws: MotoAws, caplog: pytest.LogCaptureFixture
) -> None:
    await _put(aws, json.dumps({"key": PAGERDUTY_TOKEN}))
    caplog.set_level(logging.DEBUG, logger="symbox")
    with FakePagerDuty() as pagerduty:
        text = f"""
resource "sym_integration" "pd" {{
  type        = "pagerduty"
  name        = "pd"
  external_id = "acme"
  settings = {{
    api_token = env("PD_TOKEN")
    base_url  = "{pagerduty.url}"
  }}
}}
"""
        config = _config(tmp_path, stored_token(text, aws.server.url, "key"))
        connections = AwsConnections()
        secrets = SecretsManagerSecrets(config, connections, lambda: 0.0)
        await connections.open()
        try:
            async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
                provider = build_integrations(config, client, identities=_NoOne(), secrets=secrets)
                assert await provider.call("pagerduty", "is_on_call", {"email": "alice@x.com"})
                await aws.connection.secretsmanager().delete_secret(
                    SecretId=PATH, ForceDeleteWithoutRecovery=True
                )
                fresh = SecretsManagerSecrets(config, connections, lambda: 0.0)
                failing = build_integrations(config, client, identities=_NoOne(), secrets=fresh)
                with pytest.raises(PagerDutyError, match=PATH) as caught:
                    await failing.call("pagerduty", "is_on_call", {"email": "alice@x.com"})
        finally:
            await connections.aclose()
        seen = pagerduty.state.requests
        assert seen and {r.authorization for r in seen} == {f"Token token={PAGERDUTY_TOKEN}"}
    assert PAGERDUTY_TOKEN not in str(caught.value)
    assert all(PAGERDUTY_TOKEN not in record.getMessage() for record in caplog.records)


class _NoOne:
    """No identities set, in either direction."""

    async def identity_of(self, email: str, system: str) -> str | None:
        """Nothing is set."""
        return None

    async def identities_in(self, system: str) -> list[tuple[str, str]]:
        """Nothing is set."""
        return []
