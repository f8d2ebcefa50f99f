"""The ``aws_lambda`` strategy: a Lambda function grants and revokes, given Sym's event."""

from __future__ import annotations

import json
import uuid
from typing import Any

from symbox.audit.entry import redact
from symbox.aws.errors import MESSAGE_LIMIT, AwsCallError, call
from symbox.aws.session import AwsConnection
from symbox.config.durations import iso
from symbox.config.model import Target
from symbox.strategies.aws_errors import strategy_error
from symbox.strategies.base import GrantRequest, StrategyError

FUNCTION = "aws_lambda_function"
# The version of Sym's reporting schema the payload follows.
SYM_SCHEMA_VERSION = 4


def _arn(target: Target) -> str:
    value = target.settings.get("arn")
    if target.type != FUNCTION or not isinstance(value, str) or not value:
        raise StrategyError(
            f"target {target.name}: an aws_lambda strategy needs an {FUNCTION} target "
            "with settings.arn",
            permanent=True,
            reached_target=False,
        )
    return value


def event_id(run_id: str, action: str) -> str:
    """The payload's ``id``: the same for every attempt of one run's escalate (or revoke)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"symbox:run:{run_id}:{action}"))


def payload(action: str, request: GrantRequest) -> dict[str, Any]:
    """The event the function receives, in the shape of Sym's Lambda strategy payload."""
    target = request.target
    person = {"username": request.requester, "name": request.requester}
    fields: dict[str, Any] = dict(redact(dict(request.fields)))
    fields["target"] = {
        "name": target.name,
        "label": target.label or target.name,
        "type": target.type,
        "settings": redact(target.settings),
    }
    fields["target_id"] = target.name
    return {
        "id": event_id(request.run_id, action),
        "type": "event",
        "meta": {"schema_version": SYM_SCHEMA_VERSION},
        "state": {"status": "processing", "errors": []},
        "run": {"id": request.run_id, "flow": request.flow, "actors": {"request": person}},
        "event": {"type": action, "timestamp": iso(request.at), "channel": "symbox"},
        "actor": person,
        "fields": fields,
        "user": {"email": request.requester},
    }


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 3] + "..."


def _function_error(raw: bytes) -> str:
    """The message of an error the function raised (Lambda's errorType and errorMessage)."""
    try:
        body = json.loads(raw)
    except ValueError:
        return _shorten(raw.decode("utf-8", "replace")) or "no message"
    if isinstance(body, dict):
        kind, message = body.get("errorType"), body.get("errorMessage")
        if isinstance(message, str):
            return _shorten(f"{kind}: {message}" if isinstance(kind, str) else message)
    return _shorten(json.dumps(body))


def _reported_errors(raw: bytes) -> str | None:
    """The function's own ``errors`` list, joined, when it returned a non-empty one."""
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:
        return None
    errors = body.get("errors") if isinstance(body, dict) else None
    if not errors:
        return None
    items = errors if isinstance(errors, list) else [errors]
    return _shorten("; ".join(str(item) for item in items))


def _answer(raw: bytes) -> Any:
    """The function's JSON answer; None when it returned nothing or something else."""
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError:
        return None


class AwsLambdaStrategy:
    """Invokes the target's function synchronously with an escalate or deescalate event.

    The function succeeds by returning (``{"body": {...}, "errors": []}`` in Sym's
    templates); an ``errors`` list that is not empty, or an error the function raised
    (Lambda's ``FunctionError``), fails the call with the function's message. What it
    returns is the step's output, which hooks read with ``get_step_output()``.
    """

    def __init__(self, connection: AwsConnection) -> None:
        self._connection = connection

    async def escalate(self, request: GrantRequest) -> Any:
        """Ask the function to grant access; its JSON answer."""
        return await self._invoke("escalate", request)

    async def deescalate(self, request: GrantRequest) -> Any:
        """Ask the function to revoke access; its JSON answer."""
        return await self._invoke("deescalate", request)

    async def _invoke(self, action: str, request: GrantRequest) -> Any:
        arn = _arn(request.target)
        body = json.dumps(payload(action, request), separators=(",", ":")).encode()
        client = self._connection.lambda_()
        try:
            response = await call(
                "lambda:Invoke",
                client.invoke(FunctionName=arn, InvocationType="RequestResponse", Payload=body),
            )
            raw = await call("lambda:Invoke", response["Payload"].read())
        except AwsCallError as error:
            # A refused call (no such function, access denied) ran nothing.
            raise strategy_error(action, error, reached_target=not error.permanent) from None
        if response.get("FunctionError"):
            raise StrategyError(f"{action}: {arn} raised {_function_error(raw)}")
        reported = _reported_errors(raw)
        if reported is not None:
            raise StrategyError(f"{action}: {arn} returned errors: {reported}")
        return _answer(raw)
