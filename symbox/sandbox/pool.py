"""A pool of hook worker processes, driven from the event loop without blocking it.

Workers are bound to a scope: the credentials and hosts code may reach (a flow's
environment, or a custom strategy's integration). A worker that has run code of one scope
never runs code of another, so nothing a call leaves behind (objects, generators, cycles)
can act with another scope's secrets; a fresh spare worker is kept ready so a call of a
new scope does not wait for a process to start.
"""

from __future__ import annotations

import itertools
import logging
import pickle
import secrets
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

import anyio

from symbox.sandbox.admission import Admission, ThrottlePolicy
from symbox.sandbox.errors import HookCrashed, HookTimeout
from symbox.sandbox.frames import answer_call, decode_reply, error_answer, load_frame
from symbox.sandbox.integrations.base import IntegrationProvider
from symbox.sandbox.process import ProtocolError, WorkerProcess, describe_exit, launch_worker
from symbox.sandbox.sdk.integrations import (
    CALL_ID_KEY,
    CALL_KEY,
    DEFAULT_MAX_CALLS,
)
from symbox.sandbox.sdk.strategies import STRATEGY_KEY
from symbox.sandbox.worker import (
    DEFAULT_MAX_REPLY,
    DEFAULT_MEMORY_LIMIT,
    FRAME_SLACK,
    WORKER_ARGUMENT,
)

log = logging.getLogger(__name__)


def default_command() -> tuple[str, ...]:
    """How to start a worker: the frozen executable runs itself with the worker argument."""
    if getattr(sys, "frozen", False):
        # Isolated like `-I`: a frozen interpreter reads no PYTHON* variables, no site
        # folders and not the working folder, and the worker's environment is empty anyway.
        return (sys.executable, WORKER_ARGUMENT)
    return (sys.executable, "-I", "-m", "symbox.sandbox.worker")


DEFAULT_COMMAND: tuple[str, ...] = default_command()
# The scope of calls that name none (custom strategies' host-side integrations, tests).
DEFAULT_SCOPE = "default"


@dataclass(frozen=True)
class HookIncident:
    """A worker broke the protocol or died: whose code may have caused it, whom it hit."""

    scope: str
    # Owners whose code ran on the worker before the call that met the failure (empty: it
    # had run none, as a spare that died); the call's own owner first when it is suspect.
    suspects: tuple[str, ...]
    victim: str
    reason: str
    # Whether the victim's call was run again on a fresh worker.
    retried: bool


class PoolReporter(Protocol):
    """Where the pool reports what an operator must hear about (log, audit, metrics)."""

    async def misbehaved(self, incident: HookIncident) -> None:
        """A worker was replaced after a protocol failure or a crash."""
        ...

    async def throttled(self, owner: str, scope: str) -> None:
        """``owner`` keeps timing out and now runs one call at a time."""
        ...


class _Unavailable(Exception):
    """No worker can serve the call: the pool closed, or workers fail to start."""


