"""A fake Slack on loopback: the Web API methods symbox calls and Socket Mode over a websocket.

It runs in its own thread with its own event loop (Starlette on Hypercorn), so the real
slack-sdk client in the code under test talks to it over real sockets. Tests deliver
envelopes (slash commands, interactions) and read back the acks and every API call.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
from collections.abc import Awaitable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

BOT_TOKEN = "xoxb-test-bot-token"
APP_TOKEN = "xapp-test-app-token"
T = TypeVar("T")
# Bound for anything a test waits on here; a healthy exchange takes milliseconds.
WAIT_LIMIT = 10.0


@dataclass(frozen=True)
class SlackUser:
    """A workspace member as users.info describes them."""

    id: str
    email: str
    name: str
    is_restricted: bool = False
    deleted: bool = False


@dataclass
class Call:
    """One Web API call: its method, merged arguments and bearer token."""

    method: str
    args: dict[str, Any]
    token: str
    # time.monotonic() when the call arrived.
    at: float = 0.0


@dataclass
class FakeSlackState:
    """Everything the fake saw, and how it should misbehave."""

    users: dict[str, SlackUser]
    # User groups by handle, with their members' ids.
    groups: dict[str, list[str]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    acks: dict[str, dict[str, Any]] = field(default_factory=dict)
    # time.monotonic() when each envelope was sent and when its ack arrived.
    sent_at: dict[str, float] = field(default_factory=dict)
    acked_at: dict[str, float] = field(default_factory=dict)
    # Methods that answer {"ok": false, "error": ...} instead of working.
    failing: dict[str, str] = field(default_factory=dict)
    # Seconds to wait before answering a method.
    slow: dict[str, float] = field(default_factory=dict)
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def called(self, method: str) -> list[Call]:
        """The calls made to ``method``, in order."""
        with self.lock:
            return [call for call in self.calls if call.method == method]


class FakeSlack:
    """Slack's Web API and Socket Mode for one workspace, on 127.0.0.1."""

    def __init__(self, users: list[SlackUser]) -> None:
        self.state = FakeSlackState({user.id: user for user in users})
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._shutdown = asyncio.Event()
        self._sockets: list[WebSocket] = []
        self._ids = itertools.count(1)
        self._ack_waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._connected = asyncio.Event()
        self.port = 0

    # Lifecycle

    def start(self) -> FakeSlack:
        """Start serving; returns once the port is bound."""
        self._thread.start()
        self._run(self._start())
        return self

    def stop(self) -> None:
        """Stop serving and end the thread."""
        self._run(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=WAIT_LIMIT)
        self._loop.close()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        """The Web API base URL to configure (``settings.base_url``)."""
        return f"http://127.0.0.1:{self.port}/api/"

    # What tests drive

    async def wait_connected(self) -> None:
        """Wait until a Socket Mode client has connected (and got its hello)."""
        await self._await(self._wait(self._connected.wait()))

    async def deliver(
        self, kind: str, payload: dict[str, Any], *, envelope_id: str | None = None
    ) -> str:
        """Send an envelope to every connected client; return its envelope id."""
        envelope_id = envelope_id or f"env-{next(self._ids)}"
        return await self._await(self._deliver(kind, payload, envelope_id))

    async def ack(self, envelope_id: str) -> dict[str, Any]:
        """Wait for the client's ack of ``envelope_id`` and return it."""
        return await self._await(self._wait(self._ack(envelope_id)))

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the clients to reconnect, as Slack does before rotating a connection."""
        self._connected.clear()
        await self._await(self._send_all({"type": "disconnect", "reason": reason}))

    async def drop(self) -> None:
        """Close every socket without warning, as a network failure would."""
        self._connected.clear()
        await self._await(self._drop())

    # Web API

    async def _api(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        args: dict[str, Any] = dict(request.query_params)
        body = await request.body()
        if body:
            if request.headers.get("content-type", "").startswith("application/json"):
                args.update(json.loads(body))
            else:
                args.update(parse_qsl(body.decode()))
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        with self.state.lock:
            self.state.calls.append(Call(method, args, token, time.monotonic()))
            failure = self.state.failing.get(method)
            delay = self.state.slow.get(method, 0.0)
        if delay:
            await asyncio.sleep(delay)
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if token != expected:
            return JSONResponse({"ok": False, "error": "invalid_auth"})
        if failure is not None:
            return JSONResponse({"ok": False, "error": failure})
        answer = self._answer(method, args)
        return JSONResponse(answer)

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        users = self.state.users
        if method == "apps.connections.open":
            return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}
        if method == "auth.test":
            return {"ok": True, "user_id": "UBOT", "team_id": "T1"}
        if method == "users.info":
            user = users.get(str(args.get("user")))
            if user is None:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": _user_json(user)}
        if method == "users.lookupByEmail":
            for user in users.values():
                if user.email == args.get("email") and not user.deleted:
                    return {"ok": True, "user": _user_json(user)}
            return {"ok": False, "error": "users_not_found"}
        if method == "usergroups.list":
            groups = [
                {"id": f"S{index}", "handle": handle, "name": handle.title(), "users": members}
                for index, (handle, members) in enumerate(sorted(self.state.groups.items()))
            ]
            return {"ok": True, "usergroups": groups}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(args.get("users"))}}
        if method in ("chat.postMessage", "chat.update"):
            ts = str(args.get("ts") or f"{1700000000 + next(self._ids)}.000100")
            return {"ok": True, "channel": args.get("channel"), "ts": ts}
        if method == "chat.getPermalink":
            link = (
                f"https://fake.slack.test/archives/{args.get('channel')}/p{args.get('message_ts')}"
            )
            return {"ok": True, "permalink": link}
        if method == "views.update":
            # Slack keeps a view's id when it is updated.
            return {"ok": True, "view": {"id": args.get("view_id") or f"V{next(self._ids)}"}}
        if method in ("chat.postEphemeral", "views.open", "views.push"):
            return {"ok": True, "message_ts": "1.0", "view": {"id": f"V{next(self._ids)}"}}
        return {"ok": False, "error": "unknown_method"}

    # Socket Mode

    async def _socket(self, websocket: WebSocket) -> None:
        await websocket.accept()
        self._sockets.append(websocket)
        with self.state.lock:
            self.state.connections += 1
        await websocket.send_text(
            json.dumps({"type": "hello", "num_connections": 1, "debug_info": {}})
        )
        self._connected.set()
        try:
            while True:
                message = json.loads(await websocket.receive_text())
                envelope_id = message.get("envelope_id")
                if isinstance(envelope_id, str):
                    with self.state.lock:
                        self.state.acks[envelope_id] = message
                        self.state.acked_at.setdefault(envelope_id, time.monotonic())
                    waiter = self._ack_waiters.get(envelope_id)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(message)
        except WebSocketDisconnect:
            pass
        finally:
            if websocket in self._sockets:
                self._sockets.remove(websocket)

    async def _deliver(self, kind: str, payload: dict[str, Any], envelope_id: str) -> str:
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        self._ack_waiters.setdefault(envelope_id, self._loop.create_future())
        with self.state.lock:
            self.state.sent_at.setdefault(envelope_id, time.monotonic())
        await self._send_all(envelope)
        return envelope_id

    async def _ack(self, envelope_id: str) -> dict[str, Any]:
        waiter = self._ack_waiters.setdefault(envelope_id, self._loop.create_future())
        return await waiter

    async def _send_all(self, message: dict[str, Any]) -> None:
        for websocket in list(self._sockets):
            await websocket.send_text(json.dumps(message))

    async def _drop(self) -> None:
        for websocket in list(self._sockets):
            await websocket.close()
        self._sockets.clear()

    # Plumbing

    async def _start(self) -> None:
        app = Starlette(
            routes=[
                Route("/api/{method}", self._api, methods=["GET", "POST"]),
                WebSocketRoute("/socket", self._socket),
            ]
        )
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        config = HypercornConfig()
        config.bind = [f"fd://{listener.detach()}"]
        config.accesslog = None
        config.errorlog = None
        self._server = self._loop.create_task(
            serve(app, config, shutdown_trigger=self._shutdown.wait)  # type: ignore[arg-type]
        )

    async def _stop(self) -> None:
        await self._drop()
        self._shutdown.set()
        await self._server

    async def _wait(self, awaitable: Awaitable[T]) -> T:
        return await asyncio.wait_for(awaitable, WAIT_LIMIT)

    def _run(self, coroutine: Awaitable[T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(_coro(coroutine), self._loop)
        return future.result(WAIT_LIMIT)

    async def _await(self, coroutine: Awaitable[T]) -> T:
        future = asyncio.run_coroutine_threadsafe(_coro(coroutine), self._loop)
        return await asyncio.wrap_future(future)


async def _coro(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _user_json(user: SlackUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "deleted": user.deleted,
        "is_restricted": user.is_restricted,
        "is_bot": False,
        "profile": {"email": user.email, "real_name": user.name},
    }
