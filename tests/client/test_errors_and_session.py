"""The client's failures (exit 1 with a clear message, 2 for usage), login and watch."""

from __future__ import annotations

import io
import json
import socket
import stat
from pathlib import Path

import anyio.to_thread
import httpx
import pytest

from symbox.cli.main import build_parser, main
from symbox.client.commands import cmd_extend
from symbox.client.http import Api, Refused
from symbox.client.parser import run_client
from symbox.client.terminal import Terminal
from tests.client.driver import client
from tests.harness import harness

pytestmark = pytest.mark.anyio

CAROL = "carol@example.com"
ASK = ("--reason", "oops", "--duration", "10m", "--target", "prod-db")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_server_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    args = build_parser().parse_args(["pending", "--server", url])
    err = io.StringIO()
    code = run_client(args, Terminal(out=io.StringIO(), err=err), {"SYMBOX_TOKEN": "sbx_x"})
    assert code == 1
    assert f"cannot reach symbox at {url}" in err.getvalue()


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["extend", "RUN"], ["extend", "RUN", "--by", "soon"], ["request"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2


def test_no_token_says_how_to_get_one(tmp_path: Path) -> None:
    args = build_parser().parse_args(["grants"])
    err = io.StringIO()
    environ = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert run_client(args, Terminal(out=io.StringIO(), err=err), environ) == 1
    assert "symbox login" in err.getvalue() and str(tmp_path / "symbox" / "token") in err.getvalue()


async def test_withdraw_and_refusals(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        requested = (await client(h, CAROL, "request", "access", *ASK)).out
        assert requested.startswith("run ") and "requested: waiting for a decision" in requested
        assert requested.rstrip().endswith("(in 1 h)")
        run_id = requested.split()[1]
        withdrawn = await client(h, CAROL, "withdraw", run_id, "--reason", "fixed")
        assert withdrawn.code == 0 and withdrawn.out.startswith(f"run {run_id} withdrawn")
        again = await client(h, CAROL, "withdraw", run_id)
        assert again.code == 1 and "not requested (HTTP 409)" in again.err
        extend = await client(h, CAROL, "extend", run_id, "--by", "30m")
        assert extend.code == 1 and "(HTTP 409)" in extend.err
        hidden = await client(h, "eve@example.com", "approve", run_id)
        assert hidden.code == 1 and f"no run {run_id!r} (HTTP 404)" in hidden.err
        unknown = await client(h, CAROL, "request", "nope", *ASK)
        assert unknown.code == 1 and "flows: access, signoff" in unknown.err


async def test_a_bad_token_is_refused_with_a_hint(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        result = await client(h, CAROL, "pending", environ={"SYMBOX_TOKEN": "sbx_wrong"})
        assert result.code == 1
        assert "(HTTP 401); log in again: symbox login" in result.err
        assert "sbx_wrong" not in result.err + result.out


async def test_login_checks_the_token_and_saves_it_for_the_owner_only(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        secret = await h.token(CAROL)
        path = tmp_path / "conf" / "symbox" / "token"
        environ = {"XDG_CONFIG_HOME": str(tmp_path / "conf")}
        # The token comes from stdin when no terminal is there (a hidden prompt otherwise).
        refusal = io.StringIO()
        terminal = Terminal(out=io.StringIO(), err=refusal, stdin=io.StringIO("nope\n"))
        args = build_parser().parse_args(["login", "--server", str(h.http.base_url)])
        code = await anyio.to_thread.run_sync(run_client, args, terminal, environ)
        assert code == 1 and not path.exists()
        assert "(HTTP 401)" in refusal.getvalue() and "log in again" not in refusal.getvalue()
        stdout, stderr = io.StringIO(), io.StringIO()
        terminal = Terminal(out=stdout, err=stderr, stdin=io.StringIO(secret + "\n"))
        code = await anyio.to_thread.run_sync(run_client, args, terminal, environ)
        assert code == 0, stderr.getvalue()
        out = stdout.getvalue()
        assert f"as user {CAROL}" in out and secret not in out
        assert path.read_text().strip() == secret
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        # Later commands read it; a file others may read is used with a warning.
        who = await client(h, CAROL, "whoami", environ={**environ, "SYMBOX_TOKEN": ""})
        assert who.out.strip() == f"user {CAROL} on {h.http.base_url}" and who.err == ""
        path.chmod(0o644)
        who = await client(h, CAROL, "whoami", environ={**environ, "SYMBOX_TOKEN": ""})
        assert who.code == 0 and f"chmod 600 {path}" in who.err


async def test_watch_redraws_until_ctrl_c(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.request()
        refreshes: list[float] = []

        def interrupt_on_the_second(seconds: float) -> None:
            refreshes.append(seconds)
            if len(refreshes) >= 2:
                raise KeyboardInterrupt

        watched = await client(
            h, "auditor", "watch", "--interval", "5", sleep=interrupt_on_the_second
        )
        assert watched.code == 0 and watched.err == ""
        tables = [part for part in watched.out.split("\n\n") if part.startswith("RUN")]
        assert len(tables) == 2 and refreshes == [5.0, 5.0]
        assert "access  carol@example.com  prod-db  requested" in tables[0]
        as_json = await client(
            h, "auditor", "watch", "--output", "json", sleep=interrupt_on_the_second
        )
        assert [run["status"] for run in json.loads(as_json.out.splitlines()[0])] == ["requested"]


def test_a_server_without_extensions_is_named() -> None:
    # An older symbox: its GET-only /api/v1/events/{event_id} route answers a POST with 405.
    def older(request: httpx.Request) -> httpx.Response:
        body = {"error": "method_not_allowed", "message": "Method Not Allowed"}
        return httpx.Response(405, json={**body, "code": "http_error", "status_code": 405})

    api = Api("http://old.example", "sbx_x", transport=httpx.MockTransport(older))
    args = build_parser().parse_args(["extend", "RUN", "--by", "30m"])
    with pytest.raises(Refused, match=r"the server at http://old\.example does not support"):
        cmd_extend(args, api, Terminal(out=io.StringIO(), err=io.StringIO()))
