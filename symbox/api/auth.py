"""Bearer-token authentication for the API."""

from __future__ import annotations

from starlette.requests import Request

from symbox.api.errors import ApiError
from symbox.clock import Clock
from symbox.engine.model import Actor
from symbox.store.reader import Reader
from symbox.tokens import hash_secret


class TokenAuth:
    """Turns an ``Authorization: Bearer`` header into the actor it stands for."""

    def __init__(self, reader: Reader, clock: Clock) -> None:
        self._reader = reader
        self._clock = clock

    async def actor(self, request: Request) -> Actor:
        """Return the token's actor, or raise a 401 ApiError."""
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise ApiError(401, "missing_token", "send Authorization: Bearer <token>")
        token = await self._reader.token_by_hash(hash_secret(secret.strip()))
        if token is None or not token.usable_at(self._clock.now()):
            # One message for unknown, expired and revoked tokens: no oracle for guessing.
            raise ApiError(401, "invalid_token", "the token is unknown, expired or revoked")
        return token.actor
