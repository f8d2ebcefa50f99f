"""The lifecycle every fake HTTP service in the tests shares: a threaded server on loopback."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self


class Served:
    """A fake service that ``with`` starts and stops (subclasses define both)."""

    def start(self) -> Self:
        """Start serving."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop serving."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    # A real receiver's listen backlog, not socketserver's 5: symbox makes up to its
    # timer's concurrency of revoke calls at once, and a full backlog resets connections.
    request_queue_size = 128


class LoopbackHttp(Served):
    """A ThreadingHTTPServer on 127.0.0.1 (a port the system picks), served from a thread.

    Subclasses build their request handler and pass it up; ``with`` starts and stops it.
    """

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._release = threading.Event()
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        # A short poll interval keeps shutdown (which waits for the next poll) fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        # Wake any handler told to hold its answer, so it ends before the socket closes.
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
