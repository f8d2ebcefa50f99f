"""Tables, relative and local times, and where the token comes from."""

from __future__ import annotations

import os
import stat
from datetime import UTC
from pathlib import Path

import pytest

from symbox.client import config, render
from symbox.client.request import typed
from symbox.client.terminal import describe

NOW = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC


def test_spans_and_relative_times() -> None:
    assert render.span(42) == "42 s"
    assert render.span(12 * 60 + 30) == "12 min"
    assert render.span(2 * 3600 + 5 * 60) == "2 h 5 min"
    assert render.span(3600) == "1 h"
    assert render.span(3 * 86400 + 4 * 3600) == "3 d 4 h"
    assert render.relative(NOW + 720, NOW) == "in 12 min"
    assert render.relative(NOW - 80, NOW) == "1 min ago"
    assert render.span(599.6) == "10 min"
    assert render.relative(NOW + 0.4, NOW) == "now"


def test_local_times_show_the_day_only_when_it_is_not_today() -> None:
    assert render.local_time(NOW + 3600, NOW, UTC) == "09:00"
    assert render.local_time(NOW + 86400, NOW, UTC) == "Jan 16 08:00"
    assert render.when("2027-01-15T08:12:00.000Z", NOW, UTC) == "08:12 (in 12 min)"
    assert render.when(None, NOW) == ""


def test_tables_align_columns_without_trailing_spaces() -> None:
    text = render.table([["a-long-id", "x"], ["b", ""]], ["run", "flow"])
    assert text.splitlines() == ["RUN        FLOW", "a-long-id  x", "b"]


def test_durations_and_reasons_for_cells() -> None:
    assert render.duration(600) == "10m"
    assert render.duration(None) == ""
    long = {"fields": {"reason": "word " * 20}}
    assert len(render.reason(long)) == 40 and render.reason(long).endswith("…")


def test_describe_says_where_a_run_is() -> None:
    run = {"status": "escalated", "expires_at": "2027-01-15T08:30:00.000Z"}
    assert describe(run, NOW).startswith("escalated: access until ")
    assert describe(run, NOW).endswith("(in 30 min)")
    assert describe({"status": "escalated", "expires_at": None}, NOW) == (
        "escalated: access until revoked"
    )
    denied = {"status": "denied", "decisions": [{"actor": {"id": "a@x.io"}, "reason": "no"}]}
    assert describe(denied, NOW) == "denied: by a@x.io: no"


def test_server_and_token_resolution(tmp_path: Path) -> None:
    assert config.server_url(None, {}) == "http://127.0.0.1:8080"
    assert config.server_url(None, {"SYMBOX_SERVER": "https://jit.example/"}) == (
        "https://jit.example"
    )
    assert config.server_url("http://h:1", {"SYMBOX_SERVER": "https://x"}) == "http://h:1"
    with pytest.raises(config.ConfigProblem):
        config.server_url("jit.example", {})
    environ = {"XDG_CONFIG_HOME": str(tmp_path), "SYMBOX_TOKEN": "sbx_env"}
    assert config.default_token_file(environ) == tmp_path / "symbox" / "token"
    assert config.default_token_file({"HOME": "/home/c"}) == Path("/home/c/.config/symbox/token")
    assert config.token(None, environ) == ("sbx_env", None)
    path = tmp_path / "symbox" / "token"
    # An existing file others could read is tightened when a token is written to it.
    path.parent.mkdir()
    path.write_text("old")
    path.chmod(0o644)
    config.write_token_file(path, "sbx_file")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # An explicit file wins over the environment.
    assert config.token(path, environ) == ("sbx_file", None)
    os.chmod(path, 0o640)
    token, warning = config.token(path, {})
    assert token == "sbx_file" and warning is not None and "chmod 600" in warning


def test_field_values_take_their_fields_json_types() -> None:
    assert typed("int", " 42 ") == 42
    assert typed("int", "many") == "many"  # the server names the problem
    assert typed("bool", "Yes") is True and typed("bool", "false") is False
    assert typed("str_list", "a, b,,c") == ["a", "b", "c"]
    assert typed("int_list", "1,2") == [1, 2]
    assert typed("string", " kept ") == "kept"
    assert typed(None, "x") == "x"
