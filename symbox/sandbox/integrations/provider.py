"""`Integrations`: the host's IntegrationProvider, routing hook calls to configured clients."""

from __future__ import annotations

from typing import Any, Protocol

from symbox.sandbox.integrations.aws import AwsIamHooks, AwsLambdaHooks, AwsSsoHooks
from symbox.sandbox.integrations.github import GithubClient
from symbox.sandbox.integrations.knowbe4 import KnowBe4Client
from symbox.sandbox.integrations.okta import OktaClient
from symbox.sandbox.integrations.pagerduty import PagerDutyClient
from symbox.sandbox.sdk.exceptions import (
    AWSIAMError,
    AWSLambdaError,
    AWSSSOError,
    GitHubError,
    KnowBe4Error,
    OktaError,
    PagerDutyError,
    SlackError,
    SymException,
)


class SlackCalls(Protocol):
    """The host's side of ``sym.sdk.integrations.slack`` (symbox.slack.hook_calls)."""

    async def call(self, method: str, args: dict[str, Any]) -> Any:
        """Run one call, or raise SlackError."""
        ...


def _text(args: dict[str, Any], name: str, error: type[SymException]) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value:
        raise error(f"{name} must be a non-empty str")
    return value


def _optional(args: dict[str, Any], name: str, error: type[SymException]) -> str | None:
    value = args.get(name)
    if value is None or isinstance(value, str):
        return value
    raise error(f"{name} must be a str")


def _names(args: dict[str, Any], name: str, error: type[SymException]) -> list[str]:
    value = args.get(name)
    if type(value) is not list or not value or not all(type(item) is str for item in value):
        raise error(f"{name} must be a non-empty list of str")
    return value


class Integrations:
    """Routes hooks' integration calls to PagerDuty, Okta, GitHub, KnowBe4, AWS and Slack."""

    def __init__(
        self,
        *,
        pagerduty: PagerDutyClient | None = None,
        okta: OktaClient | None = None,
        aws_iam: AwsIamHooks | None = None,
        aws_sso: AwsSsoHooks | None = None,
        slack: SlackCalls | None = None,
        aws_lambda: AwsLambdaHooks | None = None,
        github: GithubClient | None = None,
        knowbe4: KnowBe4Client | None = None,
    ) -> None:
        self._knowbe4 = knowbe4
        self._lambda = aws_lambda
        self._github = github
        self._pagerduty = pagerduty
        self._slack = slack
        self._okta = okta
        self._aws: dict[str, AwsIamHooks | AwsSsoHooks | None] = {
            "aws_iam": aws_iam,
            "aws_sso": aws_sso,
        }

    async def call(self, integration: str, method: str, args: dict[str, Any]) -> Any:
        """Run one call; a `SymException` subclass for anything unknown or unconfigured."""
        if integration == "pagerduty":
            return await self._call_pagerduty(method, args)
        if integration == "okta":
            return await self._call_okta(method, args)
        if integration in self._aws:
            return await self._call_aws(integration, method, args)
        if integration == "aws_lambda":
            if self._lambda is None:
                raise AWSLambdaError("no aws_lambda strategy is configured")
            arn = _text(args, "arn", AWSLambdaError)
            if method == "invoke":
                return await self._lambda.invoke(arn, args.get("payload"))
            if method == "invoke_async":
                return await self._lambda.invoke_async(arn, args.get("payload"))
            raise AWSLambdaError(f"aws_lambda has no method {method!r}")
        if integration == "github":
            if self._github is None:
                raise GitHubError("no github integration is configured")
            if method != "get_repo_collaborators":
                raise GitHubError(f"github has no method {method!r}")
            return await self._github.get_repo_collaborators(
                _text(args, "repo_name", GitHubError), _names(args, "roles", GitHubError)
            )
        if integration == "knowbe4":
            return await self._call_knowbe4(method, args)
        if integration == "slack":
            if self._slack is None:
                raise SlackError("no slack integration is configured")
            return await self._slack.call(method, args)
        raise SymException(f"the {integration} integration is not supported")

    async def _call_pagerduty(self, method: str, args: dict[str, Any]) -> Any:
        client = self._pagerduty
        if client is None:
            raise PagerDutyError("no pagerduty integration is configured")
        schedule = _optional(args, "schedule_name", PagerDutyError)
        if method == "is_on_call":
            return await client.is_on_call(_text(args, "email", PagerDutyError), schedule)
        if method == "users_on_call":
            return await client.users_on_call(schedule)
        raise PagerDutyError(f"pagerduty has no method {method!r}")

    async def _call_okta(self, method: str, args: dict[str, Any]) -> Any:
        client = self._okta
        if client is None:
            raise OktaError("no okta integration is configured")
        if method == "get_user_info":
            return await client.get_user_info(_text(args, "email", OktaError))
        if method not in ("is_user_in_group", "users_in_group"):
            raise OktaError(f"okta has no method {method!r}")
        # Sym names groups by id; symbox's older form by name.
        by_id = "group_id" in args
        group = _text(args, "group_id" if by_id else "group_name", OktaError)
        if method == "is_user_in_group":
            email = _text(args, "email", OktaError)
            if by_id:
                return await client.is_user_in_group_id(email, group)
            return await client.is_user_in_group(email, group)
        return await (client.users_in_group_id(group) if by_id else client.users_in_group(group))

    async def _call_aws(self, integration: str, method: str, args: dict[str, Any]) -> Any:
        error = AWSIAMError if integration == "aws_iam" else AWSSSOError
        client = self._aws[integration]
        if client is None:
            raise error(f"no {integration} strategy is configured")
        if method != "is_user_in_group":
            raise error(f"{integration} has no method {method!r}")
        email = _text(args, "email", error)
        return await client.is_user_in_group(email, _text(args, "group_name", error))

    async def _call_knowbe4(self, method: str, args: dict[str, Any]) -> Any:
        client = self._knowbe4
        if client is None:
            raise KnowBe4Error("no knowbe4 integration is configured")
        email = _text(args, "email", KnowBe4Error)
        if method == "get_training_enrollments_for_user":
            purchase, campaign = args.get("store_purchase_id"), args.get("campaign_id")
            return await client.training_enrollments(
                email, _id(purchase, "store_purchase_id"), _id(campaign, "campaign_id")
            )
        if method == "is_user_in_group":
            group = _id(args.get("group_id"), "group_id")
            if group is None:
                raise KnowBe4Error("group_id is required")
            return await client.is_user_in_group(email, group)
        raise KnowBe4Error(f"knowbe4 has no method {method!r}")


def _id(value: object, name: str) -> int | None:
    if value is None or type(value) is int:
        return value
    raise KnowBe4Error(f"{name} must be an int")
