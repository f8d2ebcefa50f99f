"""The hook worker process: limits itself, then runs one hook call per framed request."""

from __future__ import annotations

import argparse
import gc
import os
import pickle
import re
import resource
import struct
import sys
from collections.abc import Callable, Sequence
from typing import Any

from symbox.sandbox.errors import HookCompileError, HookError, HookFailure
from symbox.sandbox.policy import HookPolicy, default_modules
from symbox.sandbox.sdk import sdk_modules
from symbox.sandbox.sdk.event import make_event
from symbox.sandbox.sdk.exceptions import SymException
from symbox.sandbox.sdk.forms import PLAIN_CONVERTERS, SymPromptForm
from symbox.sandbox.sdk.integrations import CALL_ID_KEY, DEFAULT_MAX_CALLS, IntegrationChannel
from symbox.sandbox.sdk.strategies import (
    STRATEGY_KEY,
    bind_environment_integrations,
    run_strategy,
)

DEFAULT_MEMORY_LIMIT = 512 * 1024 * 1024
DEFAULT_MAX_REPLY = 1024 * 1024
# Room for a frame's envelope around a value at the size limit; the host refuses larger.
FRAME_SLACK = 64 * 1024
# Deeper than any sane hook result, shallow enough to check without recursion trouble.
MAX_VALUE_DEPTH = 64
HEADER = struct.Struct(">I")
READY = b"ready"
# The frozen executable's first argument that makes it a worker (`python -m` is not there).
WORKER_ARGUMENT = "__worker__"


def read_frame(fd: int) -> bytes | None:
    """Read one length-prefixed frame from a raw fd; None at a clean end of input."""
    header = _read_exactly(fd, HEADER.size)
    if header is None:
        return None
    (length,) = HEADER.unpack(header)
    body = _read_exactly(fd, length)
    if body is None:
        raise EOFError("input ended inside a frame")
    return body


