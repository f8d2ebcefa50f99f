"""moto in server mode, shared by the tests, with helpers that seed AWS state."""

from __future__ import annotations

import logging
import urllib.request
from dataclasses import dataclass
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from symbox.aws.session import AwsConnection
from symbox.aws.settings import ConnectionSettings

REGION = "us-east-1"
ACCOUNT_ID = "111122223333"
# What every test process sees instead of real AWS configuration.
AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}
AWS_UNSET = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
)


class MotoServer:
    """One moto server for the test session; ``reset`` empties it between tests."""

    def __init__(self) -> None:
        # werkzeug logs every request at INFO; tests assert on state, not on access logs.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"

    def reset(self) -> None:
        """Forget every AWS resource."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def stop(self) -> None:
        """Stop the server thread."""
        self._server.stop()


@dataclass(frozen=True)
class Sso:
    """The Identity Center instance moto creates for its account."""

    instance_arn: str
    identity_store_id: str


class MotoAws:
    """Seeds and inspects moto's state through symbox's own client layer."""

    def __init__(self, server: MotoServer) -> None:
        self.server = server
        self.connection = AwsConnection(
            ConnectionSettings(region=REGION, endpoint_url=server.url, max_attempts=1)
        )
        for service in ("sso-admin", "identitystore", "iam", "secretsmanager"):
            self.connection.require(service)

    async def sso(self) -> Sso:
        """The instance ARN and identity store id."""
        instances = (await self.connection.sso_admin().list_instances())["Instances"]
        return Sso(instances[0]["InstanceArn"], instances[0]["IdentityStoreId"])

    async def permission_set(self, name: str) -> str:
        """Create a permission set; return its ARN."""
        sso = await self.sso()
        created = await self.connection.sso_admin().create_permission_set(
            Name=name, InstanceArn=sso.instance_arn
        )
        return created["PermissionSet"]["PermissionSetArn"]

    async def sso_user(self, user_name: str, email: str | None = None) -> str:
        """Create an identity store user; return its id."""
        sso = await self.sso()
        created = await self.connection.identitystore().create_user(
            IdentityStoreId=sso.identity_store_id,
            UserName=user_name,
            DisplayName=user_name,
            Name={"GivenName": user_name, "FamilyName": "Test"},
            Emails=[{"Value": email or user_name, "Primary": True}],
        )
        return created["UserId"]

    async def sso_group(self, name: str) -> str:
        """Create an identity store group; return its id."""
        sso = await self.sso()
        created = await self.connection.identitystore().create_group(
            IdentityStoreId=sso.identity_store_id, DisplayName=name
        )
        return created["GroupId"]

    async def assignments(self, permission_set_arn: str, account_id: str = ACCOUNT_ID) -> list[str]:
        """The principal ids assigned the permission set in the account (duplicates kept)."""
        sso = await self.sso()
        listed = await self.connection.sso_admin().list_account_assignments(
            InstanceArn=sso.instance_arn, AccountId=account_id, PermissionSetArn=permission_set_arn
        )
        return [item["PrincipalId"] for item in listed["AccountAssignments"]]

    async def sso_members(self, group_id: str) -> list[str]:
        """The user ids in an identity store group (duplicates kept)."""
        sso = await self.sso()
        listed = await self.connection.identitystore().list_group_memberships(
            IdentityStoreId=sso.identity_store_id, GroupId=group_id
        )
        return [item["MemberId"]["UserId"] for item in listed["GroupMemberships"]]

    async def add_sso_member(self, group_id: str, user_id: str) -> None:
        """Put a user in an identity store group directly."""
        sso = await self.sso()
        await self.connection.identitystore().create_group_membership(
            IdentityStoreId=sso.identity_store_id, GroupId=group_id, MemberId={"UserId": user_id}
        )

    async def iam_user(self, name: str, tags: dict[str, str] | None = None) -> None:
        """Create an IAM user, optionally tagged."""
        extra: dict[str, Any] = {}
        if tags:
            extra["Tags"] = [{"Key": key, "Value": value} for key, value in tags.items()]
        await self.connection.iam().create_user(UserName=name, **extra)

    async def iam_group(self, name: str, *members: str) -> None:
        """Create an IAM group with members."""
        await self.connection.iam().create_group(GroupName=name)
        for member in members:
            await self.connection.iam().add_user_to_group(GroupName=name, UserName=member)

    async def iam_members(self, group: str) -> list[str]:
        """The IAM user names in a group."""
        found = await self.connection.iam().get_group(GroupName=group)
        return [user["UserName"] for user in found["Users"]]
