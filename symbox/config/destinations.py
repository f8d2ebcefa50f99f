"""Checks for ``sym_log_destination`` settings, per destination type."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from symbox.config.apis import check_secret_setting
from symbox.config.hcl import show
from symbox.config.model import Location, Secret
from symbox.config.schema import Args, Reader

SETTINGS: Mapping[str, frozenset[str]] = {
    "file": frozenset({"path"}),
    "kinesis_firehose": frozenset({"stream_name", "region", "endpoint_url"}),
    "kinesis_data_stream": frozenset({"stream_name", "region", "endpoint_url"}),
    "http": frozenset({"url", "headers", "batch_size", "timeout"}),
    "datadog": frozenset({"api_key", "site", "url", "service", "source", "tags", "timeout"}),
    "segment": frozenset({"stream_name", "base_url", "timeout"}),
}
REQUIRED: Mapping[str, tuple[str, ...]] = {
    "kinesis_firehose": ("stream_name",),
    "kinesis_data_stream": ("stream_name",),
    "http": ("url",),
    "datadog": ("api_key",),
}
# Datadog takes 1,000 logs a request; other receivers get at most that many too.
MAX_BATCH = 1000
# The integration type each destination type names in integration_id; None: it takes none.
INTEGRATIONS: Mapping[str, str] = {
    "kinesis_firehose": "permission_context",
    "kinesis_data_stream": "permission_context",
    "segment": "segment",
}
_WANTED = {
    "permission_context": '"permission_context" (the AWS role to assume)',
    "segment": '"segment" (the integration holding the write key)',
}
WRITE_KEY_HINT = 'write_key = env("SEGMENT_WRITE_KEY")'


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def number(value: Any) -> bool:
    """Whether ``value`` is a number (a bool is not)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def unknown_or_missing(
    kind: str,
    settings: Mapping[str, Any],
    known: frozenset[str],
    required: tuple[str, ...],
    what: str,
) -> list[str]:
    """Problems with settings ``kind`` does not know, and with required ones left out."""
    problems = [
        f"settings.{name}: unknown setting for {kind} (known: {', '.join(sorted(known))})"
        for name in sorted(set(settings) - known)
    ]
    problems += [
        f"settings.{name} is required for {kind} {what}"
        for name in required
        if name not in settings
    ]
    return problems


def _problems(kind: str, settings: Mapping[str, Any]) -> list[str]:
    problems = unknown_or_missing(
        kind, settings, SETTINGS[kind], REQUIRED.get(kind, ()), "destinations"
    )
    for name in ("stream_name", "region", "site", "service", "source"):
        if name in settings and not _text(settings[name]):
            problems.append(f"settings.{name}: expected a non-empty string")
    for name in ("endpoint_url", "url", "base_url"):
        if name in settings and not _url(settings[name]):
            problems.append(f"settings.{name}: expected an http:// or https:// URL")
    if "api_key" in settings and not isinstance(settings["api_key"], Secret):
        problems.append('settings.api_key: read it with env("NAME"), not written in the config')
    headers = settings.get("headers")
    if headers is not None and not (
        isinstance(headers, Mapping)
        and all(isinstance(value, str | Secret) for value in headers.values())
    ):
        problems.append("settings.headers: expected a map of header names to strings or env()")
    batch = settings.get("batch_size")
    if batch is not None and not (isinstance(batch, int) and 1 <= batch <= MAX_BATCH):
        problems.append(f"settings.batch_size: expected a whole number from 1 to {MAX_BATCH}")
    timeout = settings.get("timeout")
    if timeout is not None and not (number(timeout) and timeout > 0):
        problems.append("settings.timeout: expected a number of seconds above 0")
    tags = settings.get("tags")
    if tags is not None and not (
        _text(tags) or (isinstance(tags, list | tuple) and all(_text(tag) for tag in tags))
    ):
        problems.append('settings.tags: expected "key:value,..." or a list of such strings')
    return problems


def check_log_destination(
    reader: Reader,
    where: str,
    args: Args,
    at: Location,
    integration_type: Callable[[str], str | None],
) -> None:
    """Known settings with sensible values, and the integration each type may or must name."""
    kind = args.values["type"]
    if kind not in SETTINGS:
        return
    settings = args.values.get("settings", {})
    line = args.lines.get("settings", at)
    problems = _problems(kind, settings)
    for problem in problems:
        reader.problem(line, f"{where}: {problem}")
    integration = args.values.get("integration_id")
    expected = INTEGRATIONS.get(kind)
    if integration is None and expected == "segment":
        problems.append("integration")
        reader.problem(
            args.lines.get("type", at),
            f"{where}: integration_id is required for segment destinations: a "
            f'sym_integration of type "segment" with settings.{WRITE_KEY_HINT}',
        )
    if integration is not None:
        context = integration_type(integration)
        if context is not None and context != expected:
            problems.append("integration")
            wanted = (
                f"expected {_WANTED[expected]}"
                if expected
                else f"{kind} destinations take no integration"
            )
            reader.problem(
                args.lines["integration_id"],
                f"{where}: integration_id: sym_integration.{integration} has type "
                f"{show(context)}, {wanted}",
            )
    if problems:
        args.ok = False


def check_segment_integration(
    reader: Reader, where: str, args: Args, at: Location, known_secret: Callable[[str], bool]
) -> None:
    """A ``segment`` integration's write key: ``env()``, or Sym's ``write_key_secret``."""
    settings = args.values.get("settings", {})
    line = args.lines.get("settings", at)
    if "write_key" not in settings and "write_key_secret" not in settings:
        reader.problem(
            line,
            f"{where}: settings.write_key is required for segment integrations: "
            f"{WRITE_KEY_HINT} (or write_key_secret = sym_secret.NAME.id)",
        )
        args.ok = False
        return
    args.ok &= check_secret_setting(reader, where, settings, line, "write_key", known_secret)
