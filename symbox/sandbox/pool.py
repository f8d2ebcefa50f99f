"""A pool of long-lived hook worker processes, driven from the event loop without blocking it."""

from __future__ import annotations

import io
import pickle
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from symbox.sandbox.errors import HookCompileError, HookCrashed, HookError, HookTimeout
from symbox.sandbox.integrations.base import IntegrationProvider
from symbox.sandbox.sdk.exceptions import EXCEPTIONS, SymException
from symbox.sandbox.sdk.integrations import CALL_KEY, DEFAULT_MAX_CALLS, ERROR_TYPES
from symbox.sandbox.sdk.strategies import STRATEGY_KEY
from symbox.sandbox.worker import (
    DEFAULT_MAX_REPLY,
    DEFAULT_MEMORY_LIMIT,
    HEADER,
    READY,
    WORKER_ARGUMENT,
    plain,
)


def default_command() -> tuple[str, ...]:
    """How to start a worker: the frozen executable runs itself with the worker argument."""
    if getattr(sys, "frozen", False):
        # Isolated like `-I`: a frozen interpreter reads no PYTHON* variables, no site
        # folders and not the working folder, and the worker's environment is empty anyway.
        return (sys.executable, WORKER_ARGUMENT)
    return (sys.executable, "-I", "-m", "symbox.sandbox.worker")


DEFAULT_COMMAND: tuple[str, ...] = default_command()
# Room for the reply envelope around a value at the size limit.
_REPLY_SLACK = 64 * 1024


