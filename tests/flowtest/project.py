"""A project to test: a config whose hooks call PagerDuty, Okta and an HTTP API."""

from __future__ import annotations

from pathlib import Path

CONFIG = """
resource "sym_integration" "pagerduty" {
  type        = "pagerduty"
  name        = "pagerduty"
  external_id = "acme"
  settings    = { api_token = env("FLOWTEST_PAGERDUTY_TOKEN") }
}

# A second PagerDuty: an environment must now list the one its hooks use.
resource "sym_integration" "pagerduty_eu" {
  type        = "pagerduty"
  name        = "pagerduty-eu"
  external_id = "acme-eu"
  settings    = { api_token = env("FLOWTEST_PAGERDUTY_TOKEN") }
}

resource "sym_integration" "okta" {
  type        = "okta"
  name        = "okta"
  external_id = "acme.okta.com"
  settings    = { api_token = env("FLOWTEST_OKTA_TOKEN") }
}

resource "sym_integration" "tickets" {
  type        = "custom"
  name        = "tickets"
  external_id = "tickets"
  settings    = { allowed_hosts = ["tickets.example.com"] }
}

resource "sym_environment" "main" {
  name         = "main"
  integrations = {
    pagerduty_id = sym_integration.pagerduty.id
    okta_id      = sym_integration.okta.id
    tickets_id   = sym_integration.tickets.id
  }
}

resource "sym_environment" "lab" {
  name = "lab"
}

resource "sym_target" "admins" {
  type     = "okta_group"
  name     = "admins"
  settings = { group_id = "00g1" }
}

resource "sym_strategy" "okta" {
  type           = "okta"
  name           = "okta"
  integration_id = sym_integration.okta.id
  targets        = [sym_target.admins.id]
}

resource "sym_flow" "admin" {
  name           = "admin"
  implementation = file("${path.module}/hooks.py")
  environment_id = sym_environment.main.id
  vars           = { approvers = "alice@example.com" }

  params {
    strategy_id = sym_strategy.okta.id
    prompt_field "reason" {
      type     = "string"
      required = true
    }
    prompt_field "duration" {
      type           = "duration"
      allowed_values = ["30m", "1h"]
    }
  }
}

resource "sym_flow" "ops" {
  name           = "ops"
  implementation = file("${path.module}/ops.py")
  environment_id = sym_environment.main.id
  vars           = { approvers = "alice@example.com,bot:ci" }

  params {
    strategy_id = sym_strategy.okta.id
    prompt_field "reason" {
      type = "string"
    }
  }
}

resource "sym_flow" "lab" {
  name           = "lab"
  implementation = file("${path.module}/lab.py")
  environment_id = sym_environment.lab.id
  vars           = { approvers = "alice@example.com" }

  params {
    prompt_field "reason" {
      type = "string"
    }
  }
}
"""

HOOKS = """
import requests
from sym.sdk.annotations import hook, reducer
from sym.sdk.integrations import okta, pagerduty, slack
from sym.sdk.notifications import Notification
from sym.sdk.request_permission import PermissionLevel, RequestPermission
from sym.sdk.templates import ApprovalTemplate


@hook
def on_request(event):
    reason = event.payload.fields["reason"]
    if reason == "boom":
        raise ValueError("the hook broke on purpose")
    if reason.startswith("TICKET-"):
        answer = requests.get("https://tickets.example.com/api/" + reason)
        if answer.status_code == 200 and answer.json()["open"]:
            return ApprovalTemplate.approve(reason="open ticket " + reason)
        return ApprovalTemplate.deny(reason="no open ticket " + reason)
    if pagerduty.is_on_call(event.user):
        return ApprovalTemplate.approve(reason="on call")
    return None


@reducer
def get_permissions(event):
    approvers = [user.email for user in okta.users_in_group("sre")]
    return RequestPermission(webapp_view=PermissionLevel.MEMBER, approve_deny=approvers)


@reducer
def get_request_notifications(event):
    return [Notification(destinations=[slack.channel("#access"), "bob@example.com"])]


@reducer
def get_identity(event):
    return event.user.email.split("@")[0]
"""

OPS = """
from sym.sdk.annotations import hook
from sym.sdk.templates import ApprovalTemplate


@hook
def on_request(event):
    if 9 <= event.payload.timestamp.hour < 17:
        return ApprovalTemplate.approve(reason="office hours, asked by " + event.user.email)
    return None


@hook
def after_deny(event):
    if event.payload.fields["reason"] == "after-hook":
        raise RuntimeError("could not post the denial")
"""

LAB = """
from sym.sdk.annotations import hook
from sym.sdk.integrations import pagerduty


@hook
def on_request(event):
    pagerduty.is_on_call(event.user)
"""


def write_project(folder: Path, tests: dict[str, str]) -> Path:
    """Write the config, its hooks and ``tests`` (file name: text); return the config."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hooks.py").write_text(HOOKS)
    (folder / "lab.py").write_text(LAB)
    (folder / "ops.py").write_text(OPS)
    for name, text in tests.items():
        (folder / name).write_text(text)
    config = folder / "config.hcl"
    config.write_text(CONFIG)
    return config
