"""Problems with google_group strategies, their targets and google integrations, as file:line
messages."""

from __future__ import annotations

from symbox.config.model import Secret
from tests.config.helpers import load
from tests.config.test_problems import BASE, ENV, check

GOOGLE = (
    'resource "sym_integration" "google" {\n  type = "google"\n  name = "google"\n'
    '  external_id = "acme.example"\n'
    '  settings = { service_account_key = env("S"), admin_email = "admin@acme.example" }\n}\n'
)


def test_a_google_integration_needs_an_admin_and_one_key_from_env_or_a_secret() -> None:
    check(
        'resource "sym_integration" "bare" {\n  type = "google"\n  name = "bare"\n'
        '  external_id = "acme.example"\n}\n'
        'resource "sym_integration" "plain" {\n  type = "google"\n  name = "plain"\n'
        '  external_id = "acme.example"\n'
        '  settings = { service_account_key = "{}", admin_email = "admin" }\n}\n'
        'resource "sym_integration" "both" {\n  type = "google"\n  name = "both"\n'
        '  external_id = "acme.example"\n  settings = {\n'
        '    service_account_key = env("S")\n'
        "    service_account_key_secret = sym_secret.key.id\n"
        '    admin_email = "admin@acme.example"\n  }\n}\n'
        'resource "sym_integration" "stored" {\n  type = "google"\n  name = "stored"\n'
        '  external_id = "acme.example"\n  settings = {\n'
        '    service_account_key_secret = "sym/google"\n'
        '    admin_email = "admin@acme.example"\n    base_url = "admin.googleapis.com"\n  }\n}\n'
        'resource "sym_secrets" "aws" {\n  type = "aws_secrets_manager"\n  name = "aws"\n}\n'
        'resource "sym_secret" "key" {\n  path = "sym/google"\n'
        "  source_id = sym_secrets.aws.id\n}\n",
        "config.hcl:14: sym_integration.bare: settings.admin_email is required (the Workspace "
        "admin the service account acts as through domain-wide delegation)",
        "config.hcl:14: sym_integration.bare: needs settings.service_account_key "
        '(service_account_key = env("NAME")) or settings.service_account_key_secret '
        "(service_account_key_secret = sym_secret.NAME.id)",
        'config.hcl:23: sym_integration.plain: settings.admin_email: "admin" is not an email '
        "address",
        "config.hcl:23: sym_integration.plain: settings.service_account_key: must be read with "
        'env("NAME"), not written in the config',
        "config.hcl:29: sym_integration.both: settings: use service_account_key or "
        "service_account_key_secret, not both",
        "config.hcl:39: sym_integration.stored: settings.service_account_key_secret: expected "
        "a reference to a sym_secret (sym_secret.NAME.id)",
        "config.hcl:39: sym_integration.stored: settings.base_url: expected an http:// or "
        "https:// URL",
    )


def test_a_key_secret_must_be_defined() -> None:
    check(
        'resource "sym_integration" "google" {\n  type = "google"\n  name = "google"\n'
        '  external_id = "acme.example"\n  settings = {\n'
        '    service_account_key_secret = "sym_secret.missing"\n'
        '    admin_email = "admin@acme.example"\n  }\n}\n',
        "config.hcl:18: sym_integration.google: settings.service_account_key_secret: no "
        "resource sym_secret.missing",
    )


def test_google_group_targets_need_a_group_email_and_a_known_role() -> None:
    check(
        'resource "sym_target" "none" {\n  type = "google_group"\n  name = "none"\n}\n'
        'resource "sym_target" "bad" {\n  type = "google_group"\n  name = "bad"\n'
        '  settings = { group_email = "eng", role = "member" }\n}\n',
        "config.hcl:14: sym_target.none: settings.group_email is required for google_group targets",
        'config.hcl:21: sym_target.bad: settings.group_email: "eng" is not a group\'s email '
        "address",
        'config.hcl:21: sym_target.bad: settings.role: "member": expected one of MEMBER, '
        "MANAGER, OWNER",
    )


def test_google_group_strategies_need_a_google_integration_and_take_no_settings() -> None:
    check(
        GOOGLE + 'resource "sym_integration" "okta" {\n  type = "okta"\n  name = "okta"\n'
        '  external_id = "acme.okta.com"\n  settings = { api_token = env("S") }\n}\n'
        'resource "sym_strategy" "a" {\n  type = "google_group"\n  name = "a"\n'
        "  targets = []\n}\n"
        'resource "sym_strategy" "b" {\n  type = "google_group"\n  name = "b"\n  targets = []\n'
        "  integration_id = sym_integration.okta.id\n}\n"
        'resource "sym_strategy" "c" {\n  type = "google_group"\n  name = "c"\n  targets = []\n'
        '  integration_id = sym_integration.google.id\n  settings = { domain = "x" }\n}\n',
        "config.hcl:26: sym_strategy.a: google_group strategies need integration_id (the google "
        "sym_integration with the service account key)",
        'config.hcl:35: sym_strategy.b: integration_id: sym_integration.okta has type "okta", '
        'expected "google"',
        "config.hcl:42: sym_strategy.c: settings.domain: unknown setting for google_group",
    )


def test_a_valid_google_config_loads() -> None:
    config = load(
        BASE + GOOGLE + 'resource "sym_target" "eng" {\n  type = "google_group"\n'
        '  name = "eng"\n  settings = { group_email = "eng@acme.example" }\n}\n'
        'resource "sym_strategy" "google" {\n  type = "google_group"\n  name = "google"\n'
        "  targets = [sym_target.eng.id]\n  integration_id = sym_integration.google.id\n}\n",
        ENV,
    )
    assert config.strategies["google"].integration == "google"
    assert config.targets["eng"].settings == {"group_email": "eng@acme.example"}
    integration = config.integrations["google"]
    assert isinstance(integration.settings["service_account_key"], Secret)
    assert integration.settings["admin_email"] == "admin@acme.example"
