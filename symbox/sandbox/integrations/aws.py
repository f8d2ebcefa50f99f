"""AWS IAM and IAM Identity Center group lookups, run on the host for hooks."""

from __future__ import annotations

import json
from typing import Any

from symbox.aws.errors import AwsCallError, call
from symbox.aws.iam import IamDirectory
from symbox.aws.identity_center import IdentityCenter
from symbox.aws.session import AwsConnection
from symbox.sandbox.sdk.exceptions import AWSIAMError, AWSLambdaError, AWSSSOError

# A function's answer handed to a hook is capped like any reply from the host.
MAX_LAMBDA_REPLY = 256 * 1024


class AwsIamHooks:
    """`aws_iam.is_user_in_group`, with the first ``aws_iam`` strategy's credentials and mapping."""

    def __init__(self, directory: IamDirectory) -> None:
        self._directory = directory

    async def is_user_in_group(self, email: str, group_name: str) -> bool:
        """Whether the IAM user ``email`` maps to is in ``group_name``; the group must exist."""
        try:
            if not await self._directory.group_exists(group_name):
                raise AWSIAMError(f"no AWS IAM group is named {group_name!r}")
            user = await self._directory.user_name(email)
            # Someone without an IAM user belongs to no group.
            return user is not None and await self._directory.in_group(user, group_name)
        except AwsCallError as error:
            raise AWSIAMError(str(error)) from None


class AwsSsoHooks:
    """`aws_sso.is_user_in_group`, in the identity store of the first ``aws_sso`` strategy."""

    def __init__(self, center: IdentityCenter) -> None:
        self._center = center

    async def is_user_in_group(self, email: str, group_name: str) -> bool:
        """Whether the identity store user for ``email`` is in the group so named."""
        try:
            group = await self._center.group_id(group_name)
            if group is None:
                raise AWSSSOError(f"no AWS SSO group is named {group_name!r}")
            user = await self._center.user_id(email)
            return user is not None and await self._center.is_member(user, group)
        except AwsCallError as error:
            raise AWSSSOError(str(error)) from None


class AwsLambdaHooks:
    """`aws_lambda.invoke`, with the first ``aws_lambda`` strategy's credentials."""

    def __init__(self, connection: AwsConnection) -> None:
        self._connection = connection

    async def invoke_async(self, arn: str, payload: Any) -> bool:
        """Queue an invocation (Lambda's ``Event`` type); True once Lambda accepted it."""
        body = _body("invoke_async", payload)
        try:
            answer = await call(
                "lambda:Invoke",
                self._connection.lambda_().invoke(
                    FunctionName=arn, InvocationType="Event", Payload=body
                ),
            )
        except AwsCallError as error:
            raise AWSLambdaError(str(error)) from None
        # Lambda answers 202 Accepted to a queued invocation.
        return answer.get("StatusCode") == 202

    async def invoke(self, arn: str, payload: Any) -> Any:
        """Invoke the function synchronously with ``payload``; return its JSON answer."""
        body = _body("invoke", payload)
        try:
            answer = await call(
                "lambda:Invoke",
                self._connection.lambda_().invoke(
                    FunctionName=arn, InvocationType="RequestResponse", Payload=body
                ),
            )
            raw = await answer["Payload"].read()
        except AwsCallError as error:
            raise AWSLambdaError(str(error)) from None
        if len(raw) > MAX_LAMBDA_REPLY:
            raise AWSLambdaError(f"{arn} answered more than {MAX_LAMBDA_REPLY} bytes")
        if answer.get("FunctionError"):
            raise AWSLambdaError(f"{arn} failed: {raw[:300].decode(errors='replace')}")
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise AWSLambdaError(f"{arn} did not answer JSON") from None


def _body(method: str, payload: Any) -> bytes:
    try:
        return json.dumps(payload).encode()
    except (TypeError, ValueError):
        raise AWSLambdaError(f"aws_lambda.{method}: the payload must be JSON data") from None
