"""`sym.sdk.integrations`: facades that forward integration calls to the host process."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable
from typing import Any, NoReturn, cast

from symbox.sandbox.guards import default_iter_check
from symbox.sandbox.sdk.event import User
from symbox.sandbox.sdk.exceptions import EXCEPTIONS, GitHubError, KnowBe4Error, SymException
from symbox.sandbox.sdk.placeholders import unsupported

# The key marking a worker frame as an integration call rather than a final reply.
CALL_KEY = "integration_call"
# The key of the call id every worker frame carries (the host refuses frames of other calls).
CALL_ID_KEY = "call_id"
DEFAULT_MAX_CALLS = 50
# The error type each integration's failures surface as inside a hook.
ERROR_TYPES = {
    "pagerduty": "PagerDutyError",
    "okta": "OktaError",
    "aws_iam": "AWSIAMError",
    "aws_sso": "AWSSSOError",
    "aws_lambda": "AWSLambdaError",
    "slack": "SlackError",
    "github": "GitHubError",
    "knowbe4": "KnowBe4Error",
    "http": "HTTPError",
    "secrets": "AccessStrategyError",
    "templates": "TemplateError",
}

# Sends one call frame to the host and returns its (trusted) reply frame.
Transport = Callable[[bytes], bytes]


class IntegrationChannel:
    """The worker's side of integration calls: frames out, replies in, a per-call budget.

    The channel is open only while the host waits on a call: code a call leaves behind
    (a generator finalised later, say) cannot reach the host between calls, and every
    frame carries the id of the call that is open, which the host checks.
    """

    __slots__ = ("_call", "_limit", "_made", "_max_frame", "_transport")

    def __init__(self, transport: Transport | None, max_frame: int | None = None) -> None:
        self._transport = transport
        # The host refuses larger frames (and replaces the worker): refuse them here first.
        self._max_frame = max_frame
        self._limit = DEFAULT_MAX_CALLS
        self._made = 0
        self._call: str | None = None

    def begin(self, limit: int, call: str | None = None) -> None:
        """Start hook call ``call`` with a fresh budget of `limit` integration calls."""
        self._limit = limit
        self._made = 0
        self._call = call

    def end(self) -> None:
        """Close the channel until the next call begins."""
        self._call = None
        self._made = self._limit

    @property
    def call_id(self) -> str | None:
        """The id of the call the channel is open for, if any."""
        return self._call

    def call(self, integration: str, method: str, args: dict[str, Any]) -> Any:
        """Run `integration.method(**args)` on the host; raise the SDK error it reports."""
        error_type = _error_class(ERROR_TYPES.get(integration, "SymException"))
        if self._transport is None:
            raise error_type(f"{integration} is not available outside a hook worker")
        if self._call is None:
            raise error_type(f"{integration} is not available outside a hook call")
        self._made += 1
        # Counted here too so a hook looping on a caught error does not keep the host busy.
        if self._made > self._limit:
            raise SymException(
                f"too many integration calls: a hook call may make at most {self._limit}"
            )
        frame = {
            CALL_KEY: {"integration": integration, "method": method, "args": args},
            CALL_ID_KEY: self._call,
        }
        data = pickle.dumps(frame)
        if self._max_frame is not None and len(data) > self._max_frame:
            raise error_type(
                f"{integration}.{method}: the call is {len(data)} bytes; at most "
                f"{self._max_frame} may be sent"
            )
        reply = pickle.loads(self._transport(data))
        if reply.get("ok"):
            return reply.get("value")
        error = reply.get("error") or {}
        raise _error_class(str(error.get("type")))(str(error.get("message", "")))


def _error_class(name: str) -> type[SymException]:
    return next((kind for kind in EXCEPTIONS if kind.__name__ == name), SymException)


def _email(user: object) -> str:
    """An email from a user facade or a string, as Sym's SDK accepts both."""
    if isinstance(user, User) and user.email:
        return user.email
    # Exact types only: a hook's str subclass would be pickled by class reference.
    if type(user) is str and user:
        return user
    raise SymException(f"expected a user or an email, got {type(user).__name__}")


def _optional_name(value: object, what: str) -> str | None:
    if value is None or type(value) is str:
        return value
    raise SymException(f"{what} must be a str, got {type(value).__name__}")


