"""`symbox test` end to end through the CLI: real config, real sandbox workers, real hooks."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from symbox.cli.main import main
from symbox.config import load_config
from tests.flowtest.project import write_project

ROOT = Path(__file__).resolve().parents[2]

PASSING = """
case "on_call_is_approved" {
  flow      = "admin"
  requester = "carol@example.com"
  fields    = { reason = "deploy", duration = "30m" }
  integrations {
    pagerduty_on_call = ["carol@example.com"]
  }
  expect {
    outcome       = "approved"
    decided_by    = "on_request"
    reason        = "on call"
    target        = "admins"
    identity      = "carol"
    duration      = "30m"
    notifications = ["#access", "bob@example.com"]
  }
}

case "approvers_come_from_okta" {
  flow      = "admin"
  requester = "carol@example.com"
  fields    = { reason = "deploy", duration = "1h" }
  integrations {
    okta_groups = { sre = ["dave@example.com"] }
  }
  approve {
    by               = "erin@example.com"
    expect           = "refused"
    message_contains = "hidden from erin@example.com"
  }
  approve {
    by     = "dave@example.com"
    expect = "allowed"
  }
  expect {
    approvers     = ["dave@example.com"]
    self_approval = false
    outcome       = "approved"
    decided_by    = "dave@example.com"
  }
}

case "an_open_ticket_is_approved" {
  flow      = "admin"
  requester = "carol@example.com"
  fields    = { reason = "TICKET-7", duration = "30m" }
  integrations {
    http = { "GET https://tickets.example.com/api/TICKET-7" = { json = { open = true } } }
  }
  expect {
    outcome = "approved"
    reason  = "open ticket TICKET-7"
  }
}
"""


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``symbox ARGS``: its exit code, stdout and stderr."""
    try:
        code = main(args)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_passing_cases_print_a_line_each_and_exit_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_project(tmp_path, {"admin.symtest.hcl": PASSING})
    code, out, _ = run(["test", "--config", str(config)], capsys)
    lines = out.splitlines()
    assert lines[:3] == [
        f"{tmp_path}/admin.symtest.hcl::on_call_is_approved PASSED",
        f"{tmp_path}/admin.symtest.hcl::approvers_come_from_okta PASSED",
        f"{tmp_path}/admin.symtest.hcl::an_open_ticket_is_approved PASSED",
    ]
    assert lines[-1].startswith("3 passed in ")
    assert code == 0


def test_a_failing_expectation_shows_expected_and_got_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = """
case "off_call_is_approved" {
  flow      = "admin"
  requester = "carol@example.com"
  fields    = { reason = "deploy", duration = "30m" }
  integrations {
    pagerduty_on_call = ["dave@example.com"]
  }
  approve {
    by     = "carol@example.com"
    expect = "allowed"
  }
  expect {
    outcome  = "approved"
    duration = "1h"
  }
}
"""
    config = write_project(tmp_path, {"admin.symtest.hcl": PASSING + case})
    code, out, _ = run(["test", "--config", str(config)], capsys)
    assert f"{tmp_path}/admin.symtest.hcl::off_call_is_approved FAILED" in out.splitlines()
    section = out.split("___ ", 1)[1].splitlines()
    assert section == [
        f"{tmp_path}/admin.symtest.hcl::off_call_is_approved ({tmp_path}/admin.symtest.hcl:57) ___",
        "expected (-), got (+):",
        '- outcome = "approved"',
        '+ outcome = "pending"',
        '- duration = "1h"',
        "+ duration = null",
        "- approve by carol@example.com (line 64) = allowed",
        "+ approve by carol@example.com (line 64) = refused: carol@example.com is not an"
        " approver of flow admin",
        "",
        "3 passed, 1 failed in " + section[-1].split(" in ")[1],
    ]
    assert code == 1


def test_a_hook_that_raises_is_an_error_naming_its_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = """
case "boom" {
  flow      = "admin"
  requester = "carol@example.com"
  fields    = { reason = "boom", duration = "30m" }
  expect {
    outcome = "pending"
  }
}
"""
    config = write_project(tmp_path, {"admin.symtest.hcl": case})
    code, out, _ = run(["test", "--config", str(config)], capsys)
    assert f"{tmp_path}/admin.symtest.hcl::boom ERROR" in out.splitlines()
    assert (
        f"error: unexpected error from on_request: {tmp_path}/hooks.py:14: ValueError:"
        " the hook broke on purpose" in out.splitlines()
    )
    assert out.splitlines()[-1].startswith("1 error in ")
    assert code == 1


