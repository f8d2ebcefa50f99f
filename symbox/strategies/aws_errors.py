"""AWS call failures as the strategy errors the run service retries, backs off or gives up on."""

from __future__ import annotations

from symbox.aws.errors import AwsCallError
from symbox.strategies.base import StrategyError, Throttled


def strategy_error(action: str, error: AwsCallError, *, reached_target: bool) -> StrategyError:
    """The StrategyError for a failed grant or revoke step (Throttled for throttling)."""
    if error.throttled:
        return Throttled(f"{action}: {error}", reached_target=reached_target)
    return StrategyError(
        f"{action}: {error}", permanent=error.permanent, reached_target=reached_target
    )
