"""The host's side of a worker conversation: reading frames, answering integration calls."""

from __future__ import annotations

import io
import pickle
from typing import Any

from symbox.sandbox.errors import HookCompileError, HookError
from symbox.sandbox.integrations.base import IntegrationProvider
from symbox.sandbox.process import ProtocolError
from symbox.sandbox.sdk.exceptions import EXCEPTIONS, SymException
from symbox.sandbox.sdk.integrations import ERROR_TYPES
from symbox.sandbox.worker import plain


class _NoGlobalsUnpickler(pickle.Unpickler):
    """Replies come from a process running hostile code: plain data needs no class lookups."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"worker reply refers to {module}.{name}")


async def answer_call(call: object, provider: IntegrationProvider | None) -> dict[str, Any]:
    """Run one call through the provider; every failure becomes an SDK error for the hook."""
    if not isinstance(call, dict):
        return error_answer("SymException", "malformed integration call")
    integration, method, args = call.get("integration"), call.get("method"), call.get("args")
    if not (isinstance(integration, str) and isinstance(method, str) and type(args) is dict):
        return error_answer("SymException", "malformed integration call")
    error_type = ERROR_TYPES.get(integration, "SymException")
    if provider is None:
        return error_answer(error_type, f"no {integration} integration is configured")
    try:
        value = await provider.call(integration, method, args)
    except SymException as exc:
        # The nearest SDK class by name: the worker only rebuilds the SDK's own types.
        known = next(kind for kind in type(exc).__mro__ if kind in EXCEPTIONS)
        return error_answer(known.__name__, exc.message)
    except Exception as exc:
        # Not str(exc): an unexpected error's text could carry request details.
        return error_answer(error_type, f"{integration}.{method} failed: {type(exc).__name__}")
    try:
        return {"ok": True, "value": plain(value)}
    except (TypeError, RecursionError):
        return error_answer(error_type, f"{integration}.{method} returned non-plain data")


def load_frame(frame: bytes) -> Any:
    try:
        return _NoGlobalsUnpickler(io.BytesIO(frame)).load()
    except Exception as exc:
        raise ProtocolError(f"worker sent an unreadable frame ({type(exc).__name__})") from None


def error_answer(type_name: str, message: str) -> dict[str, Any]:
    return {"error": {"type": type_name, "message": message}}


def decode_reply(message: dict[str, Any]) -> Any:
    if message.get("ok"):
        return message["value"]
    error = message["error"]
    if error["kind"] == "compile":
        raise HookCompileError(error["message"], file=error["file"], line=error["line"])
    raise HookError(
        error["message"], file=error["file"], line=error["line"], type_name=error["type"]
    )