def test_a_hook_error_the_case_expects_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = """
case "boom_is_expected" {
  flow      = "admin"
  requester = "carol@example.com"
  fields    = { reason = "boom", duration = "30m" }
  expect {
    outcome        = "errored"
    hook_errors    = ["on_request"]
    error_contains = "broke on purpose"
    granted        = false
  }
}

case "an_unstated_url_fails_the_hook" {
  flow      = "admin"
  requester = "carol@example.com"
  fields    = { reason = "TICKET-8", duration = "30m" }
  expect {
    hook_errors    = ["on_request"]
    error_contains = "GET https://tickets.example.com/api/TICKET-8 failed"
  }
}
"""
    config = write_project(tmp_path, {"admin.symtest.hcl": case})
    code, out, _ = run(["test", "--config", str(config)], capsys)
    assert out.splitlines()[-1].startswith("2 passed in "), out
    assert code == 0


def test_answers_for_an_integration_the_flow_cannot_reach_are_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = """
case "lab_on_call" {
  flow      = "lab"
  requester = "carol@example.com"
  fields    = { reason = "try" }
  integrations {
    pagerduty_on_call = ["carol@example.com"]
  }
  expect {
    outcome = "pending"
  }
}
"""
    config = write_project(tmp_path, {"lab.symtest.hcl": case})
    code, out, _ = run(["test", "--config", str(config)], capsys)
    assert (
        "error: the case states pagerduty answers, but the hooks of environment lab reach"
        " no pagerduty integration in the config" in out.splitlines()
    )
    assert code == 1


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('case "x" {\n  flow = \n}\n', "x.symtest.hcl:2:10: syntax error"),
        (
            'case "x" {\n  flow = "nope"\n  requester = "a@example.com"\n'
            '  expect {\n    outcome = "pending"\n  }\n}\n',
            'x.symtest.hcl:2: no flow named "nope" (flows: admin, lab, ops)',
        ),
        (
            'case "x" {\n  flow = "admin"\n  requester = "a@example.com"\n}\n',
            "x.symtest.hcl:1: case x expects nothing: add an expect block (or expect in approve or"
            " deny)",
        ),
        (
            'case "x" {\n  flow = "admin"\n  requester = "a@example.com"\n'
            '  expect {\n    outcome = "great"\n  }\n}\n',
            "x.symtest.hcl:5: expect: outcome must be one of approved, denied, pending,"
            ' errored, refused, not "great"',
        ),
        (
            'case "x" {\n  flow = "admin"\n  requester = "a@example.com"\n'
            "  integrations {\n    okta_group = {}\n  }\n  expect {\n    granted = true\n"
            "  }\n}\n",
            "x.symtest.hcl:5: integrations: unknown argument okta_group",
        ),
        (
            'case "x" {\n  flow = "admin"\n  requester = "a@example.com"\n'
            "  expect {\n    granted = true\n  }\n  expect {\n    granted = false\n  }\n}\n",
            "x.symtest.hcl:7: a case has one expect block",
        ),
        (
            'case "x" {\n  flow = "admin"\n  requester = "a@example.com"\n'
            '  integrations {\n    fail = { http = "down" }\n  }\n  expect {\n'
            "    granted = true\n  }\n}\n",
            "x.symtest.hcl:5: integrations: fail: http is not one of pagerduty, okta, aws_iam,"
            " aws_sso, slack, github, aws_lambda or strategy",
        ),
    ],
)
def test_an_unusable_test_file_exits_2_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, problem: str
) -> None:
    config = write_project(tmp_path, {"x.symtest.hcl": text})
    code, out, err = run(["test", "--config", str(config)], capsys)
    assert f"{tmp_path}/{problem}" in err
    assert out == ""
    assert code == 2


def test_no_cases_a_missing_path_or_an_unknown_option_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_project(tmp_path, {})
    code, _, err = run(["test", "--config", str(config)], capsys)
    assert code == 2
    assert "no test cases: no *.symtest.hcl file with a case in the folder of" in err
    code, _, err = run(
        ["test", "--config", str(config), str(tmp_path / "gone.symtest.hcl")], capsys
    )
    assert code == 2
    assert f"{tmp_path}/gone.symtest.hcl: no such file or folder" in err
    code, _, err = run(["test", "--config", str(config), "--no-such-option"], capsys)
    assert code == 2
    assert "unrecognized arguments: --no-such-option" in err


