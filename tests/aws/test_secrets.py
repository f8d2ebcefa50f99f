"""sym_secret values from Secrets Manager (moto), read by the host when a strategy asks."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from symbox.aws.secrets import CACHE_SECONDS, SecretsManagerSecrets, SecretUnavailable
from symbox.aws.session import AwsConnections
from symbox.config import load_config
from tests.fakes.access_api import API_KEY, FakeAccessApi
from tests.fakes.custom_strategy import custom_config, write_strategy
from tests.fakes.moto import REGION, MotoAws
from tests.harness import harness

pytestmark = pytest.mark.anyio


def secrets_config(api_url: str, moto_url: str) -> str:
    """The custom strategy's config, its API key in Secrets Manager as Sym spells it."""
    text = custom_config(api_url)
    text = text.replace(
        '    secrets       = [env("ACCESS_API_KEY")]',
        "    secret_ids_json = jsonencode([sym_secret.api_key.id])",
    )
    return (
        text
        + f"""
resource "sym_secrets" "aws" {{
  type = "aws_secrets_manager"
  name = "aws"
  settings = {{
    region       = "{REGION}"
    endpoint_url = "{moto_url}"
  }}
}}

resource "sym_secret" "api_key" {{
  path      = "symbox/access-api"
  source_id = sym_secrets.aws.id
  settings  = {{ json_key = "key" }}
}}
"""
    )


async def _put_secret(aws: MotoAws, value: str, *, create: bool = True) -> None:
    client = aws.connection.secretsmanager()
    if create:
        await client.create_secret(Name="symbox/access-api", SecretString=value)
    else:
        await client.put_secret_value(SecretId="symbox/access-api", SecretString=value)


async def test_a_custom_strategy_reads_its_key_from_secrets_manager(
    tmp_path: Path, aws: MotoAws, caplog: pytest.LogCaptureFixture
) -> None:
    await _put_secret(aws, json.dumps({"key": API_KEY, "other": "unused"}))
    caplog.set_level(logging.DEBUG, logger="symbox")
    write_strategy(tmp_path)
    with FakeAccessApi() as api:
        text = secrets_config(api.url, aws.server.url)
        async with harness(tmp_path, config_text=lambda _: text) as h:
            run_id = await h.request()
            response = await h.approve(run_id)
            assert response.json()["status"] == "escalated", response.text
            [grant] = api.state.seen("POST", "/grants")
            assert grant.authorization == f"Bearer {API_KEY}"
    audit = (tmp_path / "data" / "audit.jsonl").read_text()
    assert API_KEY not in audit
    assert all(API_KEY not in record.getMessage() for record in caplog.records)


async def test_values_are_cached_briefly_and_errors_name_the_secret(
    tmp_path: Path, aws: MotoAws
) -> None:
    await _put_secret(aws, json.dumps({"key": "first"}))
    (tmp_path / "strategy.py").write_text("# unused\n")
    config_path = tmp_path / "config.hcl"
    config_path.write_text(secrets_config("http://127.0.0.1:9", aws.server.url))
    config = load_config(config_path, environ={})
    now = [1000.0]
    connections = AwsConnections()
    secrets = SecretsManagerSecrets(config, connections, lambda: now[0])
    await connections.open()
    try:
        secret = secrets.secret("api_key")
        assert secret.label == "symbox/access-api"
        assert await secret.value() == "first"
        await _put_secret(aws, json.dumps({"key": "rotated"}), create=False)
        assert await secret.value() == "first"
        now[0] += CACHE_SECONDS
        assert await secret.value() == "rotated"

        await _put_secret(aws, json.dumps({"nokey": "x"}), create=False)
        now[0] += CACHE_SECONDS
        with pytest.raises(SecretUnavailable, match="symbox/access-api has no string field key"):
            await secret.value()
        await aws.connection.secretsmanager().delete_secret(
            SecretId="symbox/access-api", ForceDeleteWithoutRecovery=True
        )
        now[0] += CACHE_SECONDS
        with pytest.raises(SecretUnavailable, match="secret symbox/access-api: "):
            await secret.value()
    finally:
        await connections.aclose()
