"""What a case says integrations answer: on-call lists, group members, HTTP responses."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from symbox.config.hcl import show
from symbox.config.model import Location

# The integrations hooks reach through symbox, as `sym.sdk.integrations` names them.
INTEGRATIONS = ("pagerduty", "okta", "aws_iam", "aws_sso", "slack", "github", "aws_lambda", "http")
# ``fail`` may also name the flow's strategy: its grant then fails with the message.
STRATEGY = "strategy"
# Each argument of an integrations block, and the integration it answers for.
ANSWER_KEYS: Mapping[str, str] = {
    "pagerduty_on_call": "pagerduty",
    "pagerduty_schedules": "pagerduty",
    "okta_groups": "okta",
    "aws_iam_groups": "aws_iam",
    "aws_sso_groups": "aws_sso",
    "slack_users": "slack",
    "slack_groups": "slack",
    "github_collaborators": "github",
    "aws_lambda": "aws_lambda",
    "http": "http",
    "identities": STRATEGY,
    "fail": "",
}
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")

Problems = Callable[[Location, str], None]


@dataclass(frozen=True)
class HttpAnswer:
    """One stated HTTP response."""

    status: int
    body: bytes
    headers: Mapping[str, str]


@dataclass(frozen=True)
class Answers:
    """Stated answers; emails are kept lower-cased, as symbox compares people."""

    pagerduty_on_call: tuple[str, ...] = ()
    pagerduty_schedules: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    groups: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    slack_users: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    github_collaborators: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    aws_lambda: Mapping[str, Any] = field(default_factory=dict)
    # Keyed "METHOD URL" or "URL" (any method).
    http: Mapping[str, HttpAnswer] = field(default_factory=dict)
    identities: Mapping[str, str] = field(default_factory=dict)
    failures: Mapping[str, str] = field(default_factory=dict)
    # The integrations the case states anything for (answers or failures).
    stated: frozenset[str] = frozenset()

    @classmethod
    def none(cls) -> Answers:
        """A case that states no answers."""
        return cls()


def read_answers(
    values: Mapping[str, tuple[Any, Location]], where: Location, problem: Problems
) -> Answers:
    """Answers from an integrations block's arguments; each problem reported at its line."""
    parsed: dict[str, Any] = {}
    groups: dict[str, Mapping[str, tuple[str, ...]]] = {}
    stated: set[str] = set()
    for key, (value, at) in values.items():
        integration = ANSWER_KEYS.get(key)
        if integration is None:
            problem(at, f"integrations: unknown argument {key} (known: {', '.join(ANSWER_KEYS)})")
            continue
        try:
            if key == "pagerduty_on_call":
                parsed[key] = _emails(value)
            elif key == "pagerduty_schedules" or key.endswith("_groups"):
                members = {str(name): _emails(item) for name, item in _object(value).items()}
                if key == "pagerduty_schedules":
                    parsed[key] = members
                else:
                    groups[key.removesuffix("_groups")] = members
            elif key == "slack_users":
                parsed[key] = {
                    str(name).lower(): _object(item) for name, item in _object(value).items()
                }
            elif key == "github_collaborators":
                parsed[key] = {
                    str(repo): {
                        email.lower(): str(role).lower() for email, role in _object(item).items()
                    }
                    for repo, item in _object(value).items()
                }
            elif key == "aws_lambda":
                parsed[key] = dict(_object(value))
            elif key == "http":
                parsed[key] = {
                    _http_key(name): _http_answer(item) for name, item in _object(value).items()
                }
            elif key == "identities":
                parsed[key] = {
                    email.lower(): _string(item) for email, item in _object(value).items()
                }
            else:
                parsed["failures"] = _failures(value)
        except ValueError as error:
            problem(at, f"integrations: {key}: {error}")
            continue
        stated.update(parsed.get("failures", {}) if key == "fail" else [integration])
    return Answers(
        pagerduty_on_call=parsed.get("pagerduty_on_call", ()),
        pagerduty_schedules=parsed.get("pagerduty_schedules", {}),
        groups=groups,
        slack_users=parsed.get("slack_users", {}),
        github_collaborators=parsed.get("github_collaborators", {}),
        aws_lambda=parsed.get("aws_lambda", {}),
        http=parsed.get("http", {}),
        identities=parsed.get("identities", {}),
        failures=parsed.get("failures", {}),
        stated=frozenset(stated),
    )


def _object(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"expected an object {{ ... }}, not {show(value)}")
    return value


def _string(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, not {show(value)}")
    return value


def _emails(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"expected a list of emails, not {show(value)}")
    return tuple(item.strip().lower() for item in value)


def _failures(value: Any) -> dict[str, str]:
    failures = {str(name): _string(message) for name, message in _object(value).items()}
    # HTTP fails by URL: a stated response with an error status, or none at all.
    failing = [name for name in INTEGRATIONS if name != "http"]
    for name in failures:
        if name not in (*failing, STRATEGY):
            raise ValueError(f"{name} is not one of {', '.join(failing)} or {STRATEGY}")
    return failures


def _http_key(name: str) -> str:
    method, _, url = name.partition(" ")
    if url and method.upper() in HTTP_METHODS:
        return f"{method.upper()} {url.strip()}"
    if " " in name or not name.startswith(("http://", "https://")):
        raise ValueError(f'{show(name)}: expected "URL" or "METHOD URL" (http:// or https://)')
    return name


def _http_answer(value: Any) -> HttpAnswer:
    spec = _object(value)
    unknown = set(spec) - {"status", "json", "body", "headers"}
    if unknown:
        raise ValueError(
            f"unknown response argument {sorted(unknown)[0]} (status, json, body, headers)"
        )
    status = spec.get("status", 200)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise ValueError(f"status must be an HTTP status, not {show(status)}")
    headers = {str(name): str(item) for name, item in _object(spec.get("headers", {})).items()}
    if "json" in spec and "body" in spec:
        raise ValueError("a response has json or body, not both")
    if "json" in spec:
        headers.setdefault("content-type", "application/json")
        body = json.dumps(spec["json"]).encode()
    else:
        body = str(spec.get("body", "")).encode()
    return HttpAnswer(status, body, headers)


def answers_from_json(data: Any) -> tuple[Answers, list[str]]:
    """Answers from JSON shaped like an integrations block (for ``symbox hooks run``)."""
    problems: list[str] = []
    if not isinstance(data, dict):
        return Answers.none(), ["integrations must be a JSON object"]
    where = Location("integrations", 1)
    values = {str(key): (value, where) for key, value in data.items()}
    answers = read_answers(values, where, lambda at, message: problems.append(message))
    return answers, problems
