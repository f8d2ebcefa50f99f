"""Lines cut from the end of the audit file: `audit verify` and the next start say so."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.process import SymboxProcess, cli
from tests.fakes.configs import GRANT_SECRET, access_config, write_config
from tests.fakes.receiver import GrantReceiver

ENV = {"SYMBOX_GRANT_SECRET": GRANT_SECRET}


def test_a_truncated_audit_file_is_reported_and_refilled_from_the_database(
    tmp_path: Path, receiver: GrantReceiver
) -> None:
    config = write_config(tmp_path, access_config(receiver.url))
    data = tmp_path / "data"
    at = ["--data-dir", str(data)]
    server = SymboxProcess(config, data, ENV).start()
    try:
        for label in ("a", "b", "c"):
            cli("tokens", "issue", "--bot", "ci", "--label", label, *at)
    finally:
        assert server.terminate() == 0
    audit = data / "audit.jsonl"
    lines = audit.read_text().splitlines()
    whole = cli("audit", "verify", *at)
    assert whole.stdout.splitlines()[-1] == (
        f"{audit}: ends where delivery to file stands (seq {len(lines)})"
    )

    # The chain of what is left still verifies: only the database can tell.
    audit.write_text("\n".join(lines[:-2]) + "\n")
    cut = cli("audit", "verify", *at, check=False)
    assert cut.returncode == 1
    assert cut.stderr.strip() == (
        f"{audit}: ends at seq {len(lines) - 2}, but the database delivered records to it up "
        f"to seq {len(lines)}: 2 records missing from its end "
        f"(seq {len(lines) - 1} to {len(lines)})"
    )

    # The next start says so in the log and the audit trail, and delivers them again.
    server = SymboxProcess(config, data, ENV).start()
    try:
        server.wait_for(
            lambda: server.logged("audit destination ends before the records delivered to it"),
            "the truncation to be logged",
        )
        [logged] = server.logged("audit destination ends before the records delivered to it")
        assert logged["level"] == "error" and logged["ends_at_seq"] == len(lines) - 2
        server.wait_for(lambda: "destination_truncated" in audit.read_text(), "the record of it")
    finally:
        assert server.terminate() == 0
    refilled = audit.read_text().splitlines()
    assert refilled[: len(lines)] == lines
    [truncated] = [json.loads(line) for line in refilled if '"destination_truncated"' in line]
    assert truncated["fields"]["missing"] == f"seq {len(lines) - 1} to {len(lines)}"
    assert cli("audit", "verify", *at).returncode == 0
