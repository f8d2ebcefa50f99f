"""A Sym-style custom strategy that calls the fake access API, and configs that use it."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.configs import access_config

API_KEY_VARIABLE = "ACCESS_API_KEY"

# Written as Sym's public custom-strategy example is: `requests`, a secret from the
# integration's settings, get_requester_identity and the target's `identifier` setting.
STRATEGY = """\
from sym.sdk.strategies import AccessStrategy
import requests


class CustomStrategy(AccessStrategy):
    def fetch_remote_identity(self, user):
        response = requests.get(
            self.base_url() + "/users", params={"email": user.email}, headers=self.headers()
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()["id"]

    def base_url(self):
        return self.integration.settings["base_url"]

    def headers(self):
        secrets = self.integration.settings["secrets"]
        if not secrets:
            raise RuntimeError("API key must be set as secret 0")
        api_key = secrets[0].retrieve_value()
        return {"Authorization": f"Bearer {api_key}"}

    def escalate(self, target_id, event):
        requester = self.get_requester_identity(event)
        target_identifier = event.payload.fields["target"].settings["identifier"]
        payload = {"user_id": requester, "resource_id": target_identifier}
        response = requests.post(self.base_url() + "/grants", headers=self.headers(), json=payload)
        response.raise_for_status()

    def deescalate(self, target_id, event):
        requester = self.get_requester_identity(event)
        target_identifier = event.payload.fields["target"].settings["identifier"]
        url = f"{self.base_url()}/grants/{target_identifier}/{requester}"
        response = requests.delete(url, headers=self.headers())
        response.raise_for_status()
"""


def custom_config(api_url: str, allowed: str | None = None) -> str:
    """``access_config`` with its ``grants`` strategy made a custom one calling ``api_url``."""
    text = access_config("http://unused.invalid/")
    start = text.index('resource "sym_strategy" "grants"')
    end = text.index('resource "sym_flow" "access"')
    host = allowed if allowed is not None else api_url.split("://", 1)[1]
    block = f"""resource "sym_integration" "api" {{
  type        = "custom"
  name        = "access-api"
  external_id = "acme"
  settings = {{
    base_url      = "{api_url}"
    allowed_hosts = ["{host}"]
    secrets       = [env("{API_KEY_VARIABLE}")]
  }}
}}

resource "sym_strategy" "grants" {{
  type           = "custom"
  name           = "grants"
  implementation = file("strategy.py")
  integration_id = sym_integration.api.id
  targets        = [sym_target.staging_db.id, sym_target.prod_db.id]
}}

"""
    return text[:start] + block + text[end:]


def write_strategy(folder: Path, source: str = STRATEGY) -> Path:
    """Write the implementation next to the config, as ``strategy.py``."""
    path = folder / "strategy.py"
    path.write_text(source)
    return path
