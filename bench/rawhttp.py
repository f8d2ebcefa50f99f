"""A minimal HTTP/1.1 keep-alive client: cheap enough that the load generator is not the limit.

httpx costs the client about as much CPU per request as symbox spends serving it, and on a
2-core machine the two then compete for the cores being measured. Hypercorn closes a
keep-alive connection after 1,000 requests (it answers the last with ``Connection: close``),
so the client connects again whenever the server says so.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
from anyio.abc import SocketStream


class RawHttp:
    """One keep-alive connection at a time that POSTs JSON and reads Content-Length answers."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._stream: SocketStream | None = None
        self._buffer = b""
        # Connections opened after the first, because the server closed the one before.
        self.reconnects = 0

    async def __aenter__(self) -> RawHttp:
        self._stream = await anyio.connect_tcp(self._host, self._port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._close()

    async def _close(self) -> None:
        stream, self._stream = self._stream, None
        self._buffer = b""
        if stream is not None:
            await stream.aclose()

    async def post(self, path: str, body: Any, token: str) -> tuple[int, Any]:
        """POST ``body`` as JSON; return the status and the decoded JSON answer."""
        if self._stream is None:
            self.reconnects += 1
            self._stream = await anyio.connect_tcp(self._host, self._port)
        stream = self._stream
        payload = json.dumps(body).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode()
        await stream.send(head + payload)
        while b"\r\n\r\n" not in self._buffer:
            self._buffer += await stream.receive()
        header, _, rest = self._buffer.partition(b"\r\n\r\n")
        lines = header.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        while len(rest) < length:
            rest += await stream.receive()
        self._buffer = rest[length:]
        answer = json.loads(rest[:length])
        if close:
            await self._close()
        return status, answer