def test_junit_xml_has_a_testcase_per_case_with_failures_and_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = """
case "passes" {
  flow      = "admin"
  requester = "carol@example.com"
  fields    = { reason = "deploy", duration = "30m" }
  expect {
    outcome = "pending"
  }
}

case "fails" {
  flow      = "admin"
  requester = "carol@example.com"
  fields    = { reason = "deploy", duration = "30m" }
  expect {
    outcome = "denied"
  }
}

case "errors" {
  flow      = "admin"
  requester = "carol@example.com"
  fields    = { reason = "boom", duration = "30m" }
  expect {
    outcome = "pending"
  }
}
"""
    config = write_project(tmp_path, {"j.symtest.hcl": cases})
    report = tmp_path / "report.xml"
    code, _, _ = run(["test", "--config", str(config), "--junit-xml", str(report)], capsys)
    assert code == 1
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    testcases = {case.get("name"): case for case in suite.findall("testcase")}
    assert list(testcases) == ["passes", "fails", "errors"]
    assert testcases["passes"].find("failure") is None
    assert testcases["passes"].find("error") is None
    assert testcases["passes"].get("classname") == f"{tmp_path}/j.symtest.hcl"
    failure = testcases["fails"].find("failure")
    assert failure is not None
    assert failure.get("message") == "outcome did not match"
    assert failure.text == 'expected (-), got (+):\n- outcome = "denied"\n+ outcome = "pending"'
    error = testcases["errors"].find("error")
    assert error is not None
    assert "ValueError: the hook broke on purpose" in str(error.get("message"))


def test_explain_prints_each_hook_what_it_returned_and_the_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_project(tmp_path, {"admin.symtest.hcl": PASSING})
    code, out, _ = run(
        ["test", "--config", str(config), "--explain", "approvers_come_from_okta"], capsys
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"{tmp_path}/admin.symtest.hcl::approvers_come_from_okta PASSED"
    trace = [line.split(". ", 1)[1] for line in lines if line[:4].strip().rstrip(".").isdigit()]
    assert trace[0] == (
        "[step] carol@example.com requests admin for carol@example.com:"
        " reason='deploy', duration='1h'"
    )
    assert '[hook] get_identity(event request, user carol@example.com) returned "carol"' in trace
    assert (
        '[integration] pagerduty.is_on_call({"email": "carol@example.com",'
        ' "schedule_name": null}) -> false'
    ) in trace
    assert "[hook] on_request(event request, user carol@example.com) returned null" in trace
    assert "[step] after request: the run is requested" in trace
    assert (
        "[step] approve by erin@example.com is refused: the run is hidden from"
        " erin@example.com (the API answers 404): neither its requester nor in"
        " vars.approvers of flow admin"
    ) in trace
    assert "[strategy] escalate carol -> admins (okta)" in trace
    assert "[rule] who may decide: get_permissions dave@example.com" in trace
    assert '  approvers = ["dave@example.com"]' in lines


def test_the_shipped_example_passes_without_its_secrets(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SYMBOX_GRANT_SECRET", raising=False)
    code, out, _ = run(["test", "--config", str(ROOT / "config.hcl")], capsys)
    assert code == 0, out
    assert out.splitlines()[-1].startswith("8 passed in ")


def test_a_config_folder_does_not_read_its_test_files_as_config(tmp_path: Path) -> None:
    write_project(tmp_path, {"admin.symtest.hcl": PASSING})
    config = load_config(
        tmp_path, environ={"FLOWTEST_PAGERDUTY_TOKEN": "t", "FLOWTEST_OKTA_TOKEN": "t"}
    )
    assert config.files == (f"{tmp_path}/config.hcl",)


def test_a_refused_config_an_unreadable_file_or_an_unknown_case_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_project(tmp_path, {"admin.symtest.hcl": PASSING})
    code, _, err = run(["test", "--config", str(config), "--explain", "nope"], capsys)
    assert (code, err) == (2, "no case named nope\n")
    (tmp_path / "latin1.symtest.hcl").write_bytes(b'case "caf\xe9" {}\n')
    code, _, err = run(["test", "--config", str(config)], capsys)
    assert (code, err) == (2, f"{tmp_path}/latin1.symtest.hcl: cannot read: not UTF-8 text\n")
    config.write_text('resource "sym_flow" "broken" {\n')
    code, _, err = run(
        ["test", "--config", str(config), str(tmp_path / "admin.symtest.hcl")], capsys
    )
    assert code == 2
    assert err.endswith(f"the config {config} cannot be used\n")


def test_decisions_after_a_refused_request_fail_as_not_tried(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = """
case "no_duration" {
  flow      = "admin"
  requester = "carol@example.com"
  fields    = { reason = "deploy" }
  approve {
    by     = "alice@example.com"
    expect = "allowed"
  }
  expect {
    outcome = "refused"
  }
}
"""
    config = write_project(tmp_path, {"admin.symtest.hcl": case})
    code, out, _ = run(["test", "--config", str(config)], capsys)
    assert "- approve by alice@example.com (line 6) = allowed" in out.splitlines()
    assert (
        "+ approve by alice@example.com (line 6) = not tried: the request was refused"
        in out.splitlines()
    )
    assert "  (error: duration: required)" in out.splitlines()
    assert code == 1
