"""Refused API calls leave a log line and an audit record, and failing addresses are slowed."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from symbox.audit.verify import verify_file
from symbox.cli.tokens import issue_token, revoke_token
from symbox.engine.model import Actor
from symbox.logs import JsonFormatter
from symbox.runs.refusals import RefusalLimits
from tests.harness import Harness, harness

pytestmark = pytest.mark.anyio

REQUEST = "/api/v1/events/request"
GUESS = "sbx_not-a-token-anyone-issued-0123456789"


def refused_records(path: Path) -> list[dict[str, Any]]:
    """The audit file's refusal records, oldest first."""
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [record for record in records if record["type"] == "access"]


async def wait_refused(h: Harness, count: int) -> list[dict[str, Any]]:
    """Wait until the audit file holds ``count`` refusal records; return them."""
    path = h.app.options.data_dir / "audit.jsonl"
    await h.wait_for(lambda: len(refused_records(path)) >= count, f"{count} refusal records")
    return refused_records(path)


def refusal_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The refusal log lines as the JSON log shows them."""
    formatter = JsonFormatter()
    return [
        json.loads(formatter.format(record))
        for record in caplog.records
        if record.name == "symbox.runs.refusals"
    ]


def client(h: Harness, address: str) -> httpx.AsyncClient:
    """A client of the same server connecting from another loopback address."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=str(h.http.base_url), transport=transport)


async def test_bad_tokens_are_refused_logged_and_audited(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="symbox.runs.refusals")
    async with harness(tmp_path) as h:
        guessed = await h.http.post(REQUEST, json={}, headers={"Authorization": f"Bearer {GUESS}"})
        assert guessed.status_code == 401
        assert guessed.json()["code"] == "invalid_token"
        missing = await h.http.get("/api/v1/runs")
        assert missing.status_code == 401

        operator = Actor("operator", "test")
        secret, record = await issue_token(
            h.app.writer,
            kind="bot",
            subject="ops",
            label=None,
            now=h.clock.now(),
            expires_in=None,
            issued_by=operator,
        )
        assert await revoke_token(h.app.writer, record.id, now=h.clock.now(), revoked_by=operator)
        revoked = await h.http.get("/api/v1/runs", headers={"Authorization": f"Bearer {secret}"})
        assert revoked.status_code == 401
        assert revoked.json()["message"] == guessed.json()["message"]

        lines = refusal_lines(caplog)
        assert [(line["why"], line["what"]) for line in lines] == [
            ("unknown_token", "POST /api/v1/events/request"),
            ("missing_token", "GET /api/v1/runs"),
            ("revoked_token", "GET /api/v1/runs"),
        ]
        assert lines[0]["who"] == "unknown token"
        assert lines[0]["from"] == "127.0.0.1"
        assert lines[0]["surface"] == "api"
        assert lines[0]["level"] == "warning"
        assert (lines[2]["who"], lines[2]["actor"]) == (record.id, "bot:ops")

        records = await wait_refused(h, 3)
        assert [r["fields"]["why"] for r in records] == [
            "unknown_token",
            "missing_token",
            "revoked_token",
        ]
        first = records[0]
        assert first["event"] == {
            "type": "refused",
            "timestamp": first["timestamp"],
            "channel": "api",
        }
        assert first["fields"]["who"] == "unknown token"
        assert first["fields"]["what"] == "POST /api/v1/events/request"
        assert first["fields"]["from"] == "127.0.0.1"
        assert first["fields"]["suppressed"] == 0
        assert records[2]["actor"] == {"kind": "bot", "id": "ops"}
        assert records[2]["fields"]["who"] == record.id

        metrics = (await h.http.get("/metrics")).text
        assert 'symbox_refusals_total{reason="unknown_token",surface="api"} 1' in metrics
        assert 'symbox_refusals_total{reason="revoked_token",surface="api"} 1' in metrics

    audit = (tmp_path / "data" / "audit.jsonl").read_text()
    logged = caplog.text + json.dumps(refusal_lines(caplog))
    for secret_part in (GUESS, GUESS.removeprefix("sbx_"), secret, secret.removeprefix("sbx_")):
        assert secret_part not in audit
        assert secret_part not in logged
    assert verify_file(tmp_path / "data" / "audit.jsonl").ok


