"""`symbox test` and `symbox hooks run` as CI and an operator run them, on the example."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.e2e.process import cli

ROOT = Path(__file__).resolve().parents[2]


def test_the_example_flows_pass_their_policy_tests(tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    result = cli("test", "--config", str(ROOT / "config.hcl"), "--junit-xml", str(report))
    assert result.stdout.splitlines()[0] == (
        f"{ROOT}/example.symtest.hcl::staging_is_pre_approved PASSED"
    )
    assert result.stdout.splitlines()[-1].startswith("8 passed in ")
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("8", "0", "0")


def test_one_hook_is_called_on_an_event_file(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"payload": {"fields": {"target": "staging-db"}}}))
    config = str(ROOT / "config.hcl")
    result = cli(
        "hooks", "run", "db-access", "on_request", "--event", str(event), "--config", config
    )
    assert json.loads(result.stdout) == {
        "__sym_template__": "approve",
        "message": "staging access is pre-approved",
    }
