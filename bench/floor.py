"""The framework's floor: a bare Starlette route on Hypercorn with symbox's settings.

``python -m bench.floor [--loop asyncio|uvloop]`` prints ``port N`` on stdout once it
listens on a loopback port, and serves until SIGTERM or SIGINT. It answers the two calls
of a bench.cycles cycle the way symbox does (a JSON body parsed, a JSON answer: 201 with a
``run_id`` for a request, 200 with ``status: escalated`` for an approval) and does nothing
else, so the same clients measure what Starlette and Hypercorn alone cost per call.
"""

from __future__ import annotations

import argparse
import signal
import sys
import uuid
from functools import partial
from typing import cast

import anyio
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.typing import ASGIFramework
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from symbox import loops
from symbox.app import bind_listener, http_config


async def request_access(request: Request) -> Response:
    """Parse the request's JSON body and answer like a request symbox accepted."""
    data = await request.json()
    body = {"run_id": str(uuid.uuid4()), "event_id": "x.1", "status": "requested"}
    body["flow"] = data.get("flow")
    return JSONResponse(body, status_code=201)


async def approve(request: Request) -> Response:
    """Parse the request's JSON body and answer like an approval that escalated."""
    data = await request.json()
    return JSONResponse({"id": data.get("run_id"), "status": "escalated"})


def floor_app() -> Starlette:
    """The bare application: two routes, no middleware."""
    return Starlette(
        routes=[
            Route("/api/v1/events/request", request_access, methods=["POST"]),
            Route("/api/v1/events/approve", approve, methods=["POST"]),
        ]
    )


async def serve() -> None:
    """Serve the floor on an ephemeral loopback port until a signal arrives."""
    listener = bind_listener("127.0.0.1", 0)
    port = listener.getsockname()[1]
    stop = anyio.Event()
    config = http_config(listener, shutdown_grace=1.0)
    app = cast("ASGIFramework", floor_app())
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with anyio.create_task_group() as group:
            group.start_soon(partial(hypercorn_serve, app, config, shutdown_trigger=stop.wait))
            print(f"port {port} loop {loops.running_loop()}", flush=True)
            async for _ in signals:
                break
            stop.set()


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(prog="python -m bench.floor")
    parser.add_argument("--loop", default=loops.ASYNCIO, choices=loops.CHOICES)
    args = parser.parse_args(argv)
    loops.run(serve, args.loop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
