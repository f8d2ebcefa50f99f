"""Slack latencies: envelope to ack, and an Approve click to the requester's DM.

``python -m bench.slack [--requests 300] [--rate 30]``

The real ``python -m symbox run`` (http strategy posting to ``bench.receiver``) connects
over Socket Mode to the tests' fake Slack, which runs in this process on loopback. Each
requester submits the access flow's modal; the approver's DM carries the buttons; then
the approver clicks Approve on every request. Envelopes go out at ``--rate`` per second.
Ack latency is measured by the fake Slack from sending an envelope to receiving its ack
(the websocket both ways included); click-to-DM from sending the click to the arrival of
the ``chat.postMessage`` that tells the requester. The floor: the same envelopes at the
same rate acked by ``bench.slack_floor`` (slack-sdk's client acking at once, no symbox).
Only traffic to 127.0.0.1 is sent.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from bench.common import percentile, print_machine, summary_ms
from bench.cycles import started_process
from tests.fakes.configs import access_config
from tests.fakes.slack import APP_TOKEN, BOT_TOKEN, FakeSlack, SlackUser
from tests.slack.conftest import access_values, slack_blocks

TARGET_ACK_P99_MS = 20.0


def _users(count: int) -> list[SlackUser]:
    people = [
        SlackUser(f"U{index:05d}", f"req{index}@example.com", f"req{index}")
        for index in range(count)
    ]
    return [*people, SlackUser("UALICE", "alice@example.com", "alice")]


async def _paced(count: int, rate: float, send: Any) -> None:
    start = time.monotonic()
    async with anyio.create_task_group() as group:
        for index in range(count):
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                await anyio.sleep(delay)
            group.start_soon(send, index)


async def _drive(slack: FakeSlack, count: int, rate: float) -> dict[str, Any]:
    await slack.wait_connected()

    async def request(index: int) -> None:
        payload = {
            "type": "view_submission",
            "user": {"id": f"U{index:05d}"},
            "view": {
                "callback_id": "symbox_request",
                "private_metadata": "access",
                "state": {"values": access_values(reason=f"bench {index}")},
            },
        }
        await slack.ack(await slack.deliver("interactive", payload))

    await _paced(count, rate, request)
    runs = await _wait_for_buttons(slack, count)

    clicked: dict[str, float] = {}

    async def click(index: int) -> None:
        run_id = runs[index]
        payload = {
            "type": "block_actions",
            "user": {"id": "UALICE"},
            "channel": {"id": "DALICE"},
            "actions": [{"action_id": "symbox_approve", "value": run_id, "type": "button"}],
        }
        envelope = await slack.deliver("interactive", payload)
        clicked[f"U{index:05d}"] = slack.state.sent_at[envelope]
        await slack.ack(envelope)

    await _paced(count, rate, click)
    told = await _wait_for_dms(slack, count)
    to_dm = [told[user] - sent for user, sent in clicked.items() if user in told]
    with slack.state.lock:
        acks = [
            slack.state.acked_at[key] - sent
            for key, sent in slack.state.sent_at.items()
            if key in slack.state.acked_at
        ]
    return {"acks": acks, "to_dm": to_dm, "sent": len(slack.state.sent_at)}


async def _wait_for_buttons(slack: FakeSlack, count: int) -> list[str]:
    """Run ids from the approver's request DMs, indexed by requester."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found: dict[int, str] = {}
        for call in slack.state.called("chat.postMessage"):
            blocks = call.args.get("blocks")
            if call.args.get("channel") == "UALICE" and blocks:
                text = blocks[0]["text"]["text"]
                index = int(text.rsplit("*Reason:* bench ", 1)[1].split()[0])
                found[index] = blocks[-1]["elements"][0]["value"]
        if len(found) == count:
            return [found[index] for index in range(count)]
        await anyio.sleep(0.05)
    raise RuntimeError("not every request reached the approver")


