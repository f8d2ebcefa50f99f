"""Refused Slack clicks leave a log line and an audit record, like refused API calls."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from symbox.audit.verify import verify_file
from symbox.logs import JsonFormatter
from tests.slack.conftest import access_values, slack_rig

pytestmark = pytest.mark.anyio


def refusal_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The refusal log lines as the JSON log shows them."""
    formatter = JsonFormatter()
    return [
        json.loads(formatter.format(record))
        for record in caplog.records
        if record.name == "symbox.runs.refusals"
    ]


def refused_records(path: Path) -> list[dict[str, Any]]:
    """The audit file's refusal records, oldest first."""
    records = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [record for record in records if record["type"] == "access"]


async def test_refused_clicks_are_logged_and_audited(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="symbox.runs.refusals")
    async with slack_rig(tmp_path) as rig:
        await rig.submit("access", access_values())
        posts = await rig.calls("chat.postMessage", 2, lambda c: c.args.get("blocks") is not None)
        run_id = posts[0].args["blocks"][-1]["elements"][0]["value"]

        await rig.click("symbox_approve", run_id, "UCAROL")  # not an approver
        await rig.calls("chat.postEphemeral", 1)
        await rig.click("symbox_approve", run_id, "UGUEST")
        await rig.calls("chat.postEphemeral", 2)
        payload = {
            "type": "block_actions",
            "user": {"id": "UNOBODY"},
            "team": {"id": "T1"},
            "channel": {"id": "DAPPROVER"},
            "actions": [{"action_id": "symbox_deny", "value": run_id, "type": "button"}],
        }
        await rig.slack.ack(await rig.slack.deliver("interactive", payload))
        await rig.calls("chat.postEphemeral", 3)
        assert (await rig.h.run(run_id))["status"] == "requested"

        lines = refusal_lines(caplog)
        assert [(line["why"], line["what"], line["from"]) for line in lines] == [
            ("forbidden", f"approve run {run_id}", "slack:UCAROL"),
            ("guest", f"approve run {run_id}", "slack:UGUEST"),
            ("not_a_user", f"deny run {run_id}", "slack:T1:UNOBODY"),
        ]
        assert lines[0]["who"] == "carol@example.com"
        assert "not an approver" in lines[0]["detail"]
        assert lines[2]["who"] == "slack user UNOBODY"
        assert {line["surface"] for line in lines} == {"slack"}

        path = tmp_path / "data" / "audit.jsonl"
        await rig.h.wait_for(lambda: len(refused_records(path)) >= 3, "3 refusal records")
        records = refused_records(path)
        assert [r["fields"]["why"] for r in records] == ["forbidden", "guest", "not_a_user"]
        assert records[0]["actor"] == {"kind": "user", "id": "carol@example.com"}
        assert records[0]["event"]["channel"] == "slack"
        assert records[2]["fields"]["from"] == "slack:T1:UNOBODY"

        metrics = (await rig.h.http.get("/metrics")).text
        assert 'symbox_refusals_total{reason="forbidden",surface="slack"} 1' in metrics
    assert verify_file(tmp_path / "data" / "audit.jsonl").ok


async def test_a_stranger_clicking_approve_is_told_and_traced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="symbox.runs.refusals")
    async with slack_rig(tmp_path) as rig:
        await rig.submit("access", access_values())
        posts = await rig.calls("chat.postMessage", 2, lambda c: c.args.get("blocks") is not None)
        run_id = posts[0].args["blocks"][-1]["elements"][0]["value"]
        # Dave saw the request in the channel but approves nothing of this flow.
        await rig.click("symbox_approve", run_id, "UDAVE")
        [told] = await rig.calls("chat.postEphemeral", 1)
        assert told.args["text"].startswith("You cannot do that:")
        assert (await rig.h.run(run_id))["status"] == "requested"
        [line] = refusal_lines(caplog)
    assert (line["why"], line["who"]) == ("forbidden", "dave@example.com")
