"""Bearer-token authentication for the API, and the trace its refusals leave."""

from __future__ import annotations

import math

from starlette.requests import Request

from symbox import logs
from symbox.api.errors import ApiError
from symbox.clock import Clock
from symbox.engine.model import Actor
from symbox.refusals import (
    EXPIRED_TOKEN,
    FORBIDDEN,
    HIDDEN_RUN,
    MISSING_TOKEN,
    RATE_LIMITED,
    REVOKED_TOKEN,
    UNKNOWN_TOKEN,
    UNKNOWN_TOKEN_WHO,
    Refusal,
    Refusals,
    client_origin,
)
from symbox.store.reader import Reader
from symbox.tokens import hash_secret

SURFACE = "api"


class TokenAuth:
    """Turns an ``Authorization: Bearer`` header into the actor it stands for."""

    def __init__(
        self, reader: Reader, clock: Clock, refusals: Refusals, max_ttl: float | None = None
    ) -> None:
        self._reader = reader
        self._clock = clock
        self._refusals = refusals
        # The operator's bound on any token's age (--token-max-ttl), whatever its own expiry.
        self._max_ttl = max_ttl

    async def actor(self, request: Request) -> Actor:
        """Return the token's actor, or raise a 401 (or 429) ApiError."""
        origin = client_origin(request.client.host if request.client else None)
        wait = self._refusals.retry_after(origin)
        if wait is not None:
            # The token is not even looked at: a guesser learns nothing while it waits.
            await self._refuse(request, RATE_LIMITED, "token not checked", None)
            raise ApiError(
                429,
                "too_many_failures",
                "too many failed authentications from this address; retry later",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            await self._refuse(request, MISSING_TOKEN, "no token", None, failed=True)
            raise ApiError(401, "missing_token", "send Authorization: Bearer <token>")
        token = await self._reader.token_by_hash(hash_secret(secret.strip()))
        now = self._clock.now()
        too_old = (
            token is not None
            and self._max_ttl is not None
            and now >= token.created_at + self._max_ttl
        )
        if token is None or not token.usable_at(now) or too_old:
            if token is None:
                await self._refuse(request, UNKNOWN_TOKEN, UNKNOWN_TOKEN_WHO, None, failed=True)
            else:
                why = REVOKED_TOKEN if token.revoked_at is not None else EXPIRED_TOKEN
                await self._refuse(request, why, token.id, token.actor, failed=True)
            # One message for unknown, expired and revoked tokens: no oracle for guessing.
            raise ApiError(401, "invalid_token", "the token is unknown, expired or revoked")
        # Read back by ``forbidden`` if the call is refused later on.
        request.state.token_id = token.id
        request.state.actor = token.actor
        # The token's id, never its secret, names the caller in the log.
        logs.note(actor=str(token.actor), token_id=token.id)
        return token.actor

    async def forbidden(self, request: Request, message: str) -> None:
        """Leave the trace of a 403 answered to an authenticated caller."""
        who = getattr(request.state, "token_id", UNKNOWN_TOKEN_WHO)
        actor = getattr(request.state, "actor", None)
        await self._refuse(request, FORBIDDEN, who, actor, detail=message)

    async def hidden(self, request: Request, message: str) -> None:
        """Leave the trace of a run refused to its caller, who was answered 404."""
        who = getattr(request.state, "token_id", UNKNOWN_TOKEN_WHO)
        actor = getattr(request.state, "actor", None)
        await self._refuse(request, HIDDEN_RUN, who, actor, detail=message)

    async def _refuse(
        self,
        request: Request,
        why: str,
        who: str,
        actor: Actor | None,
        *,
        failed: bool = False,
        detail: str | None = None,
    ) -> None:
        refusal = Refusal(
            surface=SURFACE,
            why=why,
            what=f"{request.method} {request.url.path}",
            origin=client_origin(request.client.host if request.client else None),
            who=who,
            actor=actor,
            detail=detail,
        )
        await self._refusals.refused(refusal, failed_auth=failed)
