"""Audit destinations built from ``sym_log_destination`` blocks, with what each receives."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import httpx

from symbox.audit.delivery import RetryTiming
from symbox.audit.http_sink import DatadogSink, HttpSink, datadog_url
from symbox.audit.jsonl import JsonLinesFile
from symbox.audit.kinesis import DataStreamSink, FirehoseSink
from symbox.audit.segment import SEGMENT_BASE_URL, SegmentSink, batch_url
from symbox.audit.shipper import AuditSink, FileSink, Route
from symbox.aws.secrets import SecretsManagerSecrets
from symbox.aws.session import AwsConnections
from symbox.aws.settings import ConnectionSettings
from symbox.config.apis import stored_secret
from symbox.config.model import Config, Integration, LogDestination, Secret
from symbox.metrics import Metrics

DATADOG_SITE = "datadoghq.com"
# How long a shipper lets commits gather before delivering them. The file is read on the
# spot (a tailing agent, `audit verify`); a remote destination is better served by fewer,
# larger requests, and each wake-up costs the process a read, a request and a commit.
FILE_COALESCE = 0.02
REMOTE_COALESCE = 0.25
PERMISSION_CONTEXT = "permission_context"
AUDIT_FILE_NAME = "audit.jsonl"
DEFAULT_AUDIT_DESTINATION = "file"


class Destination(NamedTuple):
    """A sink, the records it receives, and how long its shipper gathers commits."""

    sink: AuditSink
    route: Route
    coalesce: float


def _text(value: Any) -> str | None:
    if isinstance(value, Secret):
        return value.reveal()
    return value if isinstance(value, str) and value else None


def _number(value: Any, default: float) -> float:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default
    )


def route(config: Config, destination: LogDestination) -> Route:
    """Which records go to ``destination``.

    A file gets every record: it is the hash chain, which only verifies when whole. Any
    other destination gets the records of the flows whose environment lists it in
    ``log_destination_ids`` (and records of no flow); one that no environment lists gets
    every record.
    """
    if destination.type == "file":
        return Route()
    environments = {
        environment.key
        for environment in config.environments.values()
        if destination.key in environment.log_destinations
    }
    if not environments:
        return Route()
    return Route(
        flows=frozenset(
            flow.name for flow in config.flows.values() if flow.environment in environments
        ),
        known=frozenset(flow.name for flow in config.flows.values()),
    )


def aws_settings(config: Config, destination: LogDestination) -> ConnectionSettings:
    """Region, endpoint and role for a Kinesis destination: its settings, then its integration.

    Without an ``integration_id`` (a ``permission_context``), the environment's own AWS
    credentials are used: the default chain of variables, files and instance roles.
    """
    integration = config.integrations.get(destination.integration or "")
    context = integration.settings if integration and integration.type == PERMISSION_CONTEXT else {}
    return ConnectionSettings(
        region=_text(destination.settings.get("region")) or _text(context.get("region")),
        endpoint_url=_text(destination.settings.get("endpoint_url")),
        role_arn=_text(context.get("role_arn")),
        external_id=_text(context.get("external_id")),
    )


def _write_key(
    integration: Integration, secrets: SecretsManagerSecrets | None
) -> str | Callable[[], Awaitable[str]]:
    """A segment integration's write key: its ``env()`` value, or a reader of its sym_secret."""
    value = stored_secret(integration.settings, "write_key")
    if isinstance(value, Secret):
        return value.reveal()
    assert value is not None and secrets is not None, "validated by config"
    return secrets.secret(value).value


def _remote(
    config: Config,
    destination: LogDestination,
    *,
    client: httpx.AsyncClient,
    aws: AwsConnections,
    metrics: Metrics,
    timing: RetryTiming | None,
    secrets: SecretsManagerSecrets | None = None,
) -> AuditSink:
    settings = destination.settings
    name = f"{destination.type}:{destination.key}"
    timeout = _number(settings.get("timeout"), 10.0)
    if destination.type in ("kinesis_firehose", "kinesis_data_stream"):
        stream = _text(settings.get("stream_name"))
        assert stream is not None, "validated by config"
        if destination.type == "kinesis_firehose":
            connection = aws.connection(aws_settings(config, destination), "firehose")
            return FirehoseSink(name, connection, stream, metrics, timing=timing)
        connection = aws.connection(aws_settings(config, destination), "kinesis")
        return DataStreamSink(name, connection, stream, metrics, timing=timing)
    if destination.type == "datadog":
        api_key = _text(settings.get("api_key"))
        assert api_key is not None, "validated by config"
        tags = settings.get("tags")
        return DatadogSink(
            name,
            _text(settings.get("url")) or datadog_url(_text(settings.get("site")) or DATADOG_SITE),
            api_key,
            client,
            metrics,
            source=_text(settings.get("source")) or "symbox",
            service=_text(settings.get("service")) or "symbox",
            tags=",".join(tags) if isinstance(tags, list | tuple) else _text(tags),
            timeout=timeout,
            timing=timing,
        )
    if destination.type == "segment":
        integration = config.integrations.get(destination.integration or "")
        assert integration is not None, "validated by config"
        write_key = _write_key(integration, secrets)
        return SegmentSink(
            name,
            batch_url(_text(settings.get("base_url")) or SEGMENT_BASE_URL),
            write_key,
            client,
            metrics,
            stream_name=_text(settings.get("stream_name")),
            timeout=timeout,
            timing=timing,
        )
    url = _text(settings.get("url"))
    assert url is not None and destination.type == "http", "validated by config"
    raw_headers = settings.get("headers")
    headers = {
        str(key): text
        for key, value in (raw_headers.items() if isinstance(raw_headers, Mapping) else ())
        if (text := _text(value)) is not None
    }
    return HttpSink(
        name,
        url,
        client,
        metrics,
        headers=headers,
        max_records=int(_number(settings.get("batch_size"), 500)),
        timeout=timeout,
        timing=timing,
    )


def build_destinations(
    config: Config,
    files: Mapping[str, Path],
    *,
    client: httpx.AsyncClient,
    aws: AwsConnections,
    metrics: Metrics,
    timing: RetryTiming | None = None,
    secrets: SecretsManagerSecrets | None = None,
) -> list[Destination]:
    """Every audit destination with its route: the ``files`` first, then the remote ones."""
    built = [
        Destination(FileSink(name, JsonLinesFile(path)), Route(), FILE_COALESCE)
        for name, path in files.items()
    ]
    for key in sorted(config.log_destinations):
        destination = config.log_destinations[key]
        if destination.type == "file":
            continue
        sink = _remote(
            config,
            destination,
            client=client,
            aws=aws,
            metrics=metrics,
            timing=timing,
            secrets=secrets,
        )
        built.append(Destination(sink, route(config, destination), REMOTE_COALESCE))
    return built


def audit_paths(config: Config, data_dir: Path) -> dict[str, Path]:
    """The JSON-lines files audit records go to, by destination name.

    Every ``file`` log destination of the config, with relative paths under the data
    folder; with none configured, ``<data-dir>/audit.jsonl``.
    """
    paths: dict[str, Path] = {}
    for key, destination in config.log_destinations.items():
        if destination.type != "file":
            continue
        raw = destination.settings.get("path")
        path = Path(raw) if isinstance(raw, str) and raw else Path(AUDIT_FILE_NAME)
        paths[f"file:{key}"] = path if path.is_absolute() else data_dir / path
    return paths or {DEFAULT_AUDIT_DESTINATION: data_dir / AUDIT_FILE_NAME}