async def _wait_for_dms(slack: FakeSlack, count: int) -> dict[str, float]:
    """When each requester was told of the approval."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        told = {
            str(call.args["channel"]): call.at
            for call in slack.state.called("chat.postMessage")
            if "was approved by" in str(call.args.get("text"))
        }
        if len(told) >= count:
            return told
        await anyio.sleep(0.05)
    return told


def measure(count: int, rate: float) -> dict[str, Any]:
    """One run: fresh data folder, receiver, symbox and fake Slack."""
    with (
        tempfile.TemporaryDirectory(prefix="symbox-bench-") as name,
        FakeSlack(_users(count)) as slack,
    ):
        folder = Path(name)
        with started_process(
            [sys.executable, "-m", "bench.receiver"], "port", folder / "receiver.log"
        ) as (
            _,
            line,
        ):
            receiver = f"http://127.0.0.1:{line.split()[1]}/grants"
            text = access_config(receiver, extra=slack_blocks(slack.api_url))
            text = text.replace(
                'approvers = "alice@example.com,bob@example.com,bot:ci"',
                'approvers = "alice@example.com"',
            )
            config = folder / "config.hcl"
            config.write_text(text)
            argv = [sys.executable, "-m", "symbox", "run", "--config", str(config)]
            argv += ["--data-dir", str(folder / "data"), "--listen", "127.0.0.1:0"]
            env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}
            with started_process(argv, "symbox is ready", folder / "symbox.log", env):
                return anyio.run(_drive, slack, count, rate)


async def _drive_floor(slack: FakeSlack, count: int, rate: float) -> list[float]:
    """Send what ``_drive`` sends (requests, then clicks) to the floor's client; its acks."""
    await slack.wait_connected()

    async def send(index: int) -> None:
        payload: dict[str, Any] = {
            "type": "view_submission",
            "user": {"id": f"U{index:05d}"},
            "view": {
                "callback_id": "symbox_request",
                "private_metadata": "access",
                "state": {"values": access_values(reason=f"bench {index}")},
            },
        }
        await slack.ack(await slack.deliver("interactive", payload))

    await _paced(count * 2, rate, send)
    with slack.state.lock:
        return [
            slack.state.acked_at[key] - sent
            for key, sent in slack.state.sent_at.items()
            if key in slack.state.acked_at
        ]


def measure_floor(count: int, rate: float) -> list[float]:
    """The same envelopes at the same rate, acked by ``bench.slack_floor`` instead of symbox."""
    with (
        tempfile.TemporaryDirectory(prefix="symbox-bench-") as name,
        FakeSlack(_users(count)) as slack,
    ):
        argv = [sys.executable, "-m", "bench.slack_floor", slack.api_url]
        with started_process(argv, "connected", Path(name) / "floor.log"):
            return anyio.run(_drive_floor, slack, count, rate)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(prog="python -m bench.slack")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rate", type=float, default=30.0, help="envelopes per second")
    args = parser.parse_args(argv)
    print_machine()
    result = measure(args.requests, args.rate)
    acks = summary_ms(result["acks"])
    to_dm = summary_ms(result["to_dm"])
    verdict = "pass" if acks["p99"] <= TARGET_ACK_P99_MS else "FAIL"
    print()
    print("| measure | count | p50 ms | p99 ms | max ms | target |")
    print("|---|---|---|---|---|---|")
    print(
        f"| envelope -> ack | {len(result['acks'])} | {acks['p50']:.1f} | {acks['p99']:.1f} |"
        f" {acks['max']:.1f} | p99 <= {TARGET_ACK_P99_MS:.0f} ms: {verdict} |"
    )
    print(
        f"| Approve click -> requester's DM | {len(result['to_dm'])} | {to_dm['p50']:.1f} |"
        f" {to_dm['p99']:.1f} | {to_dm['max']:.1f} | - |"
    )
    floor = summary_ms(measure_floor(args.requests, args.rate))
    print(
        f"| floor: envelope -> ack, slack-sdk acking at once | {args.requests * 2} |"
        f" {floor['p50']:.1f} | {floor['p99']:.1f} | {floor['max']:.1f} | - |"
    )
    print(
        f"\nack ÷ floor: p50 {acks['p50'] / floor['p50']:.2f}, p99 {acks['p99'] / floor['p99']:.2f}"
    )
    print(json.dumps({"ack_p90_ms": percentile(result["acks"], 90) * 1000}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
