"""A strategy's call limits: ``max_calls_per_second`` and ``max_concurrency`` in its settings.

Each strategy type has defaults from its provider's published limits (docs/configuration.md,
"Call limits", says where each comes from).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from symbox.config.hcl import show
from symbox.config.model import Location, Strategy
from symbox.config.schema import Args, Reader

RATE = "max_calls_per_second"
CONCURRENCY = "max_concurrency"
LIMIT_SETTINGS = frozenset({RATE, CONCURRENCY})


@dataclass(frozen=True)
class CallLimits:
    """At most ``calls`` call starts in any ``per`` seconds, and ``concurrency`` at once.

    ``calls`` None: no rate; ``concurrency`` None: no bound on calls in flight.
    """

    calls: int | None = None
    per: float = 1.0
    concurrency: int | None = None

    @classmethod
    def per_second(cls, rate: float | None, concurrency: int | None) -> CallLimits:
        """Limits for ``rate`` calls a second (a whole number gives exact one-second windows)."""
        if rate is None:
            return cls(None, 1.0, concurrency)
        if rate < 1:
            return cls(1, 1.0 / rate, concurrency)
        calls = math.floor(rate)
        return cls(calls, calls / rate, concurrency)


# Well inside each provider's limit, since other clients of the same account share it.
DEFAULT_LIMITS: Mapping[str, CallLimits] = MappingProxyType(
    {
        # AWS's account access APIs: 20 transactions/s in all, reads included, and at most
        # 15 outstanding asynchronous writes; a grant is a call or two and a status poll.
        "aws_sso": CallLimits.per_second(10, 5),
        # IAM's request rate per account is not published (and cannot be raised).
        "aws_iam": CallLimits.per_second(5, 4),
        # A function's own concurrency is the bound that matters.
        "aws_lambda": CallLimits.per_second(None, 10),
        # Okta's /api/v1/groups bucket: 500-600 requests/min on paid orgs (100 on free ones).
        "okta": CallLimits.per_second(5, 4),
        # GitHub: at most 80 content-creating requests a minute, made one at a time.
        "github": CallLimits(80, 60.0, 1),
        # Not reviewed against their providers' limits: modest bounds.
        "tailscale": CallLimits.per_second(5, 4),
        "onelogin": CallLimits.per_second(5, 4),
        "aptible": CallLimits.per_second(5, 4),
        "google_group": CallLimits.per_second(5, 4),
        # Receivers and code of the operator's own: no bound unless the settings set one.
        "http": CallLimits(),
        "custom": CallLimits(),
    }
)


def limits_of(strategy: Strategy) -> CallLimits:
    """The strategy's call limits: its settings over its type's defaults."""
    default = DEFAULT_LIMITS.get(strategy.type, CallLimits())
    rate = strategy.settings.get(RATE)
    concurrency = strategy.settings.get(CONCURRENCY)
    if rate is None and concurrency is None:
        return default
    limits = CallLimits.per_second(float(rate), None) if rate is not None else default
    return CallLimits(
        limits.calls,
        limits.per,
        int(concurrency) if concurrency is not None else default.concurrency,
    )


def call_limits(strategies: Mapping[str, Strategy]) -> dict[str, CallLimits]:
    """Every configured strategy's call limits, by key."""
    return {key: limits_of(strategy) for key, strategy in strategies.items()}


def check_call_limits(reader: Reader, where: str, args: Args, at: Location) -> None:
    """``max_calls_per_second`` must be a positive number, ``max_concurrency`` a positive
    whole number."""
    settings: Mapping[str, Any] = args.values.get("settings", {})
    line = args.lines.get("settings", at)
    rate = settings.get(RATE)
    if rate is not None and not (_number(rate) and rate > 0):
        reader.problem(line, f"{where}: settings.{RATE}: {show(rate)}: expected a positive number")
        args.ok = False
    concurrency = settings.get(CONCURRENCY)
    if concurrency is not None and not (
        _number(concurrency) and concurrency >= 1 and float(concurrency).is_integer()
    ):
        reader.problem(
            line,
            f"{where}: settings.{CONCURRENCY}: {show(concurrency)}: expected a positive "
            "whole number",
        )
        args.ok = False


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
