"""Refused calls and clicks: a log line each, a rate-limited audit trail, and a brake.

Every 401, 403 and refused Slack click is logged (who, what, why, from) and counted in
``symbox_refusals_total{surface,reason}``. Audit records are limited per key (surface,
reason, origin) and window, so a burst of thousands is a few records whose last carries
how many were left out. A client address whose authentications keep failing is answered
429 until its window has passed; a different address is never affected.
"""

from __future__ import annotations

import ipaddress
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from symbox.audit.entry import system_entry
from symbox.clock import Clock
from symbox.engine.model import Actor
from symbox.metrics import Metrics

log = logging.getLogger(__name__)

T = TypeVar("T")

# Reasons for a refusal; the answer a client gets stays vaguer than these on purpose.
MISSING_TOKEN = "missing_token"
UNKNOWN_TOKEN = "unknown_token"
EXPIRED_TOKEN = "expired_token"
REVOKED_TOKEN = "revoked_token"
FORBIDDEN = "forbidden"
# A run the caller may not see, answered as a missing one.
HIDDEN_RUN = "hidden_run"
RATE_LIMITED = "rate_limited"
# Slack users symbox cannot act for.
NOT_A_USER = "not_a_user"
NO_EMAIL = "no_email"
GUEST = "guest"

UNKNOWN_TOKEN_WHO = "unknown token"

AuditRecord = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class RefusalLimits:
    """How much of a burst of refusals is audited, and when an address is slowed down."""

    # Audit records per (surface, reason, origin) and window; the rest are counted.
    audit_per_key: int = 5
    # Audit records of refusals per window across every key, so rotating addresses
    # cannot flood the trail either.
    audit_total: int = 100
    audit_window: float = 60.0
    # Failed authentications one client address may make within auth_window before its
    # calls are answered 429 (until the oldest of them is auth_window old).
    failed_auths: int = 10
    auth_window: float = 60.0
    # Keys and addresses remembered at once; the idle ones go first.
    max_tracked: int = 10_000


@dataclass(frozen=True)
class Refusal:
    """One refused call or click."""

    surface: str  # "api" or "slack"
    why: str  # a reason code above
    what: str  # "POST /api/v1/events/approve", "approve run RUN"
    origin: str  # the client address, or the Slack team and user
    who: str  # a token id, a Slack user, or "unknown token"; never a secret
    actor: Actor | None = None
    detail: str | None = None


class Refusals(Protocol):
    """What the API's auth layer and the Slack handlers tell about refusals."""

    def retry_after(self, origin: str) -> float | None:
        """Seconds ``origin`` must wait before it may authenticate again, or None."""
        ...

    async def refused(self, refusal: Refusal, *, failed_auth: bool = False) -> None:
        """Log, count and (within limits) audit ``refusal``; count a failed authentication."""
        ...


@dataclass
class _Window:
    start: float
    recorded: int = 0
    # Refusals of this key not audited since its last record.
    pending: int = 0


