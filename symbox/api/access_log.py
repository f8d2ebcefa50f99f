"""One log line per API call: method, path, status, duration, actor and run; never tokens."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from symbox import logs

log = logging.getLogger("symbox.api")


class AccessLog:
    """ASGI middleware: logs each HTTP call when its response has started.

    The handler adds the actor and the run it acted on with ``logs.note`` (the fields
    reach every line logged during the call, too). Query strings and headers are never
    logged: a misplaced token could be in either.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the call inside its log context, then log it."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        with logs.bound(method=scope["method"], path=scope["path"]):
            try:
                await self._app(scope, receive, sending)
            finally:
                duration = round((time.perf_counter() - started) * 1000, 2)
                level = logging.WARNING if status >= 500 else logging.INFO
                log.log(level, "api call", extra={"status": status, "duration_ms": duration})