def _users(value: Any) -> list[User]:
    if not isinstance(value, list):
        return []
    return [_user(item.get("email")) for item in value if isinstance(item, dict)]


def _user(email: object) -> User:
    # As event users are: a person's username is their email, as in Sym.
    return User({"email": email, "username": email if isinstance(email, str) else None})


class _Integration:
    """Base of the facades: no `__dict__`, read-only, and the channel behind an underscore."""

    __slots__ = ("_channel",)

    _channel: IntegrationChannel
    # The module's name under sym.sdk.integrations, for what symbox lacks of it.
    _sdk_name = ""
    # Importable as the module it stands for: `from sym.sdk.integrations.okta import ...`.
    _sandbox_module_ = True

    def __init__(self, channel: IntegrationChannel) -> None:
        object.__setattr__(self, "_channel", channel)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        # A function of Sym's module that symbox lacks fails naming itself, as the rest of
        # sym.sdk does (okta.list_groups, say).
        unsupported(f"sym.sdk.integrations.{self._sdk_name}.{name}")

    def _read_only(self, *args: object) -> NoReturn:
        raise TypeError("integrations are read-only in hooks")

    __setattr__ = _read_only
    __delattr__ = _read_only
    __guarded_setattr__ = _read_only
    __guarded_delattr__ = _read_only


class PagerDuty(_Integration):
    """`sym.sdk.integrations.pagerduty`: on-call lookups."""

    __slots__ = ()
    _sdk_name = "pagerduty"

    def is_on_call(self, user: object, schedule_name: str | None = None) -> bool:
        """Whether `user` (a user or an email) is on call, optionally in `schedule_name`."""
        args = {"email": _email(user), "schedule_name": _optional_name(schedule_name, "schedule")}
        return self._channel.call("pagerduty", "is_on_call", args) is True

    def users_on_call(self, schedule_name: str | None = None) -> list[User]:
        """The users on call, optionally only in `schedule_name`."""
        args = {"schedule_name": _optional_name(schedule_name, "schedule")}
        return _users(self._channel.call("pagerduty", "users_on_call", args))

    def __repr__(self) -> str:
        return "<sym.sdk.integrations.pagerduty>"


class Okta(_Integration):
    """`sym.sdk.integrations.okta`: group membership (by id as in Sym, or name), user info."""

    __slots__ = ()
    _sdk_name = "okta"

    def is_user_in_group(
        self, user: object, group_name: str | None = None, *, group_id: str | None = None
    ) -> bool:
        """Whether `user` (a user or an email) belongs to the Okta group `group_id` (or named
        `group_name`); OktaError if the group does not exist.
        """
        args = {"email": _email(user), **_okta_group(group_name, group_id)}
        return self._channel.call("okta", "is_user_in_group", args) is True

    def users_in_group(
        self, group_name: str | None = None, *, group_id: str | None = None
    ) -> list[User]:
        """The members of the Okta group `group_id` (or named `group_name`)."""
        return _users(
            self._channel.call("okta", "users_in_group", _okta_group(group_name, group_id))
        )

    def get_user_info(self, user: object) -> dict[str, Any]:
        """What Okta's Users API answers for `user` (a user or an email): id, status, profile."""
        value = self._channel.call("okta", "get_user_info", {"email": _email(user)})
        return dict(value) if isinstance(value, dict) else {}

    def __repr__(self) -> str:
        return "<sym.sdk.integrations.okta>"


def _okta_group(group_name: object, group_id: object) -> dict[str, str]:
    """Exactly one of Sym's ``group_id=`` and symbox's older ``group_name``, as call args."""
    name = _optional_name(group_name, "group_name")
    ident = _optional_name(group_id, "group_id")
    if bool(name) == bool(ident):
        raise SymException("give the Okta group as group_id=... (or by group_name), not both")
    return {"group_id": ident} if ident else {"group_name": name or ""}


class _AwsGroups(_Integration):
    """`is_user_in_group(user, *, group_name)` for one AWS integration, as in Sym's SDK."""

    __slots__ = ()
    _name = ""

    def is_user_in_group(self, user: object, *, group_name: str) -> bool:
        """Whether `user` (a user or an email) belongs to the group named `group_name`."""
        group = _optional_name(group_name, "group_name")
        if not group:
            raise SymException("group_name is required")
        args = {"email": _email(user), "group_name": group}
        return self._channel.call(self._name, "is_user_in_group", args) is True

    def __repr__(self) -> str:
        return f"<sym.sdk.integrations.{self._name}>"


