"""Signed JSON posts: the signature header symbox sends to receivers it calls.

The ``http`` strategy and notification webhooks both sign their bodies this way, so a
receiver checks either with the same code.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Symbox-Signature"
# Retrying these may succeed; any other 4xx means the receiver refused the request.
TRANSIENT_STATUSES = frozenset({408, 425, 429})


def sign(secret: bytes, body: bytes) -> str:
    """Return the signature header value for ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
