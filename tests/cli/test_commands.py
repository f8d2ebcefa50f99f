"""Small things a newcomer hit: --version, usage errors, quiet pipes, tokens' state, 405."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from symbox import __version__
from symbox.app import DATABASE_NAME
from symbox.cli.main import main
from symbox.cli.tokens import issue_token, revoke_token
from symbox.config.durations import iso
from symbox.engine.model import Actor
from symbox.store.handle import open_store
from tests.harness import harness

OPERATOR = Actor("operator", "test")


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"symbox {__version__}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--status", "bogus"], "invalid choice: 'bogus'"),
        (["--limit", "0"], "0 is outside 1 to 500"),
        (["--limit", "many"], "'many' is not a whole number"),
    ],
)
def test_runs_list_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["runs", "list", "--data-dir", str(tmp_path), *args])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


async def _tokens(data_dir: Path, count: int) -> list[str]:
    async with open_store(data_dir / DATABASE_NAME) as store:
        ids = []
        for index in range(count):
            _, record = await issue_token(
                store.writer,
                kind="bot",
                subject=f"ci-{index}",
                label="x" * 200,
                now=time.time() - 3600,
                expires_in=60 if index == 1 else None,
                issued_by=OPERATOR,
            )
            ids.append(record.id)
        await revoke_token(store.writer, ids[0], now=time.time(), revoked_by=OPERATOR)
    return ids


def test_tokens_list_marks_revoked_and_expired_tokens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = anyio.run(_tokens, tmp_path, 3)
    assert main(["tokens", "list", "--data-dir", str(tmp_path)]) == 0
    rows = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows == {ids[0]: "revoked", ids[1]: "expired", ids[2]: "active"}


def test_tokens_list_shows_last_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def use_a_token() -> float:
        async with harness(tmp_path) as h:
            assert (await h.call("GET", "/api/v1/flows", "carol@example.com")).status_code == 200
            await h.token("dave@example.com")
            return h.clock.now()

    used_at = anyio.run(use_a_token)
    assert main(["tokens", "list", "--json", "--data-dir", str(tmp_path / "data")]) == 0
    rows = {row["subject"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["carol@example.com"]["last_used_at"] == iso(used_at)
    assert rows["dave@example.com"]["last_used_at"] is None
    assert main(["tokens", "list", "--data-dir", str(tmp_path / "data")]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert "LAST_USED_AT" in header


def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path) -> None:
    anyio.run(_tokens, tmp_path, 400)
    command = [sys.executable, "-m", "symbox", "tokens", "list", "--json"]
    command += ["--data-dir", str(tmp_path)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.readline()
        process.stdout.close()
        errors = process.stderr.read()
        assert process.wait(timeout=30) == 0
    assert errors == b""


def test_runs_show_never_prints_none(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def one_run() -> str:
        async with harness(tmp_path) as h:
            return await h.request()

    run_id = anyio.run(one_run)
    assert main(["runs", "show", run_id, "--data-dir", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    assert "None" not in out and "null" not in out
    assert "status" in out and "requested" in out


def test_validate_no_env_checks_env_names_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SYMBOX_GRANT_SECRET", raising=False)
    config = Path(__file__).parents[2] / "config.hcl"
    assert main(["validate", "--config", str(config)]) == 1
    assert "SYMBOX_GRANT_SECRET" in capsys.readouterr().err
    assert main(["validate", "--no-env", "--config", str(config)]) == 0
    assert "config ok" in capsys.readouterr().out


def test_audit_verify_defaults_to_the_data_folders_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def one_run() -> None:
        async with harness(tmp_path) as h:
            await h.request()

    anyio.run(one_run)
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "verify", "--data-dir", "data"]) == 0
    assert "records verified" in capsys.readouterr().out
    assert main(["audit", "verify", "--data-dir", "nowhere"]) == 1


@pytest.mark.anyio
async def test_wrong_methods_are_405_and_old_tokens_are_refused(tmp_path: Path) -> None:
    async with harness(tmp_path, token_max_ttl=3600) as h:
        response = await h.call("GET", "/api/v1/events/approve", "carol@example.com")
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        assert (await h.http.get("/api/v1/runs")).status_code == 401
        assert (await h.call("GET", "/api/v1/runs", "reader")).status_code == 200
        await h.advance(3601)
        refused = await h.call("GET", "/api/v1/runs", "reader")
        assert refused.status_code == 401
        assert refused.json()["code"] == "invalid_token"
