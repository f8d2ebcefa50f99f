"""Start the real ``symbox`` process and talk to it like an operator would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import httpx

STARTUP_LIMIT = 30.0


def symbox_command(*args: str) -> list[str]:
    """The command line that runs symbox: the executable in $SYMBOX_BINARY, else the source."""
    binary = os.environ.get("SYMBOX_BINARY")
    if binary:
        return [binary, *args]
    return [sys.executable, "-m", "symbox", *args]


def cli(
    *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a symbox CLI command to completion."""
    result = subprocess.run(
        symbox_command(*args),
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"symbox {' '.join(args)} failed: {result.stderr}")
    return result


class SymboxProcess:
    """``symbox run`` in a child process; its JSON log lines are collected as they arrive."""

    def __init__(self, config: Path, data_dir: Path, env: dict[str, str]) -> None:
        self.config = config
        self.data_dir = data_dir
        self.env = {**os.environ, **env}
        self.logs: list[dict[str, Any]] = []
        self.port: int | None = None
        self._process: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self._log_thread: threading.Thread | None = None

    def start(self) -> SymboxProcess:
        """Start and wait until the API answers."""
        self.logs = []
        self._ready.clear()
        self._process = subprocess.Popen(
            symbox_command(
                "run",
                "--config",
                str(self.config),
                "--data-dir",
                str(self.data_dir),
                "--listen",
                "127.0.0.1:0",
            ),
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=self.env,
        )
        assert self._process.stderr is not None
        self._log_thread = threading.Thread(
            target=self._read_logs, args=(self._process.stderr,), daemon=True
        )
        self._log_thread.start()
        deadline = time.monotonic() + STARTUP_LIMIT
        while not self._ready.wait(0.05):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"symbox did not become ready: {self.logs}")
        return self

    def _read_logs(self, stream: IO[str]) -> None:
        with stream:
            for line in stream:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    record = {"message": line.rstrip()}
                self.logs.append(record)
                if record.get("message") == "symbox is ready":
                    self.port = int(record["port"])
                    self._ready.set()

    def _reap(self) -> None:
        # The log reader closes the pipe once the process has gone and it read the rest.
        if self._log_thread is not None:
            self._log_thread.join(10)

    @property
    def url(self) -> str:
        """The API's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> httpx.Client:
        """An HTTP client for the API."""
        return httpx.Client(base_url=self.url, timeout=10)

    def terminate(self, timeout: float = 30.0) -> int:
        """Send SIGTERM and return the exit status."""
        assert self._process is not None
        self._process.send_signal(signal.SIGTERM)
        status = self._process.wait(timeout)
        self._reap()
        return status

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self._process is not None
        return self._process.pid

    def send_signal(self, signum: int) -> None:
        """Send a signal (SIGHUP to reload) without waiting for anything."""
        assert self._process is not None
        self._process.send_signal(signum)

    def logged(self, message: str) -> list[dict[str, Any]]:
        """The log records with this message, so far."""
        return [record for record in list(self.logs) if record.get("message") == message]

    def kill(self) -> None:
        """SIGKILL: no chance to clean up."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(10)
        self._reap()

    def wait_for(self, check: Any, what: str, limit: float = 30.0) -> None:
        """Poll ``check()`` until truthy."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")
