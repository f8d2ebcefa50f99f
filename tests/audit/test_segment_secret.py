"""Sym's segment integration as written: write_key_secret read from Secrets Manager (moto)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.configs import access_config
from tests.fakes.moto import REGION, MotoAws
from tests.fakes.segment import SegmentReceiver
from tests.harness import harness

pytestmark = pytest.mark.anyio

WRITE_KEY = "seg-write-key-from-secrets"


async def test_audit_records_reach_segment_with_the_key_from_secrets_manager(
    tmp_path: Path, aws: MotoAws
) -> None:
    await aws.connection.secretsmanager().create_secret(Name="sym/segment", SecretString=WRITE_KEY)
    segment = SegmentReceiver(WRITE_KEY)
    try:

        def config(receiver_url: str) -> str:
            text = access_config(receiver_url).replace(
                'resource "sym_environment" "main" {\n  name = "main"\n}\n',
                'resource "sym_environment" "main" {\n  name = "main"\n'
                "  log_destination_ids = [sym_log_destination.segment.id]\n}\n",
            )
            return (
                text
                + f"""
resource "sym_secrets" "aws" {{
  type     = "aws_secrets_manager"
  name     = "aws"
  settings = {{ region = "{REGION}", endpoint_url = "{aws.server.url}" }}
}}

resource "sym_secret" "segment_write_key" {{
  path      = "sym/segment"
  source_id = sym_secrets.aws.id
}}

resource "sym_integration" "segment" {{
  type        = "segment"
  name        = "segment"
  external_id = "workspace"
  settings    = {{ write_key_secret = sym_secret.segment_write_key.id }}
}}

resource "sym_log_destination" "segment" {{
  type           = "segment"
  integration_id = sym_integration.segment.id
  settings       = {{ base_url = "{segment.url}" }}
}}
"""
            )

        async with harness(tmp_path, config_text=config) as h:
            run_id = await h.request()

            def arrived() -> bool:
                runs = {
                    event.get("properties", {}).get("run", {}).get("id")
                    for event in segment.items()
                }
                return run_id in runs

            await h.wait_for(arrived, "the run's records at Segment")
        assert WRITE_KEY not in (tmp_path / "data" / "audit.jsonl").read_text()
    finally:
        segment.stop()
