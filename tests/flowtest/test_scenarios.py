"""What a case may state beyond the basics: time, bots, identities, failing grants."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.flowtest.project import write_project
from tests.flowtest.test_command import run

CASES = """
case "office_hours_are_pre_approved" {
  flow      = "ops"
  requester = "carol@example.com"
  fields    = { reason = "maintenance", duration = "1h" }
  at        = "2026-01-05T10:00:00Z"
  integrations {
    identities = { "carol@example.com" = "00u1carol" }
  }
  expect {
    outcome    = "approved"
    reason     = "office hours, asked by carol@example.com"
    identity   = "00u1carol"
    target     = "admins"
  }
}

case "nights_wait_for_an_approver" {
  flow      = "ops"
  requester = "carol@example.com"
  fields    = { reason = "maintenance", duration = "1h" }
  at        = "2026-01-05T22:00:00+00:00"
  expect {
    outcome   = "pending"
    approvers = ["alice@example.com", "bot:ci"]
    granted   = false
  }
}

case "a_bot_asks_for_a_person_and_another_bot_approves" {
  flow         = "ops"
  requester    = "carol@example.com"
  fields       = { reason = "maintenance", duration = "1h" }
  submitted_by = "bot:deployer"
  at           = "2026-01-05T22:00:00Z"
  approve {
    by     = "bot:ci"
    expect = "allowed"
  }
  expect {
    outcome    = "approved"
    decided_by = "bot:ci"
    identity   = "carol@example.com"
  }
}

case "only_a_decision_is_expected" {
  flow      = "ops"
  requester = "carol@example.com"
  fields    = { reason = "maintenance", duration = "1h" }
  at        = "2026-01-05T22:00:00Z"
  deny {
    by     = "alice@example.com"
    expect = "allowed"
  }
}

case "an_after_hook_error_leaves_the_decision" {
  flow      = "ops"
  requester = "carol@example.com"
  fields    = { reason = "after-hook", duration = "1h" }
  at        = "2026-01-05T22:00:00Z"
  deny {
    by = "alice@example.com"
  }
  expect {
    outcome        = "denied"
    hook_errors    = ["after_deny"]
    error_contains = "RuntimeError: could not post the denial"
  }
}

case "a_failing_grant_errors_the_run" {
  flow      = "ops"
  requester = "carol@example.com"
  fields    = { reason = "maintenance", duration = "1h" }
  at        = "2026-01-05T10:00:00Z"
  integrations {
    fail = { strategy = "Okta answered 403" }
  }
  expect {
    outcome        = "errored"
    granted        = false
    error_contains = "Okta answered 403"
  }
}

case "a_failing_integration_reaches_the_hook" {
  flow      = "admin"
  requester = "carol@example.com"
  fields    = { reason = "deploy", duration = "30m" }
  integrations {
    fail = { pagerduty = "PagerDuty is down" }
  }
  expect {
    outcome        = "errored"
    hook_errors    = ["on_request"]
    error_contains = "PagerDutyError: PagerDuty is down"
  }
}
"""


def test_time_bots_identities_and_failures_are_stated_and_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_project(tmp_path, {"ops.symtest.hcl": CASES})
    code, out, _ = run(["test", "--config", str(config)], capsys)
    assert [line.split("::")[1] for line in out.splitlines() if "::" in line] == [
        "office_hours_are_pre_approved PASSED",
        "nights_wait_for_an_approver PASSED",
        "a_bot_asks_for_a_person_and_another_bot_approves PASSED",
        "only_a_decision_is_expected PASSED",
        "an_after_hook_error_leaves_the_decision PASSED",
        "a_failing_grant_errors_the_run PASSED",
        "a_failing_integration_reaches_the_hook PASSED",
    ], out
    assert code == 0


def test_explain_names_the_bot_that_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_project(tmp_path, {"ops.symtest.hcl": CASES})
    case = "a_bot_asks_for_a_person_and_another_bot_approves"
    code, out, _ = run(["test", "--config", str(config), "--explain", case], capsys)
    assert (
        "  1. [step] bot:deployer requests ops for carol@example.com:"
        " reason='maintenance', duration='1h'" in out
    )
    assert "[step] after approve by bot:ci: the run is escalated; approved by bot:ci" in out
    assert code == 0
