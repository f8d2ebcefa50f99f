"""Bearer-token authentication for the API, and the trace its refusals leave."""

from __future__ import annotations

import logging
import math
from typing import Protocol

from starlette.requests import Request

from symbox import logs
from symbox.api.errors import ApiError
from symbox.clock import Clock
from symbox.engine.model import Actor
from symbox.runs.refusals import (
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
from symbox.store.token_cache import TokenSource
from symbox.store.writer import Writer
from symbox.tokens import TokenRecord, hash_secret

SURFACE = "api"
# A token's last use is kept to the minute: one write per token per minute at most.
USE_GRANULARITY = 60.0

log = logging.getLogger(__name__)


class TokenUses(Protocol):
    """Where a token's successful use is recorded."""

    async def used(self, token: TokenRecord, now: float) -> None:
        """Note that ``token`` authenticated a call at ``now``."""


class RecordedTokenUses:
    """Writes each token's last use to the store, at most once per ``granularity``."""

    def __init__(self, writer: Writer, granularity: float = USE_GRANULARITY) -> None:
        self._writer = writer
        self._granularity = granularity
        # Uses written by this process, newer than the token row read at the call's start.
        self._written: dict[str, float] = {}

    async def used(self, token: TokenRecord, now: float) -> None:
        """Record the use unless one within ``granularity`` is already recorded."""
        last = max(token.last_used_at or -math.inf, self._written.get(token.id, -math.inf))
        if now - last < self._granularity:
            return
        self._written[token.id] = now
        try:
            await self._writer.submit(lambda txn: txn.token_used(token.id, now))
        except Exception:
            # Bookkeeping: the call is authenticated whether or not its use is written.
            log.warning("token %s: last use not recorded", token.id, exc_info=True)


class TokenAuth:
    """Turns an ``Authorization: Bearer`` header into the actor it stands for."""

    def __init__(
        self,
        tokens: TokenSource,
        clock: Clock,
        refusals: Refusals,
        uses: TokenUses,
        max_ttl: float | None = None,
    ) -> None:
        # A TokenCache in the server: looked up on every call.
        self._tokens = tokens
        self._clock = clock
        self._refusals = refusals
        self._uses = uses
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
        token = await self._tokens.token_by_hash(hash_secret(secret.strip()))
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
        await self._uses.used(token, now)
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