class AwsIam(_AwsGroups):
    """`sym.sdk.integrations.aws_iam`: IAM group membership."""

    __slots__ = ()
    _name = "aws_iam"
    _sdk_name = "aws_iam"


class AwsSso(_AwsGroups):
    """`sym.sdk.integrations.aws_sso`: IAM Identity Center group membership (display name)."""

    __slots__ = ()
    _name = "aws_sso"
    _sdk_name = "aws_sso"


def _destination(value: object) -> object:
    """A destination as plain data: a channel or email string, a user, or an SDK builder's."""
    if isinstance(value, User) and value.email:
        return value.email
    if type(value) is str and value:
        return value
    if type(value) is dict and all(type(key) is str for key in value):
        return {
            key: _destination(item) if type(item) is not bool else item
            for key, item in value.items()
        }
    if type(value) is list:
        return [_destination(item) for item in value]
    raise SymException(f"not a Slack destination: {type(value).__name__}")


class Slack(_Integration):
    """`sym.sdk.integrations.slack`: destinations to post to, messages and user lookups."""

    __slots__ = ()
    _sdk_name = "slack"

    def channel(self, name: str, allow_self: bool = False) -> dict[str, object]:
        """A channel by name (``#access``) or id."""
        if type(name) is not str or not name:
            raise SymException("slack.channel() needs a channel name or id")
        return {"type": "slack_channel", "channel": name, "allow_self": allow_self is True}

    def user(self, identifier: object) -> dict[str, object]:
        """A user (a user, an email or a Slack user id), reached by DM."""
        return {"type": "slack_user", "user": _destination(identifier)}

    def group(self, users: object, allow_self: bool = False) -> dict[str, object]:
        """A group DM with several users."""
        if type(users) is not list or not users:
            raise SymException("slack.group() needs a list of users")
        return {
            "type": "slack_group",
            "users": [_destination(user) for user in users],
            "allow_self": allow_self is True,
        }

    def fallback(
        self, *destinations: object, continue_on_delivery: bool = False
    ) -> dict[str, object]:
        """The first of ``destinations`` that can be reached."""
        return {
            "type": "slack_fallback",
            "destinations": [_destination(item) for item in destinations],
            "continue_on_delivery": continue_on_delivery is True,
        }

    def send_message(self, destination: object, message: str) -> None:
        """Post ``message`` to ``destination`` as the symbox bot."""
        if type(message) is not str or not message:
            raise SymException("send_message needs a message")
        args = {"destination": _destination(destination), "text": message}
        self._channel.call("slack", "send_message", args)

    def get_user_info(self, user: object) -> dict[str, object]:
        """What Slack knows of ``user``: id, email, whether a guest or deactivated."""
        value = self._channel.call("slack", "get_user_info", {"user": _email_or_id(user)})
        return dict(value) if isinstance(value, dict) else {}

    def is_user_in_group(self, user: object, group_name: str) -> bool:
        """Whether ``user`` belongs to the Slack user group ``group_name`` (handle or name)."""
        group = _optional_name(group_name, "group_name")
        if not group:
            raise SymException("group_name is required")
        args = {"user": _email_or_id(user), "group_name": group}
        return self._channel.call("slack", "is_user_in_group", args) is True

    def __repr__(self) -> str:
        return "<sym.sdk.integrations.slack>"


def _email_or_id(user: object) -> str:
    if isinstance(user, User) and user.email:
        return user.email
    if type(user) is str and user:
        return user
    raise SymException(f"expected a user, an email or a Slack user id, got {type(user).__name__}")


class AwsLambda(_Integration):
    """`sym.sdk.integrations.aws_lambda`: invoke a function and get its answer."""

    __slots__ = ()
    _sdk_name = "aws_lambda"

    def invoke(self, arn: str, payload: object = None) -> object:
        """Invoke the function ``arn`` synchronously with ``payload`` (JSON data)."""
        if type(arn) is not str or not arn:
            raise SymException("aws_lambda.invoke needs the function's ARN")
        return self._channel.call("aws_lambda", "invoke", {"arn": arn, "payload": payload})

    def invoke_async(self, arn: str, payload: object = None) -> bool:
        """Queue an invocation of ``arn`` with ``payload``; True once Lambda accepted it."""
        if type(arn) is not str or not arn:
            raise SymException("aws_lambda.invoke_async needs the function's ARN")
        args = {"arn": arn, "payload": payload}
        return self._channel.call("aws_lambda", "invoke_async", args) is True

    def __repr__(self) -> str:
        return "<sym.sdk.integrations.aws_lambda>"


