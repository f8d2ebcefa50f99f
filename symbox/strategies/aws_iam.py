"""The ``aws_iam`` strategy: IAM group membership for the requester's IAM user."""

from __future__ import annotations

import logging

from symbox.aws.errors import AwsCallError
from symbox.aws.iam import IamDirectory
from symbox.config.model import Target
from symbox.strategies.aws_errors import strategy_error
from symbox.strategies.base import GrantRequest, StrategyError

log = logging.getLogger(__name__)

GROUP = "aws_iam_group"


def _group(target: Target) -> str:
    value = target.settings.get("iam_group")
    if target.type != GROUP or not isinstance(value, str) or not value:
        raise StrategyError(
            f"target {target.name}: an aws_iam strategy needs an {GROUP} target "
            "with settings.iam_group",
            permanent=True,
            reached_target=False,
        )
    return value


class AwsIamStrategy:
    """Adds the requester's IAM user to an IAM group, and removes it."""

    def __init__(self, directory: IamDirectory) -> None:
        self.directory = directory

    async def remote_identity(self, requester: str, name: str | None = None) -> str:
        """The requester's IAM user name (``name`` if given), or a permanent StrategyError."""
        try:
            if name is not None:
                user = await self.directory.user_called(name)
            else:
                user = await self.directory.user_name(requester)
        except AwsCallError as error:
            raise strategy_error("identity lookup", error, reached_target=False) from None
        if user is None:
            rule = f"the IAM user {name}" if name else self.directory.mapping.describe()
            raise StrategyError(
                f"no IAM user for {requester} (expected {rule})",
                permanent=True,
                reached_target=False,
            )
        return user

    async def escalate(self, request: GrantRequest) -> None:
        """Add the user to the group (succeeds if they already belong)."""
        group = _group(request.target)
        user = request.identity or await self.remote_identity(request.requester)
        try:
            await self.directory.add(user, group)
        except AwsCallError as error:
            raise strategy_error("escalate", error, reached_target=True) from None

    async def deescalate(self, request: GrantRequest) -> None:
        """Remove the user from the group (succeeds if they are not in it)."""
        group = _group(request.target)
        try:
            # The user the grant was made to, if recorded; else whoever the mapping says now.
            user = request.identity or await self.directory.user_name(request.requester)
        except AwsCallError as error:
            raise strategy_error("identity lookup", error, reached_target=False) from None
        if user is None:
            # A deleted IAM user belongs to no group.
            log.warning(
                "requester has no IAM user; nothing to revoke", extra={"run_id": request.run_id}
            )
            return
        try:
            await self.directory.remove(user, group)
        except AwsCallError as error:
            raise strategy_error("deescalate", error, reached_target=True) from None

    async def holders(self, target: Target) -> frozenset[str]:
        """The IAM users in the target's group now."""
        try:
            return await self.directory.members(_group(target))
        except AwsCallError as error:
            raise strategy_error("listing members", error, reached_target=False) from None

    async def remove_holder(self, target: Target, identity: str) -> None:
        """Take an IAM user out of the target's group (succeeds if they are not in it)."""
        try:
            await self.directory.remove(identity, _group(target))
        except AwsCallError as error:
            raise strategy_error("reconcile", error, reached_target=True) from None