class _NoGlobalsUnpickler(pickle.Unpickler):
    """Replies come from a process running hostile code: plain data needs no class lookups."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"worker reply refers to {module}.{name}")


class _Worker:
    """One worker process and its framed pipes."""

    def __init__(self, process: Process) -> None:
        self.process = process
        assert process.stdin is not None and process.stdout is not None
        self._send = process.stdin
        self._receive = BufferedByteReceiveStream(process.stdout)

    async def send(self, payload: bytes) -> None:
        await self._send.send(HEADER.pack(len(payload)) + payload)

    async def receive(self, limit: int) -> bytes:
        (length,) = HEADER.unpack(await self._receive.receive_exactly(HEADER.size))
        if length > limit:
            raise _ProtocolError(f"worker sent a {length}-byte reply")
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


class _ProtocolError(Exception):
    """The worker broke the framing contract."""


def _describe_exit(status: int | None) -> str:
    if status is None:
        return "worker exited"
    if status < 0:
        try:
            return f"worker killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"worker killed by signal {-status}"
    return f"worker exited with status {status}"


class HookPool:
    """N long-lived sandbox workers; `call` runs one hook function in one of them."""

    def __init__(
        self,
        size: int = 2,
        *,
        command: Sequence[str] = DEFAULT_COMMAND,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        max_reply: int = DEFAULT_MAX_REPLY,
        default_timeout: float = 2.0,
        startup_timeout: float = 20.0,
        stop_grace: float = 2.0,
        integrations: IntegrationProvider | None = None,
        max_integration_calls: int = DEFAULT_MAX_CALLS,
    ) -> None:
        if size < 1:
            raise ValueError("a hook pool needs at least one worker")
        self._size = size
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
        # Idle slots; None marks a slot whose worker must be (re)started before use.
        send, receive = anyio.create_memory_object_stream[_Worker | None](size)
        self._idle_send = send
        self._idle_receive = receive
        self._workers: set[_Worker] = set()
        self._busy: set[_Worker] = set()
        self._started = False

    async def __aenter__(self) -> HookPool:
        self._started = True
        try:
            # Side by side: a worker's interpreter start is most of symbox's start-up time.
            started: list[_Worker] = []
            failures: list[Exception] = []

            async def spawn() -> None:
                try:
                    started.append(await self._spawn())
                except Exception as exc:
                    failures.append(exc)

            async with anyio.create_task_group() as group:
                for _ in range(self._size):
                    group.start_soon(spawn)
            if failures:
                raise failures[0]
            for worker in started:
                self._idle_send.send_nowait(worker)
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

    async def aclose(self) -> None:
        """Stop every worker and reap it."""
        with anyio.CancelScope(shield=True):
            self._idle_send.close()
            self._idle_receive.close()
            async with anyio.create_task_group() as group:
                for worker in list(self._workers):
                    if worker in self._busy:
                        group.start_soon(worker.kill)
                    else:
                        group.start_soon(worker.stop, self._stop_grace)
            self._workers.clear()

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
    ) -> Any:
        """Run `function(*args)` of `source` (args[0] as `event` if `wrap_event`); plain result.

        With `wrap_form`, `args` are `(username, form)` and the form is a `SymPromptForm`.

        `integrations` answers this call's integration calls instead of the pool's provider.
        """
        request = {
            "source": source,
            "filename": filename,
            "function": function,
            "args": list(args),
            "event": wrap_event,
            "form": wrap_form,
        }
        return await self._run(request, filename, function, timeout, integrations)

    async def call_strategy(
        self,
        source: str,
        filename: str,
        spec: Mapping[str, Any],
        timeout: float | None = None,  # noqa: ASYNC109
        *,
        integrations: IntegrationProvider | None = None,
    ) -> Any:
        """Call one method of the module's AccessStrategy subclass (see sdk.strategies)."""
        method = str(spec.get("method"))
        request: dict[str, Any] = {"source": source, "filename": filename, "function": method}
        request[STRATEGY_KEY] = dict(spec)
        return await self._run(request, filename, method, timeout, integrations)

    async def _run(
        self,
        request: dict[str, Any],
        filename: str,
        function: str,
        timeout: float | None,  # noqa: ASYNC109
        integrations: IntegrationProvider | None,
    ) -> Any:
        if not self._started:
            raise RuntimeError("use `async with HookPool(...)` before calling hooks")
        limit = self._default_timeout if timeout is None else timeout
        provider = self._integrations if integrations is None else integrations
        request["max_integration_calls"] = self._max_integration_calls
        payload = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        slot = await self._idle_receive.receive()
        try:
            worker = slot if slot is not None else await self._spawn()
        except BaseException:
            await self._release(None)
            raise
        self._busy.add(worker)
        failure: Exception
        try:
            with anyio.fail_after(limit):
                await worker.send(payload)
                reply = await self._converse(worker, provider)
        except TimeoutError:
            failure = HookTimeout(f"{function} ran longer than {limit:g} s", file=filename)
        except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError):
            status = await worker.reap()
            failure = HookCrashed(f"{function}: {_describe_exit(status)}", file=filename)
        except _ProtocolError as exc:
            failure = HookCrashed(f"{function}: {exc}", file=filename)
        except BaseException:
            # Cancelled mid-call: the worker may still be running the hook, so never reuse it.
            await self._replace(worker)
            raise
        else:
            self._busy.discard(worker)
            await self._release(worker)
            return _decode(reply)
        await self._replace(worker)
        raise failure

    async def _converse(
        self, worker: _Worker, provider: IntegrationProvider | None
    ) -> dict[str, Any]:
        """Answer the worker's integration calls until it sends its final reply."""
        made = 0
        while True:
            message = _load(await worker.receive(self._max_reply + _REPLY_SLACK))
            if not isinstance(message, dict):
                raise _ProtocolError("worker sent a frame that is not a dict")
            call = message.get(CALL_KEY)
            if call is None:
                return message
            made += 1
            # Enforced here as well: the worker's own count runs beside hook code.
            if made > self._max_integration_calls:
                answer = _error_answer(
                    "SymException",
                    f"too many integration calls: a hook call may make at most "
                    f"{self._max_integration_calls}",
                )
            else:
                answer = await self._integration_call(call, provider)
            await worker.send(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))

    async def _integration_call(
        self, call: object, provider: IntegrationProvider | None
    ) -> dict[str, Any]:
        """Run one call through the provider; every failure becomes an SDK error for the hook."""
        if not isinstance(call, dict):
            return _error_answer("SymException", "malformed integration call")
        integration, method, args = call.get("integration"), call.get("method"), call.get("args")
        if not (isinstance(integration, str) and isinstance(method, str) and type(args) is dict):
            return _error_answer("SymException", "malformed integration call")
        error_type = ERROR_TYPES.get(integration, "SymException")
        if provider is None:
            return _error_answer(error_type, f"no {integration} integration is configured")
        try:
            value = await provider.call(integration, method, args)
        except SymException as exc:
            # The nearest SDK class by name: the worker only rebuilds the SDK's own types.
            known = next(kind for kind in type(exc).__mro__ if kind in EXCEPTIONS)
            return _error_answer(known.__name__, exc.message)
        except Exception as exc:
            # Not str(exc): an unexpected error's text could carry request details.
            return _error_answer(error_type, f"{integration}.{method} failed: {type(exc).__name__}")
        try:
            return {"ok": True, "value": plain(value)}
        except (TypeError, RecursionError):
            return _error_answer(error_type, f"{integration}.{method} returned non-plain data")

    async def _replace(self, worker: _Worker) -> None:
        """Kill a worker whose state is unknown and put a fresh one in its slot."""
        with anyio.CancelScope(shield=True):
            self._busy.discard(worker)
            self._workers.discard(worker)
            await worker.kill()
            try:
                fresh: _Worker | None = await self._spawn()
            except Exception:
                # The next call that takes this slot retries the start and surfaces its error.
                fresh = None
            await self._release(fresh)

    async def _release(self, slot: _Worker | None) -> None:
        try:
            self._idle_send.send_nowait(slot)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            # The pool closed while this call ran.
            if slot is not None:
                await slot.kill()

    async def _spawn(self) -> _Worker:
        process = await anyio.open_process(
            self._command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={},
        )
        worker = _Worker(process)
        self._workers.add(worker)
        try:
            with anyio.fail_after(self._startup_timeout):
                ready = await worker.receive(len(READY))
            if ready != READY:
                raise _ProtocolError(f"worker sent {ready!r} instead of ready")
        except BaseException:
            self._workers.discard(worker)
            await worker.kill()
            raise
        return worker


def _load(frame: bytes) -> Any:
    try:
        return _NoGlobalsUnpickler(io.BytesIO(frame)).load()
    except Exception as exc:
        raise _ProtocolError(f"worker sent an unreadable frame ({type(exc).__name__})") from None


def _error_answer(type_name: str, message: str) -> dict[str, Any]:
    return {"error": {"type": type_name, "message": message}}


def _decode(message: dict[str, Any]) -> Any:
    if message.get("ok"):
        return message["value"]
    error = message["error"]
    if error["kind"] == "compile":
        raise HookCompileError(error["message"], file=error["file"], line=error["line"])
    raise HookError(
        error["message"], file=error["file"], line=error["line"], type_name=error["type"]
    )
