"""Problems with webhook and smtp integrations, and with flows that notify through them."""

from __future__ import annotations

from tests.config.helpers import load
from tests.config.test_problems import BASE, ENV, check, flow

WEBHOOK = (
    'resource "sym_integration" "ops" {\n  type = "webhook"\n  name = "ops"\n'
    '  external_id = "ops"\n'
    '  settings = { url = "https://hooks.example.com/x", format = "teams", secret = env("S") }\n'
    "}\n"
)
SMTP = (
    'resource "sym_integration" "mail" {\n  type = "smtp"\n  name = "mail"\n'
    '  external_id = "mail"\n  settings = {\n    host = "smtp.example.com"\n    port = 587\n'
    '    username = "symbox"\n    password = env("S")\n    from = "symbox@example.com"\n  }\n}\n'
)


def test_webhooks_need_an_https_url_a_known_format_and_a_secret_from_env() -> None:
    check(
        'resource "sym_integration" "a" {\n  type = "webhook"\n  name = "a"\n'
        '  external_id = "a"\n'
        '  settings = { url = "http://hooks.example.com/x", format = "slack", secret = "s" }\n'
        "}\n"
        'resource "sym_integration" "b" {\n  type = "webhook"\n  name = "b"\n'
        '  external_id = "b"\n  settings = { urls = "https://x" }\n}\n',
        'config.hcl:18: sym_integration.a: settings.secret: must be read with env("NAME"), '
        "not written",
        "config.hcl:18: sym_integration.a: settings.url: expected an https:// URL (plain "
        "http:// only to a loopback address)",
        "config.hcl:18: sym_integration.a: settings.format: expected one of gchat, json, teams",
        "config.hcl:24: sym_integration.b: settings.urls: unknown setting for webhook (known: "
        "format, secret, timeout, url)",
        "config.hcl:24: sym_integration.b: settings.url is required for webhook integrations",
    )


def test_smtp_needs_a_host_a_port_in_range_a_sender_and_a_password_from_env() -> None:
    check(
        'resource "sym_integration" "m" {\n  type = "smtp"\n  name = "m"\n'
        '  external_id = "m"\n'
        '  settings = { host = "smtp.example.com", port = 70000, from = "symbox",\n'
        '    username = "u", password = "p", starttls = "yes" }\n}\n'
        'resource "sym_integration" "n" {\n  type = "smtp"\n  name = "n"\n'
        '  external_id = "n"\n  settings = { username = "u" }\n}\n',
        'config.hcl:18: sym_integration.m: settings.password: must be read with env("NAME"), '
        "not written",
        "config.hcl:18: sym_integration.m: settings.port: expected a port number from 1 to 65535",
        "config.hcl:18: sym_integration.m: settings.starttls: expected true or false",
        "config.hcl:18: sym_integration.m: settings.from: expected an email address "
        '("symbox@corp.example")',
        "config.hcl:25: sym_integration.n: settings.host is required for smtp integrations",
        "config.hcl:25: sym_integration.n: settings.from is required for smtp integrations",
        "config.hcl:25: sym_integration.n: settings.username and settings.password are set "
        "together",
    )


def test_a_flow_notifies_only_through_webhook_and_smtp_integrations() -> None:
    slack = (
        'resource "sym_integration" "slack" {\n  type = "slack"\n  name = "slack"\n'
        '  external_id = "T1"\n}\n'
    )
    check(
        flow("    notify_ids = [sym_integration.slack.id]\n") + slack,
        "config.hcl:19: sym_flow.f: params: notify_ids: sym_integration.slack has type "
        '"slack", expected "webhook" or "smtp"',
    )


def test_a_valid_notifying_config_loads() -> None:
    config = load(
        BASE
        + WEBHOOK
        + SMTP
        + flow("    notify_ids = [sym_integration.ops.id, sym_integration.mail.id]\n"),
        ENV,
    )
    assert config.flows["f"].params.notify == ("ops", "mail")
    assert config.integrations["ops"].settings["format"] == "teams"
    assert config.integrations["mail"].settings["from"] == "symbox@example.com"


def test_smtp_ca_file_must_exist() -> None:
    check(
        'resource "sym_integration" "m" {\n  type = "smtp"\n  name = "m"\n'
        '  external_id = "m"\n'
        '  settings = { host = "h", from = "a@b.example", ca_file = "/nonexistent/ca.pem" }\n}\n',
        "config.hcl:18: sym_integration.m: settings.ca_file: no such file "
        "'/nonexistent/ca.pem' (the PEM certificates to trust)",
    )
