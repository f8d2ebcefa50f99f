"""``symbox users`` as an operator runs it: set, list, unset, each change audited."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from symbox.store.writer import open_database
from tests.e2e.process import cli


def test_identities_are_set_listed_and_removed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    missing = cli("users", "list", "--data-dir", str(data), check=False)
    assert missing.returncode == 1 and "no database at" in missing.stderr
    open_database(data / "symbox.db").close()

    done = cli(
        "users",
        "set",
        "Carol@Example.com",
        "--github",
        "octocat",
        "--okta",
        "carol.smith",
        "--data-dir",
        str(data),
    )
    assert done.stdout.splitlines() == [
        "carol@example.com: GitHub username octocat (was none)",
        "carol@example.com: Okta login carol.smith (was none)",
    ]
    again = cli("users", "set", "carol@example.com", "--github", "octocat", "--data-dir", str(data))
    assert again.stdout == "carol@example.com: nothing changed\n"
    listed = json.loads(cli("users", "list", "--json", "--data-dir", str(data)).stdout)
    assert [(row["email"], row["system"], row["identity"]) for row in listed] == [
        ("carol@example.com", "github", "octocat"),
        ("carol@example.com", "okta", "carol.smith"),
    ]
    table = cli("users", "list", "--data-dir", str(data)).stdout.splitlines()
    assert table[0].split() == ["EMAIL", "SYSTEM", "IDENTITY", "UPDATED_AT"]

    removed = cli("users", "unset", "carol@example.com", "--github", "--data-dir", str(data))
    assert removed.stdout == "carol@example.com: GitHub username removed (was octocat)\n"
    listed = json.loads(cli("users", "list", "--json", "--data-dir", str(data)).stdout)
    assert [row["system"] for row in listed] == ["okta"]

    with sqlite3.connect(data / "symbox.db") as conn:
        lines = [json.loads(row[0]) for row in conn.execute("SELECT line FROM audit_outbox")]
    assert [(line["event"]["type"], line["fields"]["system"]) for line in lines] == [
        ("identity_set", "github"),
        ("identity_set", "okta"),
        ("identity_unset", "github"),
    ]
    assert lines[2]["fields"] == {
        "email": "carol@example.com",
        "system": "github",
        "identity": None,
        "previous": "octocat",
    }
    assert lines[0]["event"]["channel"] == "cli" and lines[0]["actor"]["kind"] == "operator"


def test_bad_input_is_refused_with_the_reason(tmp_path: Path) -> None:
    data = tmp_path / "data"
    open_database(data / "symbox.db").close()
    cases = [
        (("set", "not-an-email", "--github", "x"), "'not-an-email': expected an email address"),
        (
            ("unset", "a@example.com"),
            "say which identity to remove: --okta or --github or --tailscale or --onelogin or "
            "--aptible or --google",
        ),
        (
            ("set", "a@example.com", "--github", "bad_name"),
            "'bad_name' is not a valid GitHub username (e.g. octocat)",
        ),
    ]
    for args, message in cases:
        result = cli("users", *args, "--data-dir", str(data), check=False)
        assert result.returncode == 1, args
        assert result.stderr == f"symbox: {message}\n", result.stderr