# What the roles argument says when it is not a collection of role names.
_ROLES_USAGE = "a list or set of GitHub role names, e.g. roles={'admin', 'maintain'}"


def _roles(roles: object) -> list[str]:
    """Role names as plain data for the host, from any iterable of str but a str itself."""
    if roles is None:
        raise GitHubError(f"roles is required: {_ROLES_USAGE}")
    # A str is an iterable of one-letter "roles"; that is never what a hook means.
    if isinstance(roles, str | bytes):
        raise GitHubError(f"roles must be {_ROLES_USAGE}, not one {type(roles).__name__}")
    try:
        # Through the hooks' own iteration gate: what a hook may not iterate, neither may this.
        default_iter_check(roles)
        names = list(cast("Iterable[object]", roles))
    except TypeError:
        raise GitHubError(f"roles must be {_ROLES_USAGE}, got {type(roles).__name__}") from None
    checked: set[str] = set()
    for name in names:
        # Exact types only: a hook's str subclass would be pickled by class reference.
        if type(name) is not str:
            raise GitHubError(f"roles must hold role names (str), not {type(name).__name__}")
        if not name:
            raise GitHubError("roles has an empty role name")
        checked.add(name)
    if not checked:
        raise GitHubError(f"roles is empty: {_ROLES_USAGE}")
    return sorted(checked)


class GitHub(_Integration):
    """`sym.sdk.integrations.github`: a repository's collaborators by role."""

    __slots__ = ()
    _sdk_name = "github"

    def get_repo_collaborators(
        self, *positional: object, repo_name: object = None, roles: object = None
    ) -> list[User]:
        """The users collaborating on ``repo_name`` (in the github integration's
        organization) with one of ``roles``: only those with a GitHub username set in symbox.
        """
        if positional:
            raise GitHubError(
                "get_repo_collaborators takes keyword arguments: repo_name=..., roles=..."
            )
        if type(repo_name) is not str or not repo_name:
            raise GitHubError(
                "repo_name must be the repository's name (a str, without the organization)"
            )
        args = {"repo_name": repo_name, "roles": _roles(roles)}
        return _users(self._channel.call("github", "get_repo_collaborators", args))

    def __repr__(self) -> str:
        return "<sym.sdk.integrations.github>"


def _optional_id(value: object, what: str) -> int | None:
    """A KnowBe4 id: an int (not a bool), or None."""
    if value is None or type(value) is int:
        return value
    raise KnowBe4Error(f"{what} must be an int, got {type(value).__name__}")


class KnowBe4(_Integration):
    """`sym.sdk.integrations.knowbe4`: training enrollments and group membership."""

    __slots__ = ()
    _sdk_name = "knowbe4"

    def get_training_enrollments_for_user(
        self, user: object, store_purchase_id: int | None = None, campaign_id: int | None = None
    ) -> list[dict[str, Any]]:
        """The user's training enrollments, optionally only of a store purchase or campaign."""
        args = {
            "email": _email(user),
            "store_purchase_id": _optional_id(store_purchase_id, "store_purchase_id"),
            "campaign_id": _optional_id(campaign_id, "campaign_id"),
        }
        value = self._channel.call("knowbe4", "get_training_enrollments_for_user", args)
        return (
            [dict(item) for item in value if isinstance(item, dict)]
            if isinstance(value, list)
            else []
        )

    def is_user_in_group(self, user: object, group_id: int) -> bool:
        """Whether the user is a member of the KnowBe4 group ``group_id``."""
        group = _optional_id(group_id, "group_id")
        if group is None:
            raise KnowBe4Error("group_id is required")
        args = {"email": _email(user), "group_id": group}
        return self._channel.call("knowbe4", "is_user_in_group", args) is True

    def __repr__(self) -> str:
        return "<sym.sdk.integrations.knowbe4>"
