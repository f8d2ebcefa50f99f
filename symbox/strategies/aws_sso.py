"""The ``aws_sso`` strategy: IAM Identity Center account assignments and group memberships."""

from __future__ import annotations

import logging

from symbox.aws.errors import AwsCallError
from symbox.aws.identity_center import Assignment, IdentityCenter
from symbox.config.model import Target
from symbox.strategies.aws_errors import strategy_error
from symbox.strategies.base import GrantRequest, StrategyError

log = logging.getLogger(__name__)

PERMISSION_SET = "aws_sso_permission_set"
GROUP = "aws_sso_group"


def target_text(target: Target, name: str) -> str:
    """A required text setting of ``target``, or a permanent StrategyError."""
    value = target.settings.get(name)
    if isinstance(value, int) and not isinstance(value, bool) and name == "account_id":
        # An account id written as a number lost its leading zeros; ids have 12 digits.
        return f"{value:012d}"
    if not isinstance(value, str) or not value:
        raise StrategyError(
            f"target {target.name}: settings.{name} is required for {target.type} targets",
            permanent=True,
            reached_target=False,
        )
    return value


class AwsSsoStrategy:
    """Grants a permission set in an account (``aws_sso_permission_set``) or a group
    membership (``aws_sso_group``) to the requester's Identity Center user."""

    def __init__(self, center: IdentityCenter) -> None:
        self.center = center

    async def remote_identity(self, requester: str, name: str | None = None) -> str:
        """The requester's identity store user id (by user name ``name`` if given)."""
        try:
            if name is not None:
                user = await self.center.user_id(name, mapping="user_name")
            else:
                user = await self.center.user_id(requester)
        except AwsCallError as error:
            raise strategy_error("identity lookup", error, reached_target=False) from None
        if user is None:
            by_name = name is not None or self.center.user_mapping == "user_name"
            attribute = "user name" if by_name else "email"
            raise StrategyError(
                f"no user in the AWS identity store has the {attribute} {name or requester}",
                permanent=True,
                reached_target=False,
            )
        return user

    async def escalate(self, request: GrantRequest) -> None:
        """Create the assignment or membership (succeeds if it exists)."""
        target = request.target
        self._check(target)
        user = request.identity or await self.remote_identity(request.requester)
        try:
            if target.type == PERMISSION_SET:
                await self.center.assign(self._assignment(target, user))
            else:
                await self.center.add_member(target_text(target, "group_id"), user)
        except AwsCallError as error:
            raise strategy_error("escalate", error, reached_target=True) from None

    async def deescalate(self, request: GrantRequest) -> None:
        """Delete the assignment or membership and check it is gone (succeeds if it was)."""
        target = request.target
        self._check(target)
        try:
            # The user the grant was made to, if recorded; else whoever the mapping says now.
            user = request.identity or await self.center.user_id(request.requester)
        except AwsCallError as error:
            raise strategy_error("identity lookup", error, reached_target=False) from None
        if user is None:
            # A user deleted from the identity store holds nothing to revoke.
            log.warning(
                "requester has no identity store user; nothing to revoke",
                extra={"run_id": request.run_id},
            )
            return
        try:
            if target.type == PERMISSION_SET:
                await self.center.unassign(self._assignment(target, user))
            else:
                await self.center.remove_member(target_text(target, "group_id"), user)
        except AwsCallError as error:
            raise strategy_error("deescalate", error, reached_target=True) from None

    async def holders(self, target: Target) -> frozenset[str]:
        """The identity store users holding the target's permission set or group now."""
        self._check(target)
        try:
            if target.type == PERMISSION_SET:
                return await self.center.assigned_users(
                    target_text(target, "account_id"), target_text(target, "permission_set_arn")
                )
            return await self.center.group_members(target_text(target, "group_id"))
        except AwsCallError as error:
            raise strategy_error("listing holders", error, reached_target=False) from None

    async def remove_holder(self, target: Target, identity: str) -> None:
        """Take the target's access from an identity store user (succeeds if gone)."""
        self._check(target)
        try:
            if target.type == PERMISSION_SET:
                await self.center.unassign(self._assignment(target, identity))
            else:
                await self.center.remove_member(target_text(target, "group_id"), identity)
        except AwsCallError as error:
            raise strategy_error("reconcile", error, reached_target=True) from None

    @staticmethod
    def _check(target: Target) -> None:
        if target.type not in (PERMISSION_SET, GROUP):
            raise StrategyError(
                f"target {target.name}: an aws_sso strategy cannot grant {target.type} targets",
                permanent=True,
                reached_target=False,
            )
        if target.type == PERMISSION_SET:
            target_text(target, "permission_set_arn")
            target_text(target, "account_id")
        else:
            target_text(target, "group_id")

    @staticmethod
    def _assignment(target: Target, user: str) -> Assignment:
        return Assignment(
            account_id=target_text(target, "account_id"),
            permission_set_arn=target_text(target, "permission_set_arn"),
            user_id=user,
        )
