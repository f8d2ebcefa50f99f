"""The symbox command as an operator uses it, against the real process."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from symbox.audit.verify import verify_file
from tests.audit.records import as_lines, make_records, write_lines
from tests.e2e.process import SymboxProcess, cli
from tests.fakes.configs import GRANT_SECRET, access_config, write_config
from tests.fakes.receiver import GrantReceiver

ENV = {"SYMBOX_GRANT_SECRET": GRANT_SECRET}


def test_version_and_help() -> None:
    assert cli("version").stdout.startswith("symbox 0.")
    for command in ("run", "validate", "tokens", "runs", "audit", "request", "grants", "watch"):
        assert cli(command, "--help").returncode == 0


def test_validate_summarises_or_lists_every_problem(
    tmp_path: Path, receiver: GrantReceiver
) -> None:
    config = write_config(tmp_path, access_config(receiver.url))
    result = cli("validate", "--config", str(config), env=ENV)
    assert "environment main" in result.stdout
    assert "flow access: http strategy grants -> staging-db, prod-db" in result.stdout
    assert "flow signoff: approval only" in result.stdout
    broken = write_config(
        tmp_path,
        access_config(receiver.url).replace('type = "string"', 'type = "colour"')
        + '\nresource "sym_nonsense" "x" {\n}\n',
    )
    result = cli("validate", "--config", str(broken), env=ENV, check=False)
    assert result.returncode == 1
    assert f"{broken}:" in result.stderr
    assert "sym_nonsense" in result.stderr and "colour" in result.stderr


def test_hooks_that_do_not_compile_are_refused_with_file_and_line(
    tmp_path: Path, receiver: GrantReceiver
) -> None:
    (tmp_path / "impl.py").write_text(
        "def on_request(event):\n    return event.__class__\n\ndef broken(:\n"
    )
    text = access_config(receiver.url).replace(
        'implementation = "# no hooks"', 'implementation = file("impl.py")', 1
    )
    config = write_config(tmp_path, text)
    for command in ("validate", "run"):
        result = cli(command, "--config", str(config), env=ENV, check=False)
        assert result.returncode == 1, command
        assert f"{tmp_path}/impl.py:4: SyntaxError" in result.stderr, result.stderr
        assert "1 problem found" in result.stderr


def test_a_full_run_through_the_real_process(tmp_path: Path, receiver: GrantReceiver) -> None:
    text = access_config(receiver.url).replace('["1m", "10m", "1h"]', '["2s", "1m"]')
    config = write_config(tmp_path, text)
    data = tmp_path / "data"
    server = SymboxProcess(config, data, ENV).start()
    try:
        # uvloop is a dependency, so the default (auto) runs on it.
        assert server.logged("symbox is ready")[0]["event_loop"] == "uvloop"
        carol = cli("tokens", "issue", "--user", "carol@example.com", "--data-dir", str(data))
        carol_token = carol.stdout.strip()
        alice_token = cli(
            "tokens",
            "issue",
            "--user",
            "alice@example.com",
            "--label",
            "approver",
            "--data-dir",
            str(data),
        ).stdout.strip()
        assert carol_token.startswith("sbx_") and "expires" in carol.stderr
        with server.client() as http:
            response = http.post(
                "/api/v1/events/request",
                headers={"Authorization": f"Bearer {carol_token}"},
                json={
                    "flow": "access",
                    "flow_inputs": {"reason": "e2e", "duration": "2s", "target": "prod-db"},
                },
            )
            assert response.status_code == 201, response.text
            run_id = response.json()["run_id"]
            response = http.post(
                "/api/v1/events/approve",
                headers={"Authorization": f"Bearer {alice_token}"},
                json={"run_id": run_id},
            )
            assert response.json()["status"] == "escalated"
            assert receiver.state.granted == {("prod-db", "carol@example.com")}
            server.wait_for(lambda: not receiver.state.granted, "the grant to be revoked")

            def recorded() -> bool:
                run = http.get(
                    f"/api/v1/runs/{run_id}", headers={"Authorization": f"Bearer {carol_token}"}
                )
                return bool(run.json()["status"] == "deescalated")

            server.wait_for(recorded, "the revocation to be recorded")

        listing = cli("runs", "list", "--data-dir", str(data))
        [row] = [line for line in listing.stdout.splitlines() if run_id in line]
        assert row.split()[1:3] == ["deescalated", "revoked"]
        shown = json.loads(cli("runs", "show", run_id, "--json", "--data-dir", str(data)).stdout)
        assert [event["name"] for event in shown["events"]] == [
            "request",
            "approve",
            "escalate",
            "deescalate",
        ]
        tokens = cli("tokens", "list", "--data-dir", str(data)).stdout
        assert "carol@example.com" in tokens and "approver" in tokens
        assert carol_token not in tokens
        listed = json.loads(cli("tokens", "list", "--json", "--data-dir", str(data)).stdout)
        token_id = listed[0]["id"]
        revoked_token = alice_token if listed[0]["subject"] == "alice@example.com" else carol_token
        assert cli("tokens", "revoke", token_id, "--data-dir", str(data)).returncode == 0
        # The server has this token in memory; the revoke by another process counts at once.
        with server.client() as http:
            refused = http.get("/api/v1/runs", headers={"Authorization": f"Bearer {revoked_token}"})
            assert refused.status_code == 401, refused.text
        assert (
            cli("tokens", "revoke", token_id, "--data-dir", str(data), check=False).returncode == 1
        )
    finally:
        status = server.terminate()
    assert status == 0
    assert any(record.get("message") == "shutting down" for record in server.logs)
    audit = data / "audit.jsonl"
    assert stat.S_IMODE(audit.stat().st_mode) == 0o600
    verified = cli("audit", "verify", str(audit))
    assert "records verified" in verified.stdout
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    kinds = [record["event"]["type"] for record in records]
    assert kinds[0] == "config_load"
    assert kinds.count("token_issue") == 2 and "token_revoke" in kinds
    assert [kind for kind in kinds if kind in ("request", "approve", "escalate", "deescalate")] == [
        "request",
        "approve",
        "escalate",
        "deescalate",
    ]
    for record in records:
        assert {"id", "timestamp", "service", "status", "type", "meta", "event", "state"} <= set(
            record
        )
        assert record["service"] == "symbox"
    assert GRANT_SECRET not in audit.read_text()
    assert verify_file(audit).ok

    # Tampering is detected and located.
    lines = audit.read_text().splitlines()
    lines[3] = lines[3].replace('"api"', '"slack"')
    audit.write_text("\n".join(lines) + "\n")
    tampered = cli("audit", "verify", str(audit), check=False)
    assert tampered.returncode == 1 and "line 4" in tampered.stderr


def test_bad_arguments_fail_clearly(tmp_path: Path) -> None:
    missing = cli("run", "--config", str(tmp_path / "nope.hcl"), check=False)
    assert missing.returncode != 0 and "nope.hcl" in missing.stderr
    listen = cli("run", "--listen", "nonsense", check=False)
    assert listen.returncode == 1 and "--listen" in listen.stderr
    for seconds, problem in (("0", "0 s is outside 0.1 to 60 s"), ("soon", "'soon' is not")):
        timeout = cli("run", "--hook-timeout", seconds, check=False)
        assert timeout.returncode == 2 and problem in timeout.stderr
    runs = cli("runs", "list", "--data-dir", str(tmp_path / "empty"), check=False)
    assert runs.returncode == 1 and "no database" in runs.stderr
    for path in (tmp_path / "none.jsonl", tmp_path):
        verify = cli("audit", "verify", str(path), check=False)
        assert verify.returncode == 1 and "no such file" in verify.stderr
    tokens = cli("tokens", "issue", "--bot", "ci", "--data-dir", str(tmp_path / "x"), check=False)
    assert tokens.returncode == 1 and "start symbox run first" in tokens.stderr
    assert not (tmp_path / "x").exists()


def test_the_event_loop_is_chosen_and_named(tmp_path: Path, receiver: GrantReceiver) -> None:
    config = write_config(tmp_path, access_config(receiver.url))
    server = SymboxProcess(config, tmp_path / "data", {**ENV, "SYMBOX_EVENT_LOOP": "asyncio"})
    try:
        assert server.start().logged("symbox is ready")[0]["event_loop"] == "asyncio"
        with server.client() as http:
            assert http.get("/healthz").status_code == 200
    finally:
        assert server.terminate() == 0
    wrong = cli("run", "--config", str(config), "--event-loop", "twisted", check=False)
    assert wrong.returncode == 2 and "--event-loop" in wrong.stderr
    unknown = cli(
        "run", "--config", str(config), env={**ENV, "SYMBOX_EVENT_LOOP": "tornado"}, check=False
    )
    assert unknown.returncode == 1 and "'tornado'" in unknown.stderr


def test_token_subjects_are_checked(tmp_path: Path, receiver: GrantReceiver) -> None:
    config = write_config(tmp_path, access_config(receiver.url))
    server = SymboxProcess(config, tmp_path / "data", ENV).start()
    try:
        data = ["--data-dir", str(tmp_path / "data")]
        user = cli("tokens", "issue", "--user", "bot:ci", *data, check=False)
        assert user.returncode == 1 and "expected an email address" in user.stderr
        bot = cli("tokens", "issue", "--bot", "ci:admin", *data, check=False)
        assert bot.returncode == 1 and "--bot" in bot.stderr
        expires = cli("tokens", "issue", "--bot", "ci", "--expires", "soon", *data, check=False)
        assert expires.returncode == 1 and "soon" in expires.stderr
        second = SymboxProcess(config, tmp_path / "data", ENV)
        with pytest.raises(AssertionError, match="did not become ready"):
            second.start()
        assert any("another symbox is running" in str(r.get("message")) for r in second.logs)
    finally:
        assert server.terminate() == 0


def test_rotated_audit_files_are_verified_as_one_chain(tmp_path: Path) -> None:
    lines = as_lines(make_records(10))
    older, newer = tmp_path / "audit.jsonl.1", tmp_path / "audit.jsonl"
    write_lines(older, lines[:4])
    write_lines(newer, lines[4:])
    verified = cli("audit", "verify", str(older), str(newer))
    assert verified.stdout.strip() == "2 files: 10 records verified (seq 1 to 10)"
    backwards = cli("audit", "verify", str(newer), str(older), check=False)
    assert backwards.returncode == 1
    assert backwards.stderr.startswith(f"{older}: line 1: a record is missing or out of order")
