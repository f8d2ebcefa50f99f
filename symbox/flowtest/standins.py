"""What ``symbox test`` puts in place of the outside world: stated answers and recorded grants.

Integrations answer from the case's stated answers, strategies record what they would
grant, and the clock stands still; hooks themselves run for real in the sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx

from symbox.config.model import Config, Secret
from symbox.flowtest.answers import STRATEGY, Answers
from symbox.sandbox.errors import HookFailure
from symbox.sandbox.integrations.base import IntegrationProvider
from symbox.sandbox.integrations.build import hook_integration_types
from symbox.sandbox.pool import DEFAULT_SCOPE, HookPool
from symbox.sandbox.sdk.exceptions import (
    AWSIAMError,
    AWSLambdaError,
    AWSSSOError,
    GitHubError,
    OktaError,
    PagerDutyError,
    SlackError,
    SymException,
)
from symbox.strategies.base import AccessStrategy, GrantRequest, StrategyError

ERRORS: Mapping[str, type[SymException]] = {
    "pagerduty": PagerDutyError,
    "okta": OktaError,
    "aws_iam": AWSIAMError,
    "aws_sso": AWSSSOError,
    "slack": SlackError,
    "github": GitHubError,
    "aws_lambda": AWSLambdaError,
}
# Strategies that grant to the requester's email; every other type resolves an identity.
EMAIL_STRATEGY_TYPES = frozenset({"http", "aws_lambda"})
# How long values may be in a trace line before they are shortened.
_SHOWN = 160


@dataclass(frozen=True)
class Step:
    """One line of a case's trace: what ran (a hook, a call, a step) and what came of it."""

    kind: str
    text: str


@dataclass
class Trace:
    """The steps of the case running now; the runner starts a new list for each case."""

    steps: list[Step] = field(default_factory=list)

    def add(self, kind: str, text: str) -> None:
        """Record one step."""
        self.steps.append(Step(kind, text))


def shown(value: Any) -> str:
    """A value as a trace shows it: JSON, shortened."""
    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


class TracingPool(HookPool):
    """The real hook pool, noting each hook call and what it returned in the trace."""

    def __init__(self, trace: Trace, **options: Any) -> None:
        super().__init__(**options)
        self._trace = trace

    async def call(
        self,
        source: str,
        filename: str,
        function: str,
        args: Sequence[Any] = (),
        timeout: float | None = None,  # noqa: ASYNC109
        *,
        wrap_event: bool = False,
        wrap_form: bool = False,
        integrations: IntegrationProvider | None = None,
        scope: str = DEFAULT_SCOPE,
        owner: str | None = None,
    ) -> Any:
        """Run the hook as the pool does; note it, and its value or error, in the trace."""
        event = args[0] if wrap_event and args and isinstance(args[0], Mapping) else {}
        user = event.get("user") if isinstance(event.get("user"), Mapping) else {}
        who = user.get("email") or user.get("username") if user else None
        called = f"{function}(event {event.get('name')}, user {who})" if event else function
        try:
            value = await super().call(
                source,
                filename,
                function,
                args,
                timeout,
                wrap_event=wrap_event,
                wrap_form=wrap_form,
                integrations=integrations,
                scope=scope,
                owner=owner,
            )
        except HookFailure as error:
            self._trace.add("hook", f"{called} raised {error}")
            raise
        self._trace.add("hook", f"{called} returned {shown(value)}")
        return value


class StatedIntegrations:
    """Answers hooks' integration calls from a case's stated answers (never the network).

    ``reachable`` are the integrations the flow's environment has in the config: calls to
    any other fail as they would in production. An integration the case states nothing
    for answers as if empty: nobody on call, no group members.
    """

    def __init__(self, answers: Answers, reachable: frozenset[str], trace: Trace) -> None:
        self._answers = answers
        self._reachable = reachable
        self._trace = trace

    async def call(self, integration: str, method: str, args: dict[str, Any]) -> Any:
        """Answer one call, noting it in the trace."""
        called = f"{integration}.{method}({shown(args)})"
        try:
            value = self._answer(integration, method, args)
        except SymException as error:
            self._trace.add("integration", f"{called} failed: {error.message}")
            raise
        self._trace.add("integration", f"{called} -> {shown(value)}")
        return value

    def _answer(self, integration: str, method: str, args: dict[str, Any]) -> Any:
        error = ERRORS.get(integration, SymException)
        if integration not in ERRORS:
            raise SymException(f"the {integration} integration is not supported")
        if integration not in self._reachable:
            raise error(f"no {integration} integration is configured")
        failure = self._answers.failures.get(integration)
        if failure is not None:
            raise error(failure)
        email = str(args.get("email") or args.get("user") or "").lower()
        group = str(args.get("group_name") or "")
        answers = self._answers
        if integration == "pagerduty":
            schedule = args.get("schedule_name")
            people = answers.pagerduty_on_call
            if isinstance(schedule, str) and schedule in answers.pagerduty_schedules:
                people = answers.pagerduty_schedules[schedule]
            if method == "is_on_call":
                return email in people
            if method == "users_on_call":
                return [{"email": person} for person in people]
        elif integration in ("okta", "aws_iam", "aws_sso", "slack") and method.endswith("group"):
            members = answers.groups.get(integration, {}).get(group, ())
            if method == "is_user_in_group":
                return email in members
            if method == "users_in_group":
                return [{"email": person} for person in members]
        elif integration == "slack":
            return self._slack(method, args, email)
        elif integration == "github" and method == "get_repo_collaborators":
            roles = {str(role).lower() for role in args.get("roles") or ()}
            collaborators = answers.github_collaborators.get(str(args.get("repo_name")), {})
            return [{"email": who} for who, role in sorted(collaborators.items()) if role in roles]
        elif integration == "aws_lambda" and method == "invoke":
            arn = str(args.get("arn"))
            if arn not in answers.aws_lambda:
                raise AWSLambdaError(f"function {arn} does not exist (no answer stated for it)")
            return answers.aws_lambda[arn]
        raise error(f"{integration} has no method {method!r}")

    def _slack(self, method: str, args: dict[str, Any], who: str) -> Any:
        if method == "send_message":
            # Nothing is posted; the trace shows the message with the call.
            return None
        if method == "get_user_info":
            stated = self._answers.slack_users.get(who)
            if stated is None:
                raise SlackError(f"no Slack user {who} (none stated)")
            return {"id": who, "email": who, "is_guest": False, "deleted": False, **stated}
        raise SlackError(f"slack has no method {method!r}")


