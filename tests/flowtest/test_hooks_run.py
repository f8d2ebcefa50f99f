"""`symbox hooks run`: one hook of the project's flow, called in a real sandbox worker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.flowtest.project import write_project
from tests.flowtest.test_command import run


def write_json(path: Path, value: object) -> str:
    """Write ``value`` as JSON to ``path``; return the path as an argument."""
    path.write_text(json.dumps(value))
    return str(path)


def on(config: Path) -> list[str]:
    """The option naming the project's config."""
    return ["--config", str(config)]


def test_prints_what_the_hook_returned_and_the_calls_it_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_project(tmp_path, {})
    event = write_json(
        tmp_path / "event.json",
        {"user": "carol@example.com", "payload": {"fields": {"reason": "deploy"}}},
    )
    answers = write_json(tmp_path / "answers.json", {"pagerduty_on_call": ["carol@example.com"]})
    code, out, err = run(
        [
            "hooks",
            "run",
            "admin",
            "on_request",
            "--event",
            event,
            "--answers",
            answers,
            *on(config),
        ],
        capsys,
    )
    assert json.loads(out) == {"__sym_template__": "approve", "message": "on call"}
    assert err.splitlines() == [
        '[integration] pagerduty.is_on_call({"email": "carol@example.com",'
        ' "schedule_name": null}) -> true'
    ]
    assert code == 0


def test_a_reducer_sees_the_event_as_hooks_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_project(tmp_path, {})
    event = write_json(tmp_path / "event.json", {"user": "dave.smith@example.com"})
    code, out, _ = run(
        ["hooks", "run", "admin", "get_identity", "--event", event, "--config", str(config)],
        capsys,
    )
    assert json.loads(out) == "dave.smith"
    assert code == 0


def test_a_hook_that_raises_exits_1_with_its_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_project(tmp_path, {})
    event = write_json(tmp_path / "event.json", {"payload": {"fields": {"reason": "boom"}}})
    code, out, err = run(
        ["hooks", "run", "admin", "on_request", "--event", event, "--config", str(config)],
        capsys,
    )
    assert out == ""
    assert err == (
        f"on_request raised: {tmp_path}/hooks.py:14: ValueError: the hook broke on purpose\n"
    )
    assert code == 1


def test_what_cannot_be_called_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_project(tmp_path, {})
    event = write_json(tmp_path / "event.json", {})
    common = ["--event", event, "--config", str(config)]
    code, _, err = run(["hooks", "run", "admin", "on_deny", *common], capsys)
    assert (code, err) == (
        2,
        f"{tmp_path}/hooks.py defines no on_deny (it defines get_identity, get_permissions,"
        " get_request_notifications, on_request)\n",
    )
    code, _, err = run(["hooks", "run", "nope", "on_request", *common], capsys)
    assert (code, err) == (2, "no flow named nope (flows: admin, lab, ops)\n")
    (tmp_path / "bad.json").write_text("{")
    code, _, err = run(
        ["hooks", "run", "admin", "on_request", "--event", str(tmp_path / "bad.json"), *on(config)],
        capsys,
    )
    assert code == 2
    assert err.startswith(f"--event {tmp_path}/bad.json: not JSON: ")
