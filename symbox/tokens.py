"""API tokens: how they are made, hashed for storage, and what one stands for."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from symbox.engine.model import Actor

# Tokens carry a recognisable prefix so a leaked one is easy to find by secret scanners.
TOKEN_PREFIX = "sbx_"


@dataclass(frozen=True)
class TokenRecord:
    """A stored token: only the secret's hash is kept."""

    id: str
    secret_hash: str
    kind: str
    subject: str
    label: str | None
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    last_used_at: float | None = None

    @property
    def actor(self) -> Actor:
        """Who requests made with this token act as."""
        return Actor.user(self.subject) if self.kind == "user" else Actor.bot(self.subject)

    def usable_at(self, now: float) -> bool:
        """Tell whether the token is neither revoked nor expired at ``now``."""
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at


def new_secret() -> str:
    """Return a fresh token secret, to be shown once and never stored."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """Return the digest under which a token secret is stored and looked up."""
    return hashlib.sha256(secret.encode()).hexdigest()
