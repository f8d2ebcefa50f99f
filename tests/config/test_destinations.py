"""Checks of sym_log_destination settings, and which records each destination receives."""

from __future__ import annotations

import base64
from pathlib import Path

from symbox.audit.destinations import aws_settings, build_destinations, route
from symbox.audit.http_sink import DatadogSink, HttpSink
from symbox.audit.kinesis import DataStreamSink, FirehoseSink
from symbox.audit.segment import SegmentSink
from symbox.aws.session import AwsConnections
from symbox.metrics import Metrics
from tests.config.helpers import load, problems

ENV = {"DD_KEY": "dd-secret", "TOKEN": "Bearer t0ken"}

DESTINATIONS = """\
resource "sym_integration" "aws" {
  type        = "permission_context"
  name        = "aws"
  external_id = "111122223333"
  settings = {
    cloud       = "aws"
    region      = "eu-west-1"
    role_arn    = "arn:aws:iam::111122223333:role/audit"
    external_id = "ext"
  }
}
resource "sym_log_destination" "firehose" {
  type           = "kinesis_firehose"
  integration_id = sym_integration.aws.id
  settings       = { stream_name = "audit" }
}
resource "sym_log_destination" "stream" {
  type     = "kinesis_data_stream"
  settings = { stream_name = "audit", region = "us-east-2", endpoint_url = "http://127.0.0.1:1" }
}
resource "sym_log_destination" "siem" {
  type     = "http"
  settings = { url = "https://siem.example.com/in", headers = { Authorization = env("TOKEN") } }
}
resource "sym_log_destination" "dd" {
  type     = "datadog"
  settings = { api_key = env("DD_KEY"), site = "datadoghq.eu", tags = ["env:prod", "team:sec"] }
}
resource "sym_log_destination" "local" {
  type     = "file"
  settings = { path = "audit/all.jsonl" }
}
resource "sym_environment" "prod" {
  name                = "prod"
  log_destination_ids = [sym_log_destination.siem.id, sym_log_destination.local.id]
}
resource "sym_environment" "staging" {
  name = "staging"
}
resource "sym_flow" "prod_access" {
  name           = "prod-access"
  implementation = ""
  environment_id = sym_environment.prod.id
}
resource "sym_flow" "staging_access" {
  name           = "staging-access"
  implementation = ""
  environment_id = sym_environment.staging.id
}
"""


def test_every_destination_type_is_built_with_its_settings(tmp_path: Path) -> None:
    config = load(DESTINATIONS, ENV)
    built = build_destinations(
        config,
        {"file:local": tmp_path / "all.jsonl"},
        client=None,  # type: ignore[arg-type]
        aws=AwsConnections(),
        metrics=Metrics(),
    )
    names = [sink.name for sink, _, _ in built]
    assert names == [
        "file:local",
        "datadog:dd",
        "kinesis_firehose:firehose",
        "http:siem",
        "kinesis_data_stream:stream",
    ]
    kinds = [type(sink) for sink, _, _ in built]
    assert [coalesce for _, _, coalesce in built] == [0.02, 0.25, 0.25, 0.25, 0.25]
    assert kinds[1:] == [DatadogSink, FirehoseSink, HttpSink, DataStreamSink]
    settings = aws_settings(config, config.log_destinations["firehose"])
    assert settings.region == "eu-west-1"
    assert settings.role_arn == "arn:aws:iam::111122223333:role/audit"
    assert settings.external_id == "ext"
    stream = aws_settings(config, config.log_destinations["stream"])
    assert (stream.region, stream.endpoint_url, stream.role_arn) == (
        "us-east-2",
        "http://127.0.0.1:1",
        None,
    )


def test_records_go_to_their_environments_destinations() -> None:
    config = load(DESTINATIONS, ENV)
    siem = route(config, config.log_destinations["siem"])
    assert siem.accepts("prod-access")
    assert not siem.accepts("staging-access")
    assert siem.accepts(None)  # config loads, tokens
    assert siem.accepts("a-removed-flow")
    # A file is the hash chain: it gets everything, whatever lists it.
    assert route(config, config.log_destinations["local"]).accepts("staging-access")
    # Listed by no environment: everything.
    assert route(config, config.log_destinations["dd"]).accepts("staging-access")