async def test_a_burst_of_bad_tokens_is_slowed_and_audited_as_a_summary(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="symbox.runs.refusals")
    limits = RefusalLimits(audit_per_key=1, audit_window=60, failed_auths=3, auth_window=60)
    async with harness(tmp_path, refusal_limits=limits) as h:
        valid = {"Authorization": f"Bearer {await h.token('reader')}"}
        bad = {"Authorization": f"Bearer {GUESS}"}
        statuses = [(await h.http.get("/api/v1/runs", headers=bad)).status_code for _ in range(3)]
        assert statuses == [401, 401, 401]

        # The address has used up its failures: even a good token waits, and is not checked.
        slowed = await h.http.get("/api/v1/runs", headers=valid)
        assert slowed.status_code == 429
        assert slowed.headers["retry-after"] == "60"
        assert slowed.json()["code"] == "too_many_failures"
        assert (await h.http.get("/api/v1/runs", headers=bad)).status_code == 429
        await h.advance(30)
        assert (await h.http.get("/api/v1/runs", headers=bad)).headers["retry-after"] == "30"

        # Someone else, from another address, is not locked out by these failures.
        async with client(h, "127.0.0.2") as other:
            assert (await other.get("/api/v1/runs", headers=valid)).status_code == 200

        await h.advance(30)
        assert (await h.http.get("/api/v1/runs", headers=valid)).status_code == 200
        assert (await h.http.get("/api/v1/runs", headers=bad)).status_code == 401

        records = await wait_refused(h, 3)
        summary = [(r["fields"]["why"], r["fields"]["suppressed"]) for r in records]
        # One record per kind and window: the next one says how many were left out.
        assert summary == [("unknown_token", 0), ("rate_limited", 0), ("unknown_token", 2)]
        assert records[1]["fields"]["who"] == "token not checked"

        lines = refusal_lines(caplog)
        # Every 401 is a line; a throttled address's 429s only as they are audited.
        assert [line["why"] for line in lines] == ["unknown_token"] * 3 + [
            "rate_limited",
            "unknown_token",
        ]
        metrics = (await h.http.get("/metrics")).text
        assert 'symbox_refusals_total{reason="rate_limited",surface="api"} 3' in metrics
        assert 'symbox_refusals_total{reason="unknown_token",surface="api"} 4' in metrics
    assert verify_file(tmp_path / "data" / "audit.jsonl").ok


async def test_refused_decisions_are_logged_and_audited(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="symbox.runs.refusals")
    async with harness(tmp_path) as h:
        own = await h.request(as_="alice@example.com")
        selfie = await h.approve(own, as_="alice@example.com")
        assert selfie.status_code == 403
        assert (await h.run(own))["status"] == "requested"

        [line] = refusal_lines(caplog)
        assert line["why"] == "forbidden"
        assert line["what"] == "POST /api/v1/events/approve"
        assert line["actor"] == "alice@example.com"
        assert line["who"].startswith("tok_")
        assert line["from"] == "127.0.0.1"
        assert "own request" in line["detail"]

        [record] = await wait_refused(h, 1)
        assert record["actor"] == {"kind": "user", "id": "alice@example.com"}
        assert record["fields"]["why"] == "forbidden"
        assert record["fields"]["who"] == line["who"]
        assert "own request" in record["fields"]["detail"]
        # A refused decision is not a failed sign-in: the address is never slowed by it.
        for _ in range(12):
            assert (await h.approve(own, as_="alice@example.com")).status_code == 403
        assert (await h.approve(own, as_="bob@example.com")).status_code == 200
    assert verify_file(tmp_path / "data" / "audit.jsonl").ok
