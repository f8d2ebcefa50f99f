"""The Starlette application: routes of the Events API, health, metrics and OpenAPI."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from symbox.api.access_log import AccessLog
from symbox.api.auth import TokenAuth
from symbox.api.errors import ApiError, error_response, from_exception
from symbox.api.openapi import openapi_document
from symbox.api.views import event_view, flow_view, run_view
from symbox.engine.model import Actor, Run, RunStatus
from symbox.errors import HiddenRun, NotFound
from symbox.runs.extensions import extension_seconds, waiting
from symbox.runs.service import RunService
from symbox.store.reader import Reader

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
# Oversized bodies are read and dropped up to this size so the client gets the 413.
MAX_DRAIN = 1024 * 1024
MAX_PAGE = 500
CHANNEL = "api"
# The event actions, POST /api/v1/events/ACTION.
ACTIONS = frozenset({"request", "approve", "deny", "deescalate", "extend", "withdraw"})
# A request's context is kept with its run and shown to hooks: bounded like a field.
MAX_CONTEXT = 16 * 1024

Handler = Callable[[Request], Awaitable[Response]]


async def read_json(request: Request) -> dict[str, Any]:
    """Return the request's JSON object body, enforcing the size limit."""
    too_large = ApiError(413, "body_too_large", f"request bodies are limited to {MAX_BODY} bytes")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_DRAIN:
        raise too_large
    body = bytearray()
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > MAX_DRAIN:
            raise too_large
        if received <= MAX_BODY:
            body.extend(chunk)
    if received > MAX_BODY:
        # Read to the end first: a client still sending would otherwise see a reset
        # connection instead of this answer.
        raise too_large
    try:
        data = json.loads(body)
        # Lone surrogates ("\ud800", or raw ones json lets through) parse, but no UTF-8
        # store or digest can take them. Plain ASCII UTF-8 without escapes cannot hold one
        # (UTF-16 and UTF-32 bodies, which json also reads, have NUL bytes).
        if not body.isascii() or b"\\u" in body or b"\x00" in body:
            json.dumps(data, ensure_ascii=False).encode()
    except (ValueError, RecursionError) as error:
        # ValueError covers bad UTF-8, bad JSON, surrogates and over-long integers.
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {reason}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_json", "the body must be a JSON object")
    return data