def test_bad_settings_are_reported_at_their_line() -> None:
    found = problems(
        """\
resource "sym_integration" "slack" {
  type        = "slack"
  name        = "slack"
  external_id = "T1"
}
resource "sym_log_destination" "a" {
  type     = "kinesis_firehose"
  settings = { region = "", colour = "red" }
}
resource "sym_log_destination" "b" {
  type           = "kinesis_data_stream"
  integration_id = sym_integration.slack.id
  settings       = { stream_name = "s", endpoint_url = "ftp://x" }
}
resource "sym_log_destination" "c" {
  type     = "http"
  settings = { headers = { X = 1 }, batch_size = 5000, timeout = 0 }
}
resource "sym_log_destination" "d" {
  type     = "datadog"
  settings = { api_key = "written-in-the-file", tags = 3 }
}
""",
        ENV,
    )
    assert found == [
        "config.hcl:8: sym_log_destination.a: settings.colour: unknown setting for "
        "kinesis_firehose (known: endpoint_url, region, stream_name)",
        "config.hcl:8: sym_log_destination.a: settings.stream_name is required for "
        "kinesis_firehose destinations",
        "config.hcl:8: sym_log_destination.a: settings.region: expected a non-empty string",
        "config.hcl:12: sym_log_destination.b: integration_id: sym_integration.slack has type "
        '"slack", expected "permission_context" (the AWS role to assume)',
        "config.hcl:13: sym_log_destination.b: settings.endpoint_url: expected an http:// or "
        "https:// URL",
        "config.hcl:17: sym_log_destination.c: settings.url is required for http destinations",
        "config.hcl:17: sym_log_destination.c: settings.headers: expected a map of header "
        "names to strings or env()",
        "config.hcl:17: sym_log_destination.c: settings.batch_size: expected a whole number "
        "from 1 to 1000",
        "config.hcl:17: sym_log_destination.c: settings.timeout: expected a number of seconds "
        "above 0",
        'config.hcl:21: sym_log_destination.d: settings.api_key: read it with env("NAME"), '
        "not written in the config",
        'config.hcl:21: sym_log_destination.d: settings.tags: expected "key:value,..." or a '
        "list of such strings",
    ]


SEGMENT = """\
resource "sym_integration" "segment" {
  type        = "segment"
  name        = "segment"
  external_id = "my-workspace"
  settings    = { write_key = env("SEGMENT_WRITE_KEY") }
}
resource "sym_log_destination" "segment" {
  type           = "segment"
  integration_id = sym_integration.segment.id
  settings       = { stream_name = "symbox-audit" }
}
resource "sym_log_destination" "segment_eu" {
  type           = "segment"
  integration_id = sym_integration.segment.id
  settings       = { base_url = "https://events.eu1.segmentapis.com", timeout = 3 }
}
"""


def test_a_segment_destination_reads_its_write_key_from_its_integration() -> None:
    config = load(SEGMENT, {"SEGMENT_WRITE_KEY": "wk-1"})
    built = build_destinations(
        config,
        {},
        client=None,  # type: ignore[arg-type]
        aws=AwsConnections(),
        metrics=Metrics(),
    )
    sinks = {sink.name: sink for sink, _, _ in built}
    assert list(sinks) == ["segment:segment", "segment:segment_eu"]
    default, eu = sinks["segment:segment"], sinks["segment:segment_eu"]
    assert isinstance(default, SegmentSink) and isinstance(eu, SegmentSink)
    assert default._url == "https://api.segment.io/v1/batch"
    assert default._headers["Authorization"] == "Basic " + base64.b64encode(b"wk-1:").decode()
    assert default._context["stream_name"] == "symbox-audit"
    assert eu._url == "https://events.eu1.segmentapis.com/v1/batch"
    assert eu._timeout == 3


def test_segment_problems_name_the_setting_at_its_line() -> None:
    found = problems(
        """\
resource "sym_integration" "no_key" {
  type        = "segment"
  name        = "no-key"
  external_id = "w"
}
resource "sym_integration" "written" {
  type        = "segment"
  name        = "written"
  external_id = "w"
  settings    = { write_key = "wk-in-the-file" }
}
resource "sym_integration" "sym_style" {
  type        = "segment"
  name        = "sym-style"
  external_id = "w"
  settings    = { write_key_secret = "0b0c6a6e-7f58-4a5c-9d3e-1f2a3b4c5d6e" }
}
resource "sym_integration" "aws" {
  type        = "permission_context"
  name        = "aws"
  external_id = "111122223333"
  settings    = { cloud = "aws", role_arn = "arn:aws:iam::111122223333:role/r" }
}
resource "sym_log_destination" "wrong" {
  type           = "segment"
  integration_id = sym_integration.aws.id
  settings       = { base_url = "api.segment.io", write_key = env("K") }
}
resource "sym_log_destination" "none" {
  type = "segment"
}
""",
        {"K": "wk"},
    )
    assert found == [
        "config.hcl:1: sym_integration.no_key: settings.write_key is required for segment "
        'integrations: write_key = env("SEGMENT_WRITE_KEY") (or write_key_secret = '
        "sym_secret.NAME.id)",
        'config.hcl:10: sym_integration.written: settings.write_key: must be read with env("NAME"),'
        " not written in the config",
        # Sym's spelling is read, but it must name a sym_secret, not hold Sym's own id.
        "config.hcl:16: sym_integration.sym_style: settings.write_key_secret: expected a "
        "reference to a sym_secret (sym_secret.NAME.id)",
        "config.hcl:26: sym_log_destination.wrong: integration_id: sym_integration.aws has type "
        '"permission_context", expected "segment" (the integration holding the write key)',
        "config.hcl:27: sym_log_destination.wrong: settings.write_key: unknown setting for "
        "segment (known: base_url, stream_name, timeout)",
        "config.hcl:27: sym_log_destination.wrong: settings.base_url: expected an http:// or "
        "https:// URL",
        "config.hcl:30: sym_log_destination.none: integration_id is required for segment "
        'destinations: a sym_integration of type "segment" with settings.write_key = '
        'env("SEGMENT_WRITE_KEY")',
    ]
