"""A minimal HTTP/1.1 keep-alive client: cheap enough that the load generator is not the limit.

httpx costs the client about as much CPU per request as symbox spends serving it, and on a
2-core machine the two then compete for the cores being measured.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
from anyio.abc import SocketStream


class RawHttp:
    """One keep-alive connection that POSTs JSON and reads Content-Length responses."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._stream: SocketStream | None = None
        self._buffer = b""

    async def __aenter__(self) -> RawHttp:
        self._stream = await anyio.connect_tcp(self._host, self._port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._stream is not None:
            await self._stream.aclose()

    async def post(self, path: str, body: Any, token: str) -> tuple[int, Any]:
        """POST ``body`` as JSON; return the status and the decoded JSON answer."""
        assert self._stream is not None
        payload = json.dumps(body).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode()
        await self._stream.send(head + payload)
        while b"\r\n\r\n" not in self._buffer:
            self._buffer += await self._stream.receive()
        header, _, rest = self._buffer.partition(b"\r\n\r\n")
        lines = header.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            rest += await self._stream.receive()
        self._buffer = rest[length:]
        return status, json.loads(rest[:length])
