"""One hook worker process seen from the host: framed pipes, start, kill and reap."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Sequence

import anyio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from symbox.sandbox.worker import HEADER, READY

# How many owners a worker remembers having served (to name suspects in an incident).
_SERVED_MEMORY = 8


class ProtocolError(Exception):
    """The worker broke the framing contract."""


class WorkerProcess:
    """One worker process, the scope it is bound to, and whom it has served."""

    def __init__(self, process: Process) -> None:
        self.process = process
        assert process.stdin is not None and process.stdout is not None
        self._send = process.stdin
        self._receive = BufferedByteReceiveStream(process.stdout)
        # Set by its first call; a worker never serves another scope after that.
        self.scope: str | None = None
        self.served: list[str] = []
        self._ready = False

    async def ready(self, timeout: float) -> None:  # noqa: ASYNC109
        """Wait (once) for the worker's ready frame; kill it if it does not come in time."""
        if self._ready:
            return
        try:
            with anyio.fail_after(timeout):
                ready = await self.receive(len(READY))
            if ready != READY:
                raise ProtocolError(f"worker sent {ready!r} instead of ready")
        except BaseException:
            await self.kill()
            raise
        self._ready = True

    def serving(self, owner: str) -> None:
        """Remember that ``owner``'s code ran here."""
        if owner in self.served:
            self.served.remove(owner)
        self.served.append(owner)
        del self.served[:-_SERVED_MEMORY]

    async def send(self, payload: bytes) -> None:
        """Send one length-prefixed frame."""
        await self._send.send(HEADER.pack(len(payload)) + payload)

    async def receive(self, limit: int) -> bytes:
        """Receive one frame of at most ``limit`` bytes, or raise ProtocolError."""
        (length,) = HEADER.unpack(await self._receive.receive_exactly(HEADER.size))
        if length > limit:
            raise ProtocolError(f"worker sent a {length}-byte frame")
        return await self._receive.receive_exactly(length)

    async def kill(self) -> int | None:
        """SIGKILL, then reap so no zombie is left; returns the exit status."""
        if self.process.returncode is None:
            self.process.kill()
        with anyio.CancelScope(shield=True):
            await self.process.aclose()
        return self.process.returncode

    async def reap(self, grace: float = 1.0) -> int | None:
        """Collect the status of a worker whose pipe closed, killing it only if it lingers."""
        # Killing first would race the loop's child watcher: Popen.kill() polls, and a poll
        # that reaps the dead child leaves the watcher reporting status 255 instead of the signal.
        with anyio.move_on_after(grace):
            await self.process.wait()
        return await self.kill()

    async def stop(self, grace: float) -> None:
        """Close the input (the worker exits at EOF); kill it if it lingers."""
        with anyio.move_on_after(grace):
            await self.process.aclose()
        await self.kill()


async def launch_worker(command: Sequence[str]) -> WorkerProcess:
    """Start a worker process with an empty environment; `ready()` waits for it to serve."""
    process = await anyio.open_process(
        list(command),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={},
    )
    return WorkerProcess(process)


def describe_exit(status: int | None) -> str:
    """A worker's exit status in words."""
    if status is None:
        return "worker exited"
    if status < 0:
        try:
            return f"worker killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"worker killed by signal {-status}"
    return f"worker exited with status {status}"
