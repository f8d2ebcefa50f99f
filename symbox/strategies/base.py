"""The interface every access strategy implements."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from symbox.config.model import Target


@dataclass(frozen=True)
class GrantRequest:
    """What a strategy needs to grant or revoke one run's access."""

    run_id: str
    flow: str
    requester: str
    target: Target
    fields: Mapping[str, Any]
    at: float
    # The requester's identity in the target system when symbox already knows it (the one
    # granted to): strategies use it rather than looking the requester up again.
    identity: str | None = None
    # What the run's earlier steps answered (``escalate``: ...), for Sym's get_step_output.
    outputs: Mapping[str, Any] = field(default_factory=dict)


class StrategyError(Exception):
    """A grant or revoke failed; ``permanent`` errors are not worth retrying soon.

    ``reached_target`` is false when the call never left symbox (nothing was changed).
    """

    def __init__(
        self, message: str, *, permanent: bool = False, reached_target: bool = True
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.reached_target = reached_target


class Throttled(StrategyError):
    """The target system refused the call as one too many for now (HTTP 429, AWS throttling).

    ``retry_after`` is how many seconds it asked to wait, if it said. Never permanent: the
    call is tried again once the strategy's calls have backed off.
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, reached_target: bool = False
    ) -> None:
        super().__init__(message, permanent=False, reached_target=reached_target)
        self.retry_after = retry_after


class AccessStrategy(Protocol):
    """Grants and revokes access; both calls are idempotent.

    What a call returns (None for most strategies) is the step's output, which hooks read
    with ``get_step_output``: a Lambda function's answer, a custom strategy's dict.
    """

    async def escalate(self, request: GrantRequest) -> object:
        """Give the requester access to the target (succeeds if it already exists)."""
        ...

    async def deescalate(self, request: GrantRequest) -> object:
        """Take the access away (succeeds if it is already gone)."""
        ...


@runtime_checkable
class IdentityResolver(Protocol):
    """A strategy whose target system knows the requester under another identity.

    The service asks before a run is created, so a requester with no identity in the
    target system gets a clear error before anything is granted.
    """

    async def remote_identity(self, requester: str, name: str | None = None) -> str:
        """Return the requester's identity in the target system, or raise StrategyError.

        ``name`` is what the flow's ``get_identity`` reducer called the requester in this
        system (a login, a user name); it replaces the strategy's own mapping.
        """
        ...


@runtime_checkable
class AccessLister(Protocol):
    """A strategy that can say who holds a target's access, for reconciliation."""

    async def holders(self, target: Target) -> frozenset[str]:
        """The remote identities that hold ``target``'s access now."""
        ...

    async def remove_holder(self, target: Target, identity: str) -> None:
        """Take ``target``'s access from ``identity`` (succeeds if it is already gone)."""
        ...