def stated_http(answers: Answers, trace: Trace) -> httpx.AsyncClient:
    """An HTTP client whose every response is a stated one; nothing leaves the process."""

    def respond(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        bare = str(request.url.copy_with(query=None))
        for key in (f"{request.method} {url}", url, f"{request.method} {bare}", bare):
            answer = answers.http.get(key)
            if answer is not None:
                trace.add("http", f"{request.method} {url} -> {answer.status}")
                return httpx.Response(
                    answer.status, headers=dict(answer.headers), content=answer.body
                )
        trace.add("http", f"{request.method} {url}: no response stated, connection refused")
        raise httpx.ConnectError(f"no response stated for {request.method} {url}", request=request)

    return httpx.AsyncClient(transport=httpx.MockTransport(respond))


@dataclass(frozen=True)
class Grant:
    """What a strategy was asked to do."""

    action: str
    strategy: str
    target: str
    identity: str
    at: float


class RecordingStrategy:
    """A strategy that grants nothing and records what it was asked to grant or revoke."""

    def __init__(self, name: str, grants: list[Grant], trace: Trace, failure: str | None) -> None:
        self._name = name
        self._grants = grants
        self._trace = trace
        self._failure = failure

    async def escalate(self, request: GrantRequest) -> None:
        """Record the grant (or fail as the case says)."""
        await self._record("escalate", request)

    async def deescalate(self, request: GrantRequest) -> None:
        """Record the revoke."""
        await self._record("deescalate", request)

    async def _record(self, action: str, request: GrantRequest) -> None:
        identity = request.identity or request.requester
        what = f"{action} {identity} -> {request.target.name} ({self._name})"
        if self._failure is not None and action == "escalate":
            self._trace.add("strategy", f"{what} failed: {self._failure}")
            raise StrategyError(self._failure, permanent=True)
        self._trace.add("strategy", what)
        self._grants.append(Grant(action, self._name, request.target.name, identity, request.at))


class ResolvingStrategy(RecordingStrategy):
    """A recording strategy whose system knows people by an identity of its own."""

    def __init__(
        self,
        name: str,
        grants: list[Grant],
        trace: Trace,
        failure: str | None,
        identities: Mapping[str, str],
    ) -> None:
        super().__init__(name, grants, trace, failure)
        self._identities = identities

    async def remote_identity(self, requester: str, name: str | None = None) -> str:
        """The name get_identity gave, else the stated identity, else the email itself."""
        return name or self._identities.get(requester.lower(), requester)


def recording_strategies(
    config: Config, answers: Answers, grants: list[Grant], trace: Trace
) -> dict[str, AccessStrategy]:
    """A recording strategy in place of each of the config's strategies."""
    failure = answers.failures.get(STRATEGY)
    built: dict[str, AccessStrategy] = {}
    for key, strategy in config.strategies.items():
        if strategy.type in EMAIL_STRATEGY_TYPES:
            built[key] = RecordingStrategy(strategy.name, grants, trace, failure)
        else:
            built[key] = ResolvingStrategy(
                strategy.name, grants, trace, failure, answers.identities
            )
    return built


def reachable(config: Config, environment: str) -> frozenset[str]:
    """The integrations ``environment``'s hooks reach in production, by SDK name."""
    found = set(hook_integration_types(config, environment))
    kinds = {strategy.type for strategy in config.strategies.values()}
    found.update(kind for kind in ("aws_iam", "aws_sso", "aws_lambda") if kind in kinds)
    if any(
        item.type == "slack" and isinstance(item.settings.get("bot_token"), Secret)
        for item in config.integrations.values()
    ):
        found.add("slack")
    return frozenset(found)


class StillClock:
    """A clock standing at one moment: nothing in a case waits for time to pass."""

    def __init__(self, moment: float) -> None:
        self._moment = moment

    def now(self) -> float:
        """The case's moment."""
        return self._moment

    async def sleep_until(self, deadline: float) -> None:
        """Return at once if the moment has come; it never will otherwise."""
        if deadline > self._moment:
            await anyio.sleep_forever()


class PlaceholderEnviron(Mapping[str, str]):
    """The process environment, with a placeholder for every unset name.

    ``symbox test`` calls nothing outside, so secrets the config reads with ``env()`` need
    not be set; variables set in the environment (``SYMBOX_VAR_*``) still count.
    """

    def __init__(self, environ: Mapping[str, str], placeholder: Callable[[str], str]) -> None:
        self._environ = environ
        self._placeholder = placeholder

    def __getitem__(self, name: str) -> str:
        value = self._environ.get(name)
        return self._placeholder(name) if value is None else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._environ)

    def __len__(self) -> int:
        return len(self._environ)
