"""SIGHUP reloads config.hcl in the running process: a bad config is refused, a good one applied."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import httpx

from tests.e2e.process import SymboxProcess, cli
from tests.fakes.configs import (
    GRANT_SECRET,
    REASON_FIELD,
    access_config,
    approval_flow,
    write_config,
)
from tests.fakes.receiver import GrantReceiver

ENV = {"SYMBOX_GRANT_SECRET": GRANT_SECRET}
REFUSED = "config reload refused; the running config stays"
ONCALL_FLOW = approval_flow("oncall", REASON_FIELD)


def request(http: httpx.Client, token: str, flow: str) -> httpx.Response:
    inputs = {"reason": "reload test", "duration": "1m", "target": "prod-db"}
    if flow != "access":
        inputs = {"reason": "reload test"}
    return http.post(
        "/api/v1/events/request",
        headers={"Authorization": f"Bearer {token}"},
        json={"flow": flow, "flow_inputs": inputs},
    )


def test_sighup_refuses_a_bad_config_and_applies_a_good_one(
    tmp_path: Path, receiver: GrantReceiver
) -> None:
    good = access_config(receiver.url)
    config = write_config(tmp_path, good)
    data = tmp_path / "data"
    server = SymboxProcess(config, data, ENV).start()
    port = server.port
    trees = data / "parse-cache"
    at_start = set(trees.iterdir())
    try:
        token = cli("tokens", "issue", "--user", "carol@example.com", "--data-dir", str(data))
        carol = token.stdout.strip()
        with server.client() as http:
            unknown = request(http, carol, "oncall")
            assert unknown.status_code == 400 and "no flow named" in unknown.text, unknown.text

            # A config with an error: refused, logged with the problem, the old one serves on.
            config.write_text(good + '\nresource "sym_nonsense" "x" {\n}\n')
            server.send_signal(signal.SIGHUP)
            server.wait_for(lambda: server.logged(REFUSED), "the reload to be refused")
            [refusal] = server.logged(REFUSED)
            assert any("sym_nonsense" in problem for problem in refusal["problems"])
            assert request(http, carol, "access").status_code == 201
            assert len(server.logged("symbox is ready")) == 1

            # A good config: applied on the same port, while a client keeps calling the API.
            config.write_text(good + ONCALL_FLOW)
            failures: list[str] = []
            answered: list[int] = []
            dropped: list[int] = []
            done = threading.Event()

            def keep_calling() -> None:
                close = {"Connection": "close"}
                with httpx.Client(base_url=server.url, timeout=30, headers=close) as client:
                    while not done.is_set():
                        try:
                            status = client.get("/healthz").status_code
                        except httpx.RemoteProtocolError:
                            # Accepted by the old server just as it stopped and closed unread,
                            # as on any graceful stop: the request was not handled.
                            dropped.append(1)
                            continue
                        except httpx.HTTPError as error:
                            failures.append(repr(error))
                            continue
                        answered.append(status)
                        if status != 200:
                            failures.append(str(status))

            caller = threading.Thread(target=keep_calling)
            caller.start()
            try:
                server.send_signal(signal.SIGHUP)
                server.wait_for(
                    lambda: len(server.logged("symbox is ready")) == 2, "the reloaded config"
                )
                assert request(http, carol, "oncall").status_code == 201
                after = len(answered)
                server.wait_for(lambda: len(answered) > after + 3, "calls after the reload")
            finally:
                done.set()
                caller.join(30)
            assert server.port == port
            # The new config's parse trees are kept for the next start, the old ones gone.
            assert at_start and set(trees.iterdir()).isdisjoint(at_start)
            # Never refused: connections made during the hand-over wait in the kept socket.
            assert failures == []
            assert len(dropped) <= 2
    finally:
        status = server.terminate()
    assert status == 0
    records = [json.loads(line) for line in (data / "audit.jsonl").read_text().splitlines()]
    config_events = [
        (record["event"]["type"], record["status"])
        for record in records
        if record["type"] == "config"
    ]
    assert config_events == [
        ("config_load", "info"),
        ("config_reload_refused", "error"),
        ("config_load", "info"),
    ]
    refused = next(r for r in records if r["event"]["type"] == "config_reload_refused")
    assert any("sym_nonsense" in error for error in refused["state"]["errors"])
    loads = [r for r in records if r["event"]["type"] == "config_load"]
    assert loads[0]["fields"]["sha256"] != loads[1]["fields"]["sha256"]
    assert loads[1]["fields"]["flows"] == ["access", "oncall", "signoff"]
    assert "records verified" in cli("audit", "verify", str(data / "audit.jsonl")).stdout


def test_a_reload_that_cannot_start_goes_back_to_the_running_config(
    tmp_path: Path, receiver: GrantReceiver
) -> None:
    config = write_config(tmp_path, access_config(receiver.url))
    data = tmp_path / "data"
    server = SymboxProcess(config, data, ENV).start()
    try:
        # Valid, but its audit file cannot be created: the new App fails as it starts.
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("")
        config.write_text(
            access_config(receiver.url)
            + f'\nresource "sym_log_destination" "broken" {{\n  type = "file"\n'
            f'  settings = {{ path = "{blocker}/audit.jsonl" }}\n}}\n'
        )
        server.send_signal(signal.SIGHUP)
        server.wait_for(lambda: server.logged(REFUSED), "the failed reload to be refused")
        [failed] = server.logged(
            "the reloaded config failed to start; starting the previous one again"
        )
        assert failed["error"] == (
            f"audit destination file:broken: Not a directory: {blocker}/audit.jsonl"
        )
        assert len(server.logged("symbox is ready")) == 2
        with server.client() as http:
            assert http.get("/healthz").status_code == 200
    finally:
        assert server.terminate() == 0