class HookPool:
    """Hook worker processes bound to scopes; `call` runs one hook function in one of them.

    At most ``size`` calls run at once, at most ``share`` of them for one scope (so other
    scopes always find a worker), and an owner that keeps timing out runs one at a time.
    The time a call waits for a worker counts against its timeout.
    """

    def __init__(
        self,
        size: int = 4,
        *,
        command: Sequence[str] = DEFAULT_COMMAND,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        max_reply: int = DEFAULT_MAX_REPLY,
        default_timeout: float = 2.0,
        startup_timeout: float = 20.0,
        stop_grace: float = 2.0,
        integrations: IntegrationProvider | None = None,
        max_integration_calls: int = DEFAULT_MAX_CALLS,
        share: int | None = None,
        spares: int = 1,
        prestart: int = 2,
        max_workers: int = 8,
        throttle: ThrottlePolicy | None = None,
        reporter: PoolReporter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if size < 1:
            raise ValueError("a hook pool needs at least one worker")
        self._command = [
            *command,
            "--memory-limit",
            str(memory_limit),
            "--max-reply",
            str(max_reply),
        ]
        self._max_reply = max_reply
        self._default_timeout = default_timeout
        self._startup_timeout = startup_timeout
        self._stop_grace = stop_grace
        self._integrations = integrations
        self._max_integration_calls = max_integration_calls
        self._admission = Admission(size, share or max(1, size // 2), throttle)
        self._spares = max(1, spares)
        self._prestart = max(1, min(prestart, size))
        # Live processes are kept to this many (a worker is about 20 MB); idle workers of
        # the least recently used scopes make room, so a few scopes each keep a warm one.
        self._budget = max(max_workers, size + self._spares)
        self._reporter = reporter
        self._clock = clock
        self._workers: set[WorkerProcess] = set()
        self._idle: dict[str, list[WorkerProcess]] = {}
        self._fresh: list[WorkerProcess] = []
        # Idle workers in the order they became idle (a counter: the clock may stand still).
        self._idle_since: dict[WorkerProcess, int] = {}
        self._ticks = itertools.count()
        self._changed = anyio.Event()
        self._started = False
        self._closed = False
        # Workers launched before the pool is entered, their interpreters still starting.
        self._launched: list[WorkerProcess] = []

    async def launch(self) -> None:
        """Start the first workers' processes without waiting for them to be ready.

        A worker's interpreter start is most of symbox's start-up time; launched early, it
        runs while the caller opens the store. ``async with`` then waits for them (and
        ``aclose`` stops them if the pool is never entered).
        """
        while len(self._launched) < self._prestart:
            self._launched.append(await self._start())

    async def __aenter__(self) -> HookPool:
        self._started = True
        try:
            # Side by side: a worker's interpreter start is most of symbox's start-up time.
            started: list[WorkerProcess] = []
            failures: list[Exception] = []
            launched, self._launched = self._launched, []

            async def spawn() -> None:
                try:
                    worker = launched.pop() if launched else await self._start()
                    await worker.ready(self._startup_timeout)
                    started.append(worker)
                except Exception as exc:
                    failures.append(exc)

            async with anyio.create_task_group() as group:
                for _ in range(self._prestart):
                    group.start_soon(spawn)
            self._fresh.extend(started)
            if failures:
                raise failures[0]
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def pids(self) -> tuple[int, ...]:
        """Process ids of the live workers (for metrics and tests)."""
        return tuple(w.process.pid for w in self._workers if w.process.returncode is None)

    def scopes(self) -> dict[int, str | None]:
        """The scope each live worker is bound to, by process id (None: not yet bound)."""
        return {w.process.pid: w.scope for w in self._workers if w.process.returncode is None}

    async def aclose(self) -> None:
        """Stop every worker and reap it."""
        with anyio.CancelScope(shield=True):
            self._closed = True
            self._notify()
            idle = {*self._fresh, *(w for ws in self._idle.values() for w in ws)}
            async with anyio.create_task_group() as group:
                for worker in list(self._workers):
                    if worker in idle:
                        group.start_soon(worker.stop, self._stop_grace)
                    else:
                        group.start_soon(worker.kill)
            self._workers.clear()
            self._idle.clear()
            self._fresh.clear()
            self._launched.clear()
            self._idle_since.clear()

    async def call(
        self,
        source: str,
        filename: str,
        function: str,
        args: Sequence[Any] = (),
        # A parameter, not the caller's cancel scope: expiry must kill the worker and name the hook.
        timeout: float | None = None,  # noqa: ASYNC109
        *,
        wrap_event: bool = False,
        wrap_form: bool = False,
        integrations: IntegrationProvider | None = None,
        scope: str = DEFAULT_SCOPE,
        owner: str | None = None,
    ) -> Any:
        """Run `function(*args)` of `source` (args[0] as `event` if `wrap_event`); plain result.

        With `wrap_form`, `args` are `(username, form)` and the form is a `SymPromptForm`.

        `integrations` answers this call's integration calls instead of the pool's provider;
        `scope` names what it may reach (workers never cross scopes); `owner` (default: the
        file) is whose code it is, for throttling and incident reports.
        """
        request = {
            "source": source,
            "filename": filename,
            "function": function,
            "args": list(args),
            "event": wrap_event,
            "form": wrap_form,
        }
        return await self._run(
            request, filename, function, timeout, integrations, scope, owner or filename
        )

    async def call_strategy(
        self,
        source: str,
        filename: str,
        spec: Mapping[str, Any],
        timeout: float | None = None,  # noqa: ASYNC109
        *,
        integrations: IntegrationProvider | None = None,
        scope: str = DEFAULT_SCOPE,
        owner: str | None = None,
    ) -> Any:
        """Call one method of the module's AccessStrategy subclass (see sdk.strategies)."""
        method = str(spec.get("method"))
        request: dict[str, Any] = {"source": source, "filename": filename, "function": method}
        request[STRATEGY_KEY] = dict(spec)
        return await self._run(
            request, filename, method, timeout, integrations, scope, owner or filename
        )

    async def _run(
        self,
        request: dict[str, Any],
        filename: str,
        function: str,
        timeout: float | None,  # noqa: ASYNC109
        integrations: IntegrationProvider | None,
        scope: str,
        owner: str,
    ) -> Any:
        if not self._started:
            raise RuntimeError("use `async with HookPool(...)` before calling hooks")
        limit = self._default_timeout if timeout is None else timeout
        request["max_integration_calls"] = self._max_integration_calls
        deadline = anyio.current_time() + limit
        waited = HookTimeout(f"{function} waited {limit:g} s for a hook worker", file=filename)
        try:
            with anyio.fail_at(deadline):
                await self._admit(scope, owner)
        except TimeoutError:
            raise waited from None
        except _Unavailable as exc:
            raise HookCrashed(f"{function}: {exc}", file=filename) from None
        try:
            try:
                with anyio.fail_at(deadline):
                    worker = await self._take(scope)
            except TimeoutError:
                raise waited from None
            except _Unavailable as exc:
                raise HookCrashed(f"{function}: {exc}", file=filename) from None
            call = _Call(request, filename, function, limit, deadline, scope, owner)
            provider = self._integrations if integrations is None else integrations
            return await self._attempt(call, worker, provider)
        finally:
            self._admission.release(scope, owner)
            self._notify()

    async def _attempt(
        self, call: _Call, worker: WorkerProcess, provider: IntegrationProvider | None
    ) -> Any:
        """Run the call; once more on a fresh worker if a used one failed under it."""
        first: _Failure | None = None
        while True:
            others = tuple(owner for owner in worker.served if owner != call.owner)
            worker.serving(call.owner)
            progress = _Progress()
            try:
                with anyio.fail_at(call.deadline):
                    reply = await self._converse(worker, call, provider, progress)
            except TimeoutError:
                await self._discard(worker)
                if first is not None:
                    await self._report(first.incident(call, retried=True))
                await self._timed_out(call)
                raise HookTimeout(
                    f"{call.function} ran longer than {call.limit:g} s", file=call.filename
                ) from None
            except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError):
                reason = describe_exit(await worker.reap())
            except ProtocolError as exc:
                reason = str(exc)
            except BaseException:
                # Cancelled mid-call: the worker may still be running the hook, so never reuse it.
                await self._discard(worker)
                raise
            else:
                await self._keep(worker)
                if first is not None:
                    await self._report(first.incident(call, retried=True))
                return decode_reply(reply)
            await self._discard(worker)
            failure = HookCrashed(f"{call.function}: {reason}", file=call.filename)
            # Code another owner left on a used worker may have broken it (or a spare died
            # waiting): the call runs again on a worker that carries nothing, but only if
            # nothing of it has gone out yet, so no side effect happens twice.
            if first is None and progress.answered == 0:
                first = _Failure(reason, others)
                try:
                    with anyio.fail_at(call.deadline):
                        worker = await self._fresh_for(call.scope)
                except (TimeoutError, _Unavailable):
                    await self._report(first.incident(call, retried=False))
                    raise failure from None
                continue
            # On a fresh worker, or with calls already answered, the call's own owner is
            # the first suspect; others that ran before it may have left something.
            suspects = (call.owner,) if first is not None else (call.owner, *others)
            blamed = _Failure(reason, suspects)
            await self._report(blamed.incident(call, retried=first is not None))
            raise failure

    async def _admit(self, scope: str, owner: str) -> None:
        while not self._admission.admit(scope, owner, self._clock()):
            if self._closed:
                raise _Unavailable("the hook pool is closed")
            await self._changed.wait()

    async def _take(self, scope: str) -> WorkerProcess:
        """An idle worker of ``scope``, else a fresh one bound to it."""
        idle = self._idle.get(scope)
        if idle:
            worker = idle.pop()
            if not idle:
                del self._idle[scope]
            # Busy from now on: never a candidate for _trim.
            self._idle_since.pop(worker, None)
            return worker
        return await self._fresh_for(scope)

    async def _fresh_for(self, scope: str) -> WorkerProcess:
        """A worker that has never run code, bound to ``scope`` from now on."""
        for _ in range(2):
            if self._closed:
                raise _Unavailable("the hook pool is closed")
            worker = self._fresh.pop(0) if self._fresh else await self._start()
            try:
                await worker.ready(self._startup_timeout)
            except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError) as exc:
                # A spare that died while it waited (or never came up): start another.
                self._forget(worker)
                failure: Exception = exc
                continue
            except ProtocolError as exc:
                self._forget(worker)
                failure = exc
                continue
            except BaseException:
                self._forget(worker)
                raise
            worker.scope = scope
            # Shielded: a cancellation here would lose the worker just taken.
            with anyio.CancelScope(shield=True):
                await self._replenish()
            return worker
        raise _Unavailable(f"no hook worker could be started ({type(failure).__name__})")

    async def _keep(self, worker: WorkerProcess) -> None:
        """Return a worker that finished a call cleanly to its scope's idle list."""
        if self._closed or worker.scope is None:
            self._forget(worker)
            await worker.kill()
            return
        self._idle_since[worker] = next(self._ticks)
        self._idle.setdefault(worker.scope, []).append(worker)

    async def _discard(self, worker: WorkerProcess) -> None:
        """Kill a worker whose state is unknown; a spare takes its place."""
        with anyio.CancelScope(shield=True):
            self._forget(worker)
            await worker.kill()
            await self._replenish()

    def _forget(self, worker: WorkerProcess) -> None:
        self._workers.discard(worker)
        self._idle_since.pop(worker, None)

    async def _trim(self) -> None:
        """Stop the least recently used idle workers while there are too many processes."""
        while len(self._workers) > self._budget and self._idle_since:
            oldest = min(self._idle_since, key=self._idle_since.__getitem__)
            scope = oldest.scope or DEFAULT_SCOPE
            idle = self._idle[scope]
            idle.remove(oldest)
            if not idle:
                del self._idle[scope]
            self._forget(oldest)
            await oldest.kill()

    async def _replenish(self) -> None:
        """Launch spares until ``spares`` fresh workers exist.

        Only the process is started here (a few milliseconds); its interpreter comes up
        while calls go on, and whoever takes the spare waits for its ready frame then.
        """
        while not self._closed and len(self._fresh) < self._spares:
            try:
                worker = await self._start()
            except Exception as exc:
                # The next call that needs a worker starts one itself and surfaces the error.
                log.warning("a spare hook worker failed to start", extra={"error": repr(exc)})
                return
            self._fresh.append(worker)

    async def _start(self) -> WorkerProcess:
        worker = await launch_worker(self._command)
        self._workers.add(worker)
        await self._trim()
        return worker

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def _timed_out(self, call: _Call) -> None:
        if not self._admission.timed_out(call.owner, self._clock()):
            return
        log.error(
            "hooks keep timing out; running them one at a time",
            extra={"owner": call.owner, "scope": call.scope},
        )
        if self._reporter is not None:
            with anyio.CancelScope(shield=True):
                await self._reporter.throttled(call.owner, call.scope)

    async def _report(self, incident: HookIncident) -> None:
        log.error(
            "hook worker misbehaved and was replaced",
            extra={
                "scope": incident.scope,
                "suspects": list(incident.suspects),
                "victim": incident.victim,
                "reason": incident.reason,
                "retried": incident.retried,
            },
        )
        if self._reporter is not None:
            with anyio.CancelScope(shield=True):
                await self._reporter.misbehaved(incident)

    async def _converse(
        self,
        worker: WorkerProcess,
        call: _Call,
        provider: IntegrationProvider | None,
        progress: _Progress,
    ) -> dict[str, Any]:
        """Send the call and answer its integration calls until the worker's final reply."""
        call_id = secrets.token_hex(16)
        request = {**call.request, CALL_ID_KEY: call_id}
        await worker.send(pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL))
        while True:
            message = load_frame(await worker.receive(self._max_reply + FRAME_SLACK))
            if not isinstance(message, dict):
                raise ProtocolError("worker sent a frame that is not a dict")
            if message.get(CALL_ID_KEY) != call_id:
                raise ProtocolError("worker sent a frame outside its call")
            asked = message.get(CALL_KEY)
            if asked is None:
                return message
            progress.answered += 1
            # Enforced here as well: the worker's own count runs beside hook code.
            if progress.answered > self._max_integration_calls:
                answer = error_answer(
                    "SymException",
                    f"too many integration calls: a hook call may make at most "
                    f"{self._max_integration_calls}",
                )
            else:
                answer = await answer_call(asked, provider)
            await worker.send(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))


@dataclass
class _Progress:
    # Integration calls the host answered: after one, the call may have changed something.
    answered: int = 0


@dataclass(frozen=True)
class _Failure:
    reason: str
    suspects: tuple[str, ...]

    def incident(self, call: _Call, *, retried: bool) -> HookIncident:
        return HookIncident(call.scope, self.suspects, call.owner, self.reason, retried)


@dataclass(frozen=True)
class _Call:
    request: dict[str, Any]
    filename: str
    function: str
    limit: float
    deadline: float
    scope: str
    owner: str