def _string(data: dict[str, Any], key: str, *, required: bool) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise ApiError(400, "missing_field", f"{key}: required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "invalid_field", f"{key}: expected a non-empty string")
    return value


def _break_glass_reason(data: dict[str, Any], inputs: dict[str, Any]) -> str | None:
    """The reason of a break-glass request (``reason``, else the form's), or None if not one."""
    flag = data.get("break_glass", False)
    if not isinstance(flag, bool):
        raise ApiError(400, "invalid_field", "break_glass: expected true or false")
    if not flag:
        return None
    reason = data.get("reason", inputs.get("reason"))
    # Too short (or missing) is for the flow's reason_min_length to say.
    return reason if isinstance(reason, str) else ""


def flow_name(data: dict[str, Any]) -> str:
    """The flow named by ``flow``, or by Sym's ``flow_srn`` (``org:flow:NAME:version``)."""
    name = _string(data, "flow", required=False)
    if name is not None:
        return name
    srn = _string(data, "flow_srn", required=False)
    if srn is None:
        raise ApiError(400, "missing_field", "flow: required (or flow_srn)")
    parts = srn.split(":")
    return parts[2] if len(parts) >= 3 and parts[1] == "flow" else srn


class EventsApi:
    """The handlers; each is a thin adapter from HTTP to the run service."""

    def __init__(
        self,
        service: RunService,
        reader: Reader,
        auth: TokenAuth,
        metrics_text: Callable[[], Awaitable[str]],
    ) -> None:
        self._service = service
        self._reader = reader
        self._auth = auth
        self._metrics_text = metrics_text

    async def healthz(self, request: Request) -> Response:
        """Liveness: no auth, no store access."""
        return JSONResponse({"status": "ok"})

    async def metrics(self, request: Request) -> Response:
        """Prometheus text."""
        return PlainTextResponse(await self._metrics_text(), media_type="text/plain; version=0.0.4")

    async def openapi(self, request: Request) -> Response:
        """The OpenAPI document of this API."""
        return JSONResponse(openapi_document())

    async def request_access(self, request: Request) -> Response:
        """POST /api/v1/events/request."""
        actor = await self._auth.actor(request)
        data = await read_json(request)
        inputs = data.get("flow_inputs", {})
        if not isinstance(inputs, dict):
            raise ApiError(400, "invalid_field", "flow_inputs: expected an object")
        context = data.get("context", {})
        if not isinstance(context, dict):
            raise ApiError(400, "invalid_field", "context: expected an object")
        if len(json.dumps(context, separators=(",", ":"))) > MAX_CONTEXT:
            raise ApiError(400, "invalid_field", f"context: at most {MAX_CONTEXT} bytes of JSON")
        glass = _break_glass_reason(data, inputs)
        if glass and "reason" not in inputs:
            # The form's own reason field says the same: asking for it twice helps nobody.
            inputs = {**inputs, "reason": glass}
        run = await self._service.request(
            actor=actor,
            flow_name=flow_name(data),
            requester=_string(data, "user_email", required=False),
            inputs=inputs,
            channel=CHANNEL,
            context=context,
            break_glass=glass,
        )
        body = {"run_id": run.id, "event_id": f"{run.id}.1", "status": run.status.value}
        return JSONResponse(body, status_code=201)

    async def approve(self, request: Request) -> Response:
        """POST /api/v1/events/approve."""
        return await self._decide(request, approve=True)

    async def deny(self, request: Request) -> Response:
        """POST /api/v1/events/deny."""
        return await self._decide(request, approve=False)

    async def _decide(self, request: Request, *, approve: bool) -> Response:
        actor = await self._auth.actor(request)
        data = await read_json(request)
        run = await self._service.decide(
            actor=actor,
            run_id=_string(data, "run_id", required=True) or "",
            approve=approve,
            reason=_string(data, "reason", required=False),
            channel=CHANNEL,
        )
        return JSONResponse(run_view(run))

    async def deescalate(self, request: Request) -> Response:
        """POST /api/v1/events/deescalate."""
        return await self._end(request, self._service.revoke)

    async def withdraw(self, request: Request) -> Response:
        """POST /api/v1/events/withdraw: the requester takes back an undecided request."""
        return await self._end(request, self._service.withdraw)

    async def _end(self, request: Request, step: Callable[..., Awaitable[Run]]) -> Response:
        actor = await self._auth.actor(request)
        data = await read_json(request)
        run = await step(
            actor=actor,
            run_id=_string(data, "run_id", required=True) or "",
            reason=_string(data, "reason", required=False),
            channel=CHANNEL,
        )
        return JSONResponse(run_view(run))

    async def whoami(self, request: Request) -> Response:
        """GET /api/v1/whoami: who the token acts as."""
        actor = await self._auth.actor(request)
        return JSONResponse(actor.as_dict())

    async def extend(self, request: Request) -> Response:
        """POST /api/v1/events/extend: more time on an escalated run, as its requester."""
        actor = await self._auth.actor(request)
        data = await read_json(request)
        run_id = _string(data, "run_id", required=True) or ""
        if data.get("duration") is None:
            raise ApiError(400, "missing_field", "duration: required")
        run = await self._service.extensions.extend(
            actor=actor,
            run_id=run_id,
            duration=extension_seconds(data["duration"]),
            reason=_string(data, "reason", required=False),
            channel=CHANNEL,
        )
        return JSONResponse(run_view(run))

    async def review(self, request: Request) -> Response:
        """POST /api/v1/events/review: an approver reviews a break-glass run after the fact."""
        actor = await self._auth.actor(request)
        data = await read_json(request)
        run = await self._service.break_glass.review(
            actor=actor,
            run_id=_string(data, "run_id", required=True) or "",
            reason=_string(data, "reason", required=False),
            channel=CHANNEL,
        )
        return JSONResponse(run_view(run))

    async def list_flows(self, request: Request) -> Response:
        """GET /api/v1/flows: the flows a token may request through the API."""
        await self._auth.actor(request)
        flows = [flow_view(flow, targets) for flow, targets in self._service.requestable_flows()]
        return JSONResponse({"flows": flows})

    async def get_run(self, request: Request) -> Response:
        """GET /api/v1/runs/{run_id}."""
        actor = await self._auth.actor(request)
        run = await self._service.view_run(request.path_params["run_id"], actor)
        return JSONResponse(run_view(run, await self._reader.run_events(run.id)))

    async def list_runs(self, request: Request) -> Response:
        """GET /api/v1/runs?status=&flow=&mine=&all=&decidable=&limit=&cursor=."""
        actor = await self._auth.actor(request)
        query = request.query_params
        limit_text = query.get("limit", "50")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE:
            raise ApiError(400, "invalid_query", f"limit: expected 1 to {MAX_PAGE}")
        limit = int(limit_text)
        visible_to = self._service.visibility(actor)
        if _flag(query.get("decidable")):
            return JSONResponse({"runs": await self._decidable(actor, limit), "next_cursor": None})
        if _flag(query.get("all")) and visible_to is not None:
            raise ApiError(403, "forbidden", f"{actor} may not list every run")
        requester = None
        if _flag(query.get("mine")):
            if actor.kind != "user":
                raise ApiError(400, "invalid_query", "mine: only a user token has runs of its own")
            requester = actor.id
        runs = await self._reader.list_runs(
            status=query.get("status"),
            flow=query.get("flow"),
            limit=limit,
            after=_cursor(query.get("cursor")),
            visible_to=visible_to,
            requester=requester,
        )
        next_cursor = None
        if len(runs) == limit:
            last = runs[-1]
            next_cursor = f"{last.created_at!r}/{last.id}"
        return JSONResponse({"runs": [run_view(run) for run in runs], "next_cursor": next_cursor})

    async def _decidable(self, actor: Actor, limit: int) -> list[dict[str, Any]]:
        """The newest requests and extensions ``actor`` may approve or deny now, to ``limit``."""
        # Who may decide can depend on a get_permissions hook, so it is asked per run,
        # over the newest page of each kind rather than in SQL.
        requested = await self._reader.list_runs(status=RunStatus.REQUESTED.value, limit=MAX_PAGE)
        escalated = await self._reader.list_runs(status=RunStatus.ESCALATED.value, limit=MAX_PAGE)
        pending = sorted(
            [*requested, *filter(waiting, escalated)],
            key=lambda run: (run.created_at, run.id),
            reverse=True,
        )
        found = []
        for run in pending:
            if await self._service.may_decide_now(run, actor):
                found.append(run_view(run))
                if len(found) == limit:
                    break
        return found

    async def get_event(self, request: Request) -> Response:
        """GET /api/v1/events/{event_id}."""
        event_id = request.path_params["event_id"]
        if event_id in ACTIONS:
            # GET /api/v1/events/approve is a wrong method, not an unknown event.
            raise ApiError(
                405,
                "method_not_allowed",
                f"/api/v1/events/{event_id} takes POST",
                headers={"Allow": "POST"},
            )
        actor = await self._auth.actor(request)
        event = await self._reader.get_event(event_id)
        if event is None:
            raise ApiError(404, "not_found", f"no event {event_id!r}")
        try:
            await self._service.view_run(str(event["run_id"]), actor)
        except NotFound:
            raise ApiError(404, "not_found", f"no event {event_id!r}") from None
        return JSONResponse(event_view(event))


def _flag(value: str | None) -> bool:
    """A boolean query parameter: ``true``/``1`` (or ``false``/``0``, or absent)."""
    if value is None or value.lower() in ("false", "0", ""):
        return False
    if value.lower() in ("true", "1"):
        return True
    raise ApiError(400, "invalid_query", f"expected true or false, not {value!r}")


def _cursor(cursor: str | None) -> tuple[float, str] | None:
    """The (created_at, id) a ``next_cursor`` this API returned stands for."""
    if not cursor:
        return None
    at, _, run_id = cursor.partition("/")
    try:
        return float(at), run_id
    except ValueError:
        raise ApiError(400, "invalid_query", "cursor: not a cursor this API returned") from None


def _json_errors(handler: Handler, auth: TokenAuth) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except Exception as error:
            api_error = from_exception(error)
            if api_error is None:
                raise
            if api_error.status_code == 403:
                await auth.forbidden(request, api_error.message)
            elif isinstance(error, HiddenRun):
                await auth.hidden(request, api_error.message)
            return error_response(
                api_error.status_code,
                api_error.code,
                api_error.message,
                api_error.headers,
                api_error.extra,
            )

    return wrapped


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, "http_error", str(exc.detail), exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled API error", exc_info=exc)
    return error_response(500, "internal_error", "symbox hit an unexpected error; see its log")


def build_api(
    service: RunService, reader: Reader, auth: TokenAuth, metrics_text: Callable[[], Awaitable[str]]
) -> Starlette:
    """Return the ASGI application."""
    api = EventsApi(service, reader, auth, metrics_text)

    def route(path: str, handler: Handler, method: str) -> Route:
        return Route(path, _json_errors(handler, auth), methods=[method])

    routes = [
        route("/healthz", api.healthz, "GET"),
        route("/metrics", api.metrics, "GET"),
        route("/openapi.json", api.openapi, "GET"),
        route("/api/v1/events/request", api.request_access, "POST"),
        route("/api/v1/events/approve", api.approve, "POST"),
        route("/api/v1/events/deny", api.deny, "POST"),
        route("/api/v1/events/deescalate", api.deescalate, "POST"),
        route("/api/v1/events/withdraw", api.withdraw, "POST"),
        route("/api/v1/whoami", api.whoami, "GET"),
        route("/api/v1/events/extend", api.extend, "POST"),
        route("/api/v1/events/review", api.review, "POST"),
        route("/api/v1/flows", api.list_flows, "GET"),
        route("/api/v1/runs", api.list_runs, "GET"),
        route("/api/v1/runs/{run_id}", api.get_run, "GET"),
        route("/api/v1/events/{event_id}", api.get_event, "GET"),
    ]
    return Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_exception, Exception: _server_error},
        middleware=[Middleware(AccessLog)],
    )
