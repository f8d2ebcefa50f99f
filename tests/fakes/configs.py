"""HCL configs the integration tests run symbox with."""

from __future__ import annotations

from pathlib import Path

GRANT_SECRET = "test-grant-secret"


def access_config(receiver_url: str, *, request_ttl: str = "1h", extra: str = "") -> str:
    """Two targets behind an http strategy, an access flow and an approval-only flow."""
    return f"""
resource "sym_environment" "main" {{
  name = "main"
}}

resource "sym_target" "staging_db" {{
  type = "custom"
  name = "staging-db"
  settings = {{
    identifier = "staging"
  }}
}}

resource "sym_target" "prod_db" {{
  type = "custom"
  name = "prod-db"
  settings = {{
    identifier = "prod"
  }}
}}

resource "sym_strategy" "grants" {{
  type    = "http"
  name    = "grants"
  targets = [sym_target.staging_db.id, sym_target.prod_db.id]
  settings = {{
    url            = "{receiver_url}"
    signing_secret = env("SYMBOX_GRANT_SECRET")
  }}
}}

resource "sym_flow" "access" {{
  name           = "access"
  implementation = "# no hooks"
  environment_id = sym_environment.main.id
  vars = {{
    approvers = "alice@example.com,bob@example.com,bot:ci"
  }}
  params {{
    strategy_id = sym_strategy.grants.id
    allow_duplicate_requests = true
    request_ttl = "{request_ttl}"
    prompt_field {{
      name = "reason"
      type = "string"
    }}
    prompt_field {{
      name           = "duration"
      type           = "duration"
      allowed_values = ["1m", "10m", "1h"]
    }}
  }}
}}

{approval_flow("signoff", REASON_FIELD)}
{extra}
"""


# A required string field called reason, as a flow's params hold it.
REASON_FIELD = """    prompt_field {
      name = "reason"
      type = "string"
    }"""


def approval_flow(name: str, fields: str) -> str:
    """An approval-only flow ``name`` that alice approves, with ``fields`` (prompt_field blocks)."""
    return f"""
resource "sym_flow" "{name}" {{
  name           = "{name}"
  implementation = "# no hooks"
  environment_id = sym_environment.main.id
  vars = {{
    approvers = "alice@example.com"
  }}
  params {{
{fields}
    allow_duplicate_requests = true
  }}
}}
"""


def write_config(folder: Path, text: str) -> Path:
    """Write ``text`` as ``config.hcl`` in ``folder`` and return its path."""
    path = folder / "config.hcl"
    path.write_text(text)
    return path