class RefusalWindows:
    """The pure part: which refusals are audited and which addresses must wait."""

    def __init__(self, limits: RefusalLimits) -> None:
        self._limits = limits
        self._windows: dict[tuple[str, str, str], _Window] = {}
        self._total = _Window(start=float("-inf"))
        self._failures: dict[str, deque[float]] = {}

    def audit(self, key: tuple[str, str, str], now: float) -> int | None:
        """None if this refusal is only counted; else how many earlier ones it summarises."""
        limits = self._limits
        window = self._windows.pop(key, None)
        if window is None or now >= window.start + limits.audit_window:
            window = _Window(start=now, pending=0 if window is None else window.pending)
        # Re-inserted last, so the dict's order is least recently refused first.
        self._windows[key] = window
        self._forget(self._windows, lambda item: now >= item.start + limits.audit_window)
        if now >= self._total.start + limits.audit_window:
            self._total = _Window(start=now)
        if window.recorded >= limits.audit_per_key or self._total.recorded >= limits.audit_total:
            window.pending += 1
            return None
        window.recorded += 1
        self._total.recorded += 1
        suppressed, window.pending = window.pending, 0
        return suppressed

    def failed(self, origin: str, now: float) -> None:
        """Count a failed authentication from ``origin``."""
        limits = self._limits
        times = self._failures.pop(origin, None)
        if times is None:
            times = deque(maxlen=max(limits.failed_auths, 1))
        times.append(now)
        self._failures[origin] = times
        self._forget(self._failures, lambda item: now >= item[-1] + limits.auth_window)

    def retry_after(self, origin: str, now: float) -> float | None:
        """Seconds until ``origin`` may authenticate again, or None if it may now."""
        times = self._failures.get(origin)
        if times is None or len(times) < self._limits.failed_auths:
            return None
        left = times[0] + self._limits.auth_window - now
        return left if left > 0 else None

    def _forget(self, table: dict[Any, T], idle: Callable[[T], bool]) -> None:
        """Keep ``table`` within max_tracked: the idle entries first, then the oldest."""
        if len(table) <= self._limits.max_tracked:
            return
        for key in [key for key, item in table.items() if idle(item)]:
            del table[key]
        while len(table) > self._limits.max_tracked:
            del table[next(iter(table))]


def client_origin(host: str | None) -> str:
    """The key a client address is limited under: IPv6 clients by their /64."""
    if not host:
        return "unknown"
    if host.count(".") == 3 and host.replace(".", "").isdigit():
        # Four dotted numbers are their own key, whether a valid IPv4 address or not (an
        # invalid one is kept as given below): asked on every call, so no parsing.
        return host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    if isinstance(address, ipaddress.IPv6Address) and not address.is_loopback:
        # One host usually holds a whole /64, so counting single addresses would not slow it.
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class RefusalRecorder:
    """Logs, counts and audits refusals, and slows addresses that keep failing to sign in."""

    def __init__(
        self,
        *,
        clock: Clock,
        metrics: Metrics,
        record: AuditRecord,
        limits: RefusalLimits,
    ) -> None:
        self._clock = clock
        self._metrics = metrics
        self._record = record
        self._windows = RefusalWindows(limits)

    def retry_after(self, origin: str) -> float | None:
        """Seconds ``origin`` must wait before it may authenticate again, or None."""
        return self._windows.retry_after(origin, self._clock.now())

    async def refused(self, refusal: Refusal, *, failed_auth: bool = False) -> None:
        """Log, count and (within limits) audit ``refusal``; count a failed authentication."""
        now = self._clock.now()
        if failed_auth:
            self._windows.failed(refusal.origin, now)
        self._metrics.count(
            "symbox_refusals_total",
            "Refused API calls and Slack actions.",
            surface=refusal.surface,
            reason=refusal.why,
        )
        suppressed = self._windows.audit((refusal.surface, refusal.why, refusal.origin), now)
        # A throttled address's calls are the flood itself: logged as they are audited.
        if suppressed is not None or refusal.why != RATE_LIMITED:
            log.warning(
                "refused: %s",
                refusal.why,
                extra={
                    "surface": refusal.surface,
                    "who": refusal.who,
                    "actor": None if refusal.actor is None else str(refusal.actor),
                    "what": refusal.what,
                    "why": refusal.why,
                    "from": refusal.origin,
                    "detail": refusal.detail,
                    "suppressed": suppressed or 0,
                },
            )
        if suppressed is None:
            return
        entry = system_entry(
            "access",
            "refused",
            actor=refusal.actor or Actor("unknown", refusal.who),
            at=now,
            channel=refusal.surface,
            fields={
                "who": refusal.who,
                "what": refusal.what,
                "why": refusal.why,
                "from": refusal.origin,
                "detail": refusal.detail,
                # Refusals of the same kind from the same origin left out since the last record.
                "suppressed": suppressed,
            },
        )
        await self._record(entry)
