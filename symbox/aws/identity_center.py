"""IAM Identity Center: users by email, group memberships and account assignments."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import anyio

from symbox.aws.errors import AwsCallError, call
from symbox.aws.session import AwsConnection

UserMapping = Literal["user_name", "email"]
USER_MAPPINGS: tuple[UserMapping, ...] = ("user_name", "email")
# The identity store's attribute paths for each mapping (the two unique user attributes).
_ATTRIBUTE: dict[UserMapping, str] = {"user_name": "userName", "email": "emails.value"}
MAX_PAGES = 100
# A revoke that still finds the assignment deletes again this many times before failing.
MAX_DELETE_ROUNDS = 3


@dataclass(frozen=True)
class Polling:
    """How to wait for an assignment request: growing delays, bounded in total."""

    first: float = 0.5
    factor: float = 1.5
    longest: float = 5.0
    timeout: float = 120.0


@dataclass(frozen=True)
class Assignment:
    """A permission set in an account, for one user."""

    account_id: str
    permission_set_arn: str
    user_id: str


def _unique(path: str, value: str) -> Any:
    # The stubs type AttributeValue as a JSON document; a plain string is what AWS expects.
    return {"UniqueAttribute": {"AttributePath": path, "AttributeValue": value}}


class IdentityCenter:
    """One Identity Center instance and its identity store, through one connection."""

    def __init__(
        self,
        connection: AwsConnection,
        instance_arn: str,
        *,
        identity_store_id: str | None = None,
        user_mapping: UserMapping = "user_name",
        polling: Polling | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.instance_arn = instance_arn
        self.user_mapping = user_mapping
        self._connection = connection
        self._store_id = identity_store_id
        self._store_lock = anyio.Lock()
        self._polling = polling or Polling()
        self._sleep = sleep

    async def identity_store(self) -> str:
        """The identity store id: configured, or found once with ListInstances."""
        async with self._store_lock:
            if self._store_id is None:
                self._store_id = await self._find_identity_store()
            return self._store_id

    async def _find_identity_store(self) -> str:
        client = self._connection.sso_admin()
        token: str | None = None
        for _ in range(MAX_PAGES):
            extra: dict[str, Any] = {"NextToken": token} if token else {}
            page = await call("sso-admin:ListInstances", client.list_instances(**extra))
            for instance in page.get("Instances", []):
                if instance.get("InstanceArn") == self.instance_arn and instance.get(
                    "IdentityStoreId"
                ):
                    return instance["IdentityStoreId"]
            token = page.get("NextToken")
            if not token:
                break
        raise AwsCallError(
            f"sso-admin:ListInstances: no Identity Center instance {self.instance_arn} "
            "is visible to these credentials",
            code="ResourceNotFoundException",
            permanent=True,
        )

    async def user_id(self, email: str, mapping: UserMapping | None = None) -> str | None:
        """The identity store user for ``email`` under the user mapping (or ``mapping``)."""
        store = await self.identity_store()
        attribute = _ATTRIBUTE[mapping or self.user_mapping]
        lookup = self._connection.identitystore().get_user_id(
            IdentityStoreId=store, AlternateIdentifier=_unique(attribute, email)
        )
        try:
            found = await call("identitystore:GetUserId", lookup)
        except AwsCallError as error:
            if error.not_found:
                return None
            raise
        return found["UserId"]

    async def group_id(self, display_name: str) -> str | None:
        """The group whose display name is ``display_name``, or None."""
        store = await self.identity_store()
        lookup = self._connection.identitystore().get_group_id(
            IdentityStoreId=store, AlternateIdentifier=_unique("displayName", display_name)
        )
        try:
            found = await call("identitystore:GetGroupId", lookup)
        except AwsCallError as error:
            if error.not_found:
                return None
            raise
        return found["GroupId"]

    async def is_member(self, user_id: str, group_id: str) -> bool:
        """Whether the user belongs to the group."""
        store = await self.identity_store()
        answer = await call(
            "identitystore:IsMemberInGroups",
            self._connection.identitystore().is_member_in_groups(
                IdentityStoreId=store, MemberId={"UserId": user_id}, GroupIds=[group_id]
            ),
        )
        return any(result.get("MembershipExists") is True for result in answer["Results"])

    async def membership_id(self, group_id: str, user_id: str) -> str | None:
        """The membership of the user in the group, or None."""
        store = await self.identity_store()
        lookup = self._connection.identitystore().get_group_membership_id(
            IdentityStoreId=store, GroupId=group_id, MemberId={"UserId": user_id}
        )
        try:
            found = await call("identitystore:GetGroupMembershipId", lookup)
        except AwsCallError as error:
            if error.not_found:
                return None
            raise
        return found["MembershipId"]

    async def add_member(self, group_id: str, user_id: str) -> None:
        """Put the user in the group; succeed if they already are."""
        if await self.membership_id(group_id, user_id) is not None:
            return
        store = await self.identity_store()
        create = self._connection.identitystore().create_group_membership(
            IdentityStoreId=store, GroupId=group_id, MemberId={"UserId": user_id}
        )
        try:
            await call("identitystore:CreateGroupMembership", create)
        except AwsCallError as error:
            # A conflict is usually "already a member" (a concurrent add); check, not assume.
            if error.code != "ConflictException" or not await self.membership_id(group_id, user_id):
                raise

    async def remove_member(self, group_id: str, user_id: str) -> None:
        """Take the user out of the group, and check they are out; succeed if they were."""
        store = await self.identity_store()
        client = self._connection.identitystore()
        for _ in range(MAX_DELETE_ROUNDS):
            membership = await self.membership_id(group_id, user_id)
            if membership is None:
                return
            try:
                await call(
                    "identitystore:DeleteGroupMembership",
                    client.delete_group_membership(IdentityStoreId=store, MembershipId=membership),
                )
            except AwsCallError as error:
                if not error.not_found:
                    raise
        if await self.membership_id(group_id, user_id) is not None:
            raise AwsCallError(
                "identitystore:DeleteGroupMembership: the membership is still there",
                code="StillPresent",
                permanent=False,
            )

    async def group_members(self, group_id: str) -> frozenset[str]:
        """The user ids that are members of the group."""
        store = await self.identity_store()
        client = self._connection.identitystore()
        users: set[str] = set()
        token: str | None = None
        for _ in range(MAX_PAGES):
            extra: dict[str, Any] = {"NextToken": token} if token else {}
            page = await call(
                "identitystore:ListGroupMemberships",
                client.list_group_memberships(IdentityStoreId=store, GroupId=group_id, **extra),
            )
            for membership in page.get("GroupMemberships", []):
                user = membership.get("MemberId", {}).get("UserId")
                if isinstance(user, str):
                    users.add(user)
            token = page.get("NextToken")
            if not token:
                break
        return frozenset(users)

    async def assigned_users(self, account_id: str, permission_set_arn: str) -> frozenset[str]:
        """The user ids assigned the permission set in the account (groups left out)."""
        client = self._connection.sso_admin()
        users: set[str] = set()
        token: str | None = None
        for _ in range(MAX_PAGES):
            extra: dict[str, Any] = {"NextToken": token} if token else {}
            page = await call(
                "sso-admin:ListAccountAssignments",
                client.list_account_assignments(
                    InstanceArn=self.instance_arn,
                    AccountId=account_id,
                    PermissionSetArn=permission_set_arn,
                    **extra,
                ),
            )
            for found in page.get("AccountAssignments", []):
                principal = found.get("PrincipalId")
                if found.get("PrincipalType") == "USER" and isinstance(principal, str):
                    users.add(principal)
            token = page.get("NextToken")
            if not token:
                break
        return frozenset(users)

    async def has_assignment(self, assignment: Assignment) -> bool:
        """Whether the user holds the permission set in the account."""
        holders = await self.assigned_users(assignment.account_id, assignment.permission_set_arn)
        return assignment.user_id in holders

    async def assign(self, assignment: Assignment) -> None:
        """Create the assignment and wait until AWS reports it done; succeed if it exists."""
        if await self.has_assignment(assignment):
            return
        created = await call(
            "sso-admin:CreateAccountAssignment",
            self._connection.sso_admin().create_account_assignment(**self._arguments(assignment)),
        )
        await self._wait("creation", created["AccountAssignmentCreationStatus"])

    async def unassign(self, assignment: Assignment) -> None:
        """Delete the assignment, wait for AWS, and check it is gone; succeed if it was."""
        client = self._connection.sso_admin()
        for _ in range(MAX_DELETE_ROUNDS):
            if not await self.has_assignment(assignment):
                return
            try:
                deleted = await call(
                    "sso-admin:DeleteAccountAssignment",
                    client.delete_account_assignment(**self._arguments(assignment)),
                )
            except AwsCallError as error:
                if error.not_found:
                    continue  # gone in the meantime: the next check confirms it
                raise
            await self._wait("deletion", deleted["AccountAssignmentDeletionStatus"])
        if await self.has_assignment(assignment):
            raise AwsCallError(
                "sso-admin:DeleteAccountAssignment: the assignment is still there",
                code="StillPresent",
                permanent=False,
            )

    def _arguments(self, assignment: Assignment) -> dict[str, Any]:
        return {
            "InstanceArn": self.instance_arn,
            "TargetId": assignment.account_id,
            "TargetType": "AWS_ACCOUNT",
            "PermissionSetArn": assignment.permission_set_arn,
            "PrincipalType": "USER",
            "PrincipalId": assignment.user_id,
        }

    async def _wait(self, kind: Literal["creation", "deletion"], status: Any) -> None:
        """Poll the request's status until SUCCEEDED (return) or FAILED / too long (raise)."""
        client = self._connection.sso_admin()
        operation = f"sso-admin:DescribeAccountAssignment{kind.capitalize()}Status"
        polling = self._polling
        deadline = anyio.current_time() + polling.timeout
        delay = polling.first
        while True:
            state = status.get("Status")
            if state == "SUCCEEDED":
                return
            if state == "FAILED":
                reason = str(status.get("FailureReason") or "no reason given")[:300]
                raise AwsCallError(
                    f"account assignment {kind} failed: {reason}",
                    code="AssignmentFailed",
                    permanent=False,
                )
            if anyio.current_time() + delay > deadline:
                raise AwsCallError(
                    f"account assignment {kind} still {state} after {polling.timeout:g} s",
                    code="AssignmentTimeout",
                    permanent=False,
                )
            await self._sleep(delay)
            delay = min(delay * polling.factor, polling.longest)
            request_id = status.get("RequestId")
            if kind == "creation":
                reply: Any = await call(
                    operation,
                    client.describe_account_assignment_creation_status(
                        InstanceArn=self.instance_arn,
                        AccountAssignmentCreationRequestId=request_id,
                    ),
                )
                status = reply["AccountAssignmentCreationStatus"]
            else:
                reply = await call(
                    operation,
                    client.describe_account_assignment_deletion_status(
                        InstanceArn=self.instance_arn,
                        AccountAssignmentDeletionRequestId=request_id,
                    ),
                )
                status = reply["AccountAssignmentDeletionStatus"]