def write_frame(fd: int, payload: bytes) -> None:
    """Write one length-prefixed frame to a raw fd (no Python-level buffering to flush)."""
    view = memoryview(HEADER.pack(len(payload)) + payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            if chunks or size == 0:
                raise EOFError("input ended inside a frame")
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def plain(value: Any, depth: int = 0) -> Any:
    """Return `value` as plain data (tuples become lists), or raise TypeError naming the part."""
    if depth > MAX_VALUE_DEPTH:
        raise TypeError(f"the return value is nested deeper than {MAX_VALUE_DEPTH} levels")
    kind = type(value)
    # Exact type checks: a subclass could run hook code while the host serialises it.
    if value is None or kind in (bool, int, float, str, bytes):
        return value
    if kind in (list, tuple):
        return [plain(item, depth + 1) for item in value]
    if kind in PLAIN_CONVERTERS:
        # The SDK's own form types (FieldOption, SymPromptForm) reply as plain data.
        return plain(PLAIN_CONVERTERS[kind](value), depth + 1)
    if kind is dict:
        result = {}
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(f"dict keys must be str, got {type(key).__name__}")
            result[key] = plain(item, depth + 1)
        return result
    raise TypeError(
        f"hooks must return plain data (dict, list, str, bytes, int, float, bool, None), "
        f"got {kind.__name__}"
    )


def error_reply(failure: HookFailure, kind: str) -> dict[str, Any]:
    """The reply for a failed call."""
    type_name = failure.type_name if isinstance(failure, HookError) else type(failure).__name__
    message = failure.detail
    if isinstance(failure, HookError) and message.startswith(f"{type_name}: "):
        message = message[len(type_name) + 2 :]
    return {
        "error": {
            "kind": kind,
            "type": type_name,
            "message": message,
            "file": failure.file,
            "line": failure.line,
        }
    }


def handle(
    policy: HookPolicy,
    request: dict[str, Any],
    max_reply: int,
    channel: IntegrationChannel | None = None,
) -> bytes:
    """Run one request and return the pickled reply; nothing of the call outlives it.

    The request is emptied and the garbage collected while the call's channel is still
    open, so a generator or cycle the hook left behind is finalised now, inside its own
    call, and never during a later one.
    """
    call_id = request.get(CALL_ID_KEY)
    if channel is not None:
        channel.begin(int(request.get("max_integration_calls", DEFAULT_MAX_CALLS)), call_id)
    try:
        # Pickled here, once: the reply is plain data, which runs no hook code.
        data = _reply(policy, request, max_reply, channel, call_id)
        request.clear()
        forget_caches()
        gc.collect()
    finally:
        if channel is not None:
            channel.end()
    return data


def forget_caches() -> None:
    """Empty the standard library's caches that could keep a hook's objects past its call.

    A `str` subclass used as a pattern (`re.compile(Key("x"))`) stays in re's cache, and so
    does whatever it holds, to be freed during some later call when the cache turns over.
    """
    re.purge()
    cache = getattr(sys.modules.get("_strptime"), "_regex_cache", None)
    if isinstance(cache, dict):
        cache.clear()


def _reply(
    policy: HookPolicy,
    request: dict[str, Any],
    max_reply: int,
    channel: IntegrationChannel | None,
    call_id: Any,
) -> bytes:
    filename = str(request.get("filename", "<hook>"))
    try:
        args = list(request.get("args", []))
        if request.get("event") and args:
            # The host sends plain data; hooks read it through read-only `event.x.y` facades.
            try:
                bridge = channel if channel is not None else IntegrationChannel(None)
                bind_environment_integrations(args[0], bridge)
                args[0] = make_event(args[0])
            except TypeError as exc:
                raise HookError(str(exc), file=filename, type_name="TypeError") from None
        if request.get("form") and len(args) == 2 and isinstance(args[1], dict):
            # on_change_<field>(username, form): the form's fields are mutable facades.
            try:
                args[1] = SymPromptForm(args[1])
            except (SymException, KeyError, TypeError) as exc:
                raise HookError(f"the form could not be built: {exc}", file=filename) from None
        strategy = request.get(STRATEGY_KEY)
        if strategy is not None:
            bridge = channel if channel is not None else IntegrationChannel(None)
            value = policy.run(
                request["source"],
                filename,
                lambda namespace: run_strategy(namespace, filename, strategy, bridge),
            )
        else:
            value = policy.call(request["source"], filename, request["function"], args)
        try:
            reply: dict[str, Any] = {"ok": True, "value": plain(value), CALL_ID_KEY: call_id}
        except TypeError as exc:
            raise HookError(str(exc), file=filename, type_name="TypeError") from None
        except RecursionError:
            raise HookError("the return value is too deeply nested", file=filename) from None
        data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        size = len(data)
        if size > max_reply:
            raise HookError(
                f"the return value is {size} bytes serialized; the limit is {max_reply}",
                file=filename,
                type_name="ValueError",
            )
        return data
    except HookCompileError as failure:
        return _failed(failure, "compile", call_id)
    except HookError as failure:
        return _failed(failure, "runtime", call_id)
    except MemoryError:
        oom = HookError("out of memory", file=filename, type_name="MemoryError")
        return _failed(oom, "runtime", call_id)


def _failed(failure: HookFailure, kind: str, call_id: Any) -> bytes:
    return pickle.dumps({**error_reply(failure, kind), CALL_ID_KEY: call_id})


def worker_modules(channel: IntegrationChannel | None = None) -> dict[str, object]:
    """Everything hooks may import in a worker: the safe standard modules and `sym.sdk`."""
    return {**default_modules(), **sdk_modules(channel)}


def fd_transport(in_fd: int, out_fd: int) -> Callable[[bytes], bytes]:
    """Send an integration call frame to the host and block for its reply frame."""

    def transport(frame: bytes) -> bytes:
        write_frame(out_fd, frame)
        reply = read_frame(in_fd)
        if reply is None:
            raise EOFError("the host closed the pipe during an integration call")
        return reply

    return transport


def limit_memory(limit: int) -> None:
    """Cap the address space so a huge allocation is a MemoryError, not the host's OOM kill."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def close_other_fds(keep: Sequence[int]) -> None:
    """Close every inherited fd except `keep`, and point stderr at /dev/null."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    if 2 not in keep:
        os.dup2(devnull, 2)
    os.close(devnull)
    kept = sorted({*keep, 0, 1, 2})
    low = 0
    max_fd = os.sysconf("SC_OPEN_MAX")
    for fd in kept:
        # An empty range must not be passed: CPython maps closerange(n, n) onto
        # close_range(n, n - 1), which for n == 0 closes every fd.
        if low < fd:
            os.closerange(low, fd)
        low = fd + 1
    if low < max_fd:
        os.closerange(low, max_fd)


def serve(
    in_fd: int,
    out_fd: int,
    policy: HookPolicy,
    max_reply: int,
    channel: IntegrationChannel | None = None,
) -> None:
    """Answer requests until the parent closes the input pipe."""
    write_frame(out_fd, READY)
    while True:
        frame = read_frame(in_fd)
        if frame is None:
            return
        # Requests come from the host, the only writer of this pipe, so pickle is trusted here.
        # No local keeps the request: handle() empties it before the call ends.
        write_frame(out_fd, handle(policy, pickle.loads(frame), max_reply, channel))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: `python -m symbox.sandbox.worker` or `symbox __worker__`, with options."""
    parser = argparse.ArgumentParser(prog="symbox-hook-worker")
    parser.add_argument("--memory-limit", type=int, default=DEFAULT_MEMORY_LIMIT)
    parser.add_argument("--max-reply", type=int, default=DEFAULT_MAX_REPLY)
    parser.add_argument("--in-fd", type=int, default=0)
    parser.add_argument("--out-fd", type=int, default=1)
    options = parser.parse_args(argv)
    channel = IntegrationChannel(
        fd_transport(options.in_fd, options.out_fd), max_frame=options.max_reply + FRAME_SLACK
    )
    policy = HookPolicy(modules=worker_modules(channel))
    # Compile once so everything a call needs is imported before the limits apply.
    policy.call("def warm():\n    return [1]\n", "<warm-up>", "warm", [])
    # What exists now is the worker's own: freezing it keeps each call's collection small.
    gc.collect()
    gc.freeze()
    close_other_fds([options.in_fd, options.out_fd])
    if options.memory_limit > 0:
        limit_memory(options.memory_limit)
    try:
        serve(options.in_fd, options.out_fd, policy, options.max_reply, channel)
    except (BrokenPipeError, EOFError):
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
