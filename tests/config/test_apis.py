"""Problems with API (okta, github, tailscale, onelogin, aptible) and aws_lambda strategies."""

from __future__ import annotations

from symbox.config.apis import api_token, stored_secret
from tests.config.helpers import load
from tests.config.test_problems import BASE, ENV, check

OKTA = (
    'resource "sym_integration" "okta" {\n  type = "okta"\n  name = "okta"\n'
    '  external_id = "acme.okta.com"\n  settings = { api_token = env("S") }\n}\n'
)


def test_targets_need_their_settings_in_the_shape_the_api_takes() -> None:
    check(
        'resource "sym_target" "o" {\n  type = "okta_group"\n  name = "o"\n}\n'
        'resource "sym_target" "g" {\n  type = "github_repo"\n  name = "g"\n'
        '  settings = { repo_name = "a/b/c", permission = "write" }\n}\n'
        'resource "sym_target" "f" {\n  type = "aws_lambda_function"\n  name = "f"\n'
        '  settings = { arn = "arn:aws:lambda:us-east-1:1:fn" }\n}\n',
        "config.hcl:14: sym_target.o: settings.group_id is required for okta_group targets",
        'config.hcl:21: sym_target.g: settings.permission: "write": expected one of pull, '
        "triage, push, maintain, admin",
        'config.hcl:21: sym_target.g: settings.repo_name: "a/b/c" is not a repository name '
        "(OWNER/REPO, or REPO in the org)",
        'config.hcl:26: sym_target.f: settings.arn: "arn:aws:lambda:us-east-1:1:fn" is not a '
        "Lambda function ARN",
    )


def test_strategies_need_an_integration_of_their_type_with_a_token_from_env() -> None:
    check(
        OKTA + 'resource "sym_integration" "gh" {\n  type = "github"\n  name = "gh"\n'
        '  external_id = "acme"\n  settings = { api_token = "plain", base_url = "ftp://x" }\n}\n'
        'resource "sym_integration" "bare" {\n  type = "github"\n  name = "bare"\n'
        '  external_id = "acme"\n}\n'
        'resource "sym_strategy" "a" {\n  type = "okta"\n  name = "a"\n  targets = []\n}\n'
        'resource "sym_strategy" "b" {\n  type = "github"\n  name = "b"\n  targets = []\n'
        "  integration_id = sym_integration.okta.id\n}\n"
        'resource "sym_strategy" "c" {\n  type = "github"\n  name = "c"\n  targets = []\n'
        '  integration_id = sym_integration.bare.id\n  settings = { org = "x" }\n}\n',
        'config.hcl:24: sym_integration.gh: settings.api_token: must be read with env("NAME"), '
        "not written in the config",
        "config.hcl:24: sym_integration.gh: settings.base_url: expected an http:// or https:// URL",
        "config.hcl:31: sym_strategy.a: okta strategies need integration_id (the okta "
        "sym_integration with the API token)",
        'config.hcl:40: sym_strategy.b: integration_id: sym_integration.okta has type "okta", '
        'expected "github"',
        "config.hcl:46: sym_strategy.c: integration_id: sym_integration.bare needs "
        'settings.api_token (api_token = env("NAME")) or settings.api_token_secret '
        "(api_token_secret = sym_secret.NAME.id) for the github strategy",
        "config.hcl:47: sym_strategy.c: settings.org: unknown setting for github",
    )


def test_a_valid_config_of_each_kind_loads() -> None:
    config = load(
        BASE + OKTA + 'resource "sym_target" "o" {\n  type = "okta_group"\n  name = "o"\n'
        '  settings = { group_id = "00g1" }\n}\n'
        'resource "sym_strategy" "okta" {\n  type = "okta"\n  name = "okta"\n'
        "  targets = [sym_target.o.id]\n  integration_id = sym_integration.okta.id\n}\n"
        'resource "sym_target" "f" {\n  type = "aws_lambda_function"\n  name = "f"\n'
        '  settings = { arn = "arn:aws:lambda:us-east-1:111122223333:function:grant:live" }\n}\n'
        'resource "sym_strategy" "fn" {\n  type = "aws_lambda"\n  name = "fn"\n'
        '  targets = [sym_target.f.id]\n  settings = { region = "us-east-1" }\n}\n',
        ENV,
    )
    assert config.strategies["okta"].integration == "okta"
    assert config.targets["f"].settings["arn"].endswith(":grant:live")


TAILSCALE = (
    'resource "sym_integration" "ts" {\n  type = "tailscale"\n  name = "ts"\n'
    '  external_id = "acme.example"\n  settings = { api_token = env("S") }\n}\n'
)


def test_tailscale_strategies_need_a_key_from_env_and_group_names() -> None:
    check(
        TAILSCALE + 'resource "sym_integration" "plain" {\n  type = "tailscale"\n'
        '  name = "plain"\n  external_id = "acme.example"\n'
        '  settings = { api_token = "tskey-api-x" }\n}\n'
        'resource "sym_integration" "bare" {\n  type = "tailscale"\n  name = "bare"\n'
        '  external_id = "acme.example"\n}\n'
        'resource "sym_target" "none" {\n  type = "tailscale_group"\n  name = "none"\n}\n'
        'resource "sym_target" "bad" {\n  type = "tailscale_group"\n  name = "bad"\n'
        '  settings = { group_name = "prod db" }\n}\n'
        'resource "sym_strategy" "a" {\n  type = "tailscale"\n  name = "a"\n  targets = []\n}\n'
        'resource "sym_strategy" "b" {\n  type = "tailscale"\n  name = "b"\n  targets = []\n'
        "  integration_id = sym_integration.bare.id\n}\n",
        'config.hcl:24: sym_integration.plain: settings.api_token: must be read with env("NAME"), '
        "not written in the config",
        "config.hcl:31: sym_target.none: settings.group_name is required for tailscale_group "
        "targets",
        'config.hcl:38: sym_target.bad: settings.group_name: "prod db": expected a Tailscale '
        'group name ("prod" or "group:prod")',
        "config.hcl:40: sym_strategy.a: tailscale strategies need integration_id (the "
        "tailscale sym_integration with the API token)",
        "config.hcl:49: sym_strategy.b: integration_id: sym_integration.bare needs "
        'settings.api_token (api_token = env("NAME")) or settings.api_token_secret '
        "(api_token_secret = sym_secret.NAME.id) for the tailscale strategy",
    )


def test_a_valid_tailscale_config_loads() -> None:
    config = load(
        BASE + TAILSCALE + 'resource "sym_target" "db" {\n  type = "tailscale_group"\n'
        '  name = "db"\n  settings = { group_name = "group:prod-db" }\n}\n'
        'resource "sym_strategy" "ts" {\n  type = "tailscale"\n  name = "ts"\n'
        "  targets = [sym_target.db.id]\n  integration_id = sym_integration.ts.id\n}\n",
        ENV,
    )
    assert config.strategies["ts"].integration == "ts"
    assert config.targets["db"].settings["group_name"] == "group:prod-db"


SECRETS = (
    'resource "sym_secrets" "aws" {\n  type = "aws_secrets_manager"\n  name = "aws"\n}\n'
    'resource "sym_secret" "tok" {\n  path = "symbox/okta"\n  source_id = sym_secrets.aws.id\n}\n'
)


def test_a_token_may_come_from_a_sym_secret_but_not_from_both_places() -> None:
    check(
        SECRETS + 'resource "sym_integration" "both" {\n  type = "okta"\n  name = "both"\n'
        '  external_id = "acme.okta.com"\n'
        '  settings = { api_token = env("S"), api_token_secret = sym_secret.tok.id }\n}\n'
        'resource "sym_integration" "text" {\n  type = "pagerduty"\n  name = "text"\n'
        '  external_id = "acme"\n  settings = { api_token_secret = "symbox/okta" }\n}\n'
        'resource "sym_integration" "gone" {\n  type = "github"\n  name = "gone"\n'
        '  external_id = "acme"\n  settings = { api_token_secret = "sym_secret.gone" }\n}\n',
        "config.hcl:26: sym_integration.both: settings: use api_token or api_token_secret, "
        "not both",
        "config.hcl:32: sym_integration.text: settings.api_token_secret: expected a reference "
        "to a sym_secret (sym_secret.NAME.id)",
        "config.hcl:38: sym_integration.gone: settings.api_token_secret: no resource "
        "sym_secret.gone",
    )


def test_a_strategy_loads_with_its_token_in_a_sym_secret() -> None:
    config = load(
        BASE + SECRETS + 'resource "sym_integration" "okta" {\n  type = "okta"\n'
        '  name = "okta"\n  external_id = "acme.okta.com"\n'
        "  settings = { api_token_secret = sym_secret.tok.id }\n}\n"
        'resource "sym_target" "o" {\n  type = "okta_group"\n  name = "o"\n'
        '  settings = { group_id = "00g1" }\n}\n'
        'resource "sym_strategy" "okta" {\n  type = "okta"\n  name = "okta"\n'
        "  targets = [sym_target.o.id]\n  integration_id = sym_integration.okta.id\n}\n",
        ENV,
    )
    assert api_token(config.integrations["okta"].settings) == "tok"
    assert config.strategies["okta"].integration == "okta"


def test_knowbe4_integrations_need_a_token_and_a_region() -> None:
    check(
        'resource "sym_integration" "k" {\n  type = "knowbe4"\n  name = "k"\n'
        '  external_id = "x.com"\n  settings = { api_token = "plain", region = "mars" }\n}\n',
        'config.hcl:18: sym_integration.k: settings.api_token: must be read with env("NAME"), '
        "not written in the config",
        "config.hcl:18: sym_integration.k: settings.region: expected one of us, eu, ca, uk, de",
    )
    config = load(
        BASE + 'resource "sym_integration" "k" {\n  type = "knowbe4"\n  name = "k"\n'
        '  external_id = "x.com"\n  settings = { api_token = env("S"), region = "eu" }\n}\n',
        ENV,
    )
    assert config.integrations["k"].settings["region"] == "eu"


ONELOGIN = (
    'resource "sym_integration" "ol" {\n  type = "onelogin"\n  name = "ol"\n'
    '  external_id = "acme.onelogin.com"\n'
    '  settings = { client_id = "c1", client_secret = env("S") }\n}\n'
)


def test_onelogin_integrations_need_a_client_id_and_a_secret_kept_out_of_the_config() -> None:
    check(
        SECRETS + 'resource "sym_integration" "bare" {\n  type = "onelogin"\n  name = "bare"\n'
        '  external_id = "acme.onelogin.com"\n}\n'
        'resource "sym_integration" "plain" {\n  type = "onelogin"\n  name = "plain"\n'
        '  external_id = "acme.onelogin.com"\n'
        '  settings = { client_id = "", client_secret = "hunter2" }\n}\n'
        'resource "sym_integration" "both" {\n  type = "onelogin"\n  name = "both"\n'
        '  external_id = "acme.onelogin.com"\n  settings = { client_id = "c1",\n'
        '    client_secret = env("S"), client_secret_secret = sym_secret.tok.id }\n}\n'
        'resource "sym_integration" "gone" {\n  type = "onelogin"\n  name = "gone"\n'
        '  external_id = "acme.onelogin.com"\n  settings = { client_id = "c1",\n'
        '    client_secret_secret = "sym_secret.gone", base_url = "acme.onelogin.com" }\n}\n',
        "config.hcl:22: sym_integration.bare: settings.client_id is required for onelogin "
        "integrations",
        'config.hcl:22: sym_integration.bare: settings.client_secret (client_secret = env("NAME")) '
        "or settings.client_secret_secret (client_secret_secret = sym_secret.NAME.id) is "
        "required for onelogin integrations",
        "config.hcl:31: sym_integration.plain: settings.client_id: expected a non-empty string",
        "config.hcl:31: sym_integration.plain: settings.client_secret: must be read with "
        'env("NAME"), not written in the config',
        "config.hcl:37: sym_integration.both: settings: use client_secret or "
        "client_secret_secret, not both",
        "config.hcl:44: sym_integration.gone: settings.client_secret_secret: no resource "
        "sym_secret.gone",
        "config.hcl:44: sym_integration.gone: settings.base_url: expected an http:// or "
        "https:// URL",
    )


def test_onelogin_strategies_need_a_onelogin_integration_and_role_targets() -> None:
    check(
        ONELOGIN + OKTA + 'resource "sym_target" "none" {\n  type = "onelogin_role"\n'
        '  name = "none"\n}\n'
        'resource "sym_target" "num" {\n  type = "onelogin_role"\n  name = "num"\n'
        "  settings = { role_id = 254213 }\n}\n"
        'resource "sym_strategy" "a" {\n  type = "onelogin"\n  name = "a"\n'
        "  targets = [sym_target.t.id]\n}\n"
        'resource "sym_strategy" "b" {\n  type = "onelogin"\n  name = "b"\n  targets = []\n'
        "  integration_id = sym_integration.okta.id\n}\n",
        "config.hcl:26: sym_target.none: settings.role_id is required for onelogin_role targets",
        "config.hcl:33: sym_target.num: settings.role_id: expected a non-empty string",
        'config.hcl:38: sym_strategy.a: targets: sym_target.t has type "custom", which a '
        "onelogin strategy cannot grant (expected onelogin_role)",
        'config.hcl:44: sym_strategy.b: integration_id: sym_integration.okta has type "okta", '
        'expected "onelogin"',
    )


def test_a_valid_onelogin_config_loads_with_its_secret_in_env_or_a_sym_secret() -> None:
    target = (
        'resource "sym_target" "admins" {\n  type = "onelogin_role"\n  name = "admins"\n'
        '  settings = { role_id = "254213" }\n}\n'
    )
    config = load(
        BASE + ONELOGIN + target + 'resource "sym_strategy" "ol" {\n  type = "onelogin"\n'
        '  name = "ol"\n  targets = [sym_target.admins.id]\n'
        "  integration_id = sym_integration.ol.id\n}\n",
        ENV,
    )
    assert config.strategies["ol"].integration == "ol"
    assert config.targets["admins"].settings == {"role_id": "254213"}
    stored = load(
        BASE + SECRETS + target + 'resource "sym_integration" "ol" {\n  type = "onelogin"\n'
        '  name = "ol"\n  external_id = "acme.onelogin.com"\n'
        '  settings = { client_id = "c1", client_secret_secret = sym_secret.tok.id }\n}\n'
        'resource "sym_strategy" "ol" {\n  type = "onelogin"\n  name = "ol"\n'
        "  targets = [sym_target.admins.id]\n  integration_id = sym_integration.ol.id\n}\n",
        ENV,
    )
    assert stored_secret(stored.integrations["ol"].settings, "client_secret") == "tok"
    # Sym's own spelling: the secret setting holds the sym_secret's id.
    as_in_sym = load(
        BASE + SECRETS + target + 'resource "sym_integration" "ol" {\n  type = "onelogin"\n'
        '  name = "ol"\n  external_id = "acme.onelogin.com"\n'
        '  settings = { client_id = "c1", client_secret = sym_secret.tok.id }\n}\n'
        'resource "sym_strategy" "ol" {\n  type = "onelogin"\n  name = "ol"\n'
        "  targets = [sym_target.admins.id]\n  integration_id = sym_integration.ol.id\n}\n",
        ENV,
    )
    assert stored_secret(as_in_sym.integrations["ol"].settings, "client_secret") == "tok"


APTIBLE = (
    'resource "sym_integration" "apt" {\n  type = "aptible"\n  name = "apt"\n'
    '  external_id = "org-5a1e"\n'
    '  settings = { username = "robot@acme.example", password = env("S") }\n}\n'
)


def test_aptible_integrations_need_a_username_and_a_password_kept_out_of_the_config() -> None:
    check(
        SECRETS + 'resource "sym_integration" "bare" {\n  type = "aptible"\n  name = "bare"\n'
        '  external_id = "org-5a1e"\n  settings = { password = env("S") }\n}\n'
        'resource "sym_integration" "plain" {\n  type = "aptible"\n  name = "plain"\n'
        '  external_id = "org-5a1e"\n'
        '  settings = { username = "robot@acme.example", password = "hunter2" }\n}\n'
        'resource "sym_integration" "text" {\n  type = "aptible"\n  name = "text"\n'
        '  external_id = "org-5a1e"\n'
        '  settings = { username = "robot@acme.example", password_secret = "symbox/apt" }\n}\n'
        'resource "sym_target" "none" {\n  type = "aptible_role"\n  name = "none"\n}\n'
        'resource "sym_strategy" "a" {\n  type = "aptible"\n  name = "a"\n  targets = []\n}\n',
        "config.hcl:26: sym_integration.bare: settings.username is required for aptible "
        "integrations",
        "config.hcl:32: sym_integration.plain: settings.password: must be read with "
        'env("NAME"), not written in the config',
        "config.hcl:38: sym_integration.text: settings.password_secret: expected a reference "
        "to a sym_secret (sym_secret.NAME.id)",
        "config.hcl:40: sym_target.none: settings.role_id is required for aptible_role targets",
        "config.hcl:44: sym_strategy.a: aptible strategies need integration_id (the aptible "
        "sym_integration with the API credentials)",
    )


def test_a_valid_aptible_config_loads_with_its_password_in_env_or_a_sym_secret() -> None:
    target = (
        'resource "sym_target" "db" {\n  type = "aptible_role"\n  name = "db"\n'
        '  settings = { role_id = "role-db-admins" }\n}\n'
        'resource "sym_strategy" "apt" {\n  type = "aptible"\n  name = "apt"\n'
        "  targets = [sym_target.db.id]\n  integration_id = sym_integration.apt.id\n}\n"
    )
    config = load(BASE + APTIBLE + target, ENV)
    assert config.strategies["apt"].integration == "apt"
    assert config.targets["db"].settings == {"role_id": "role-db-admins"}
    stored = load(
        BASE + SECRETS + target + 'resource "sym_integration" "apt" {\n  type = "aptible"\n'
        '  name = "apt"\n  external_id = "org-5a1e"\n  settings = {\n'
        '    username = "robot@acme.example", password_secret = sym_secret.tok.id\n  }\n}\n',
        ENV,
    )
    assert stored_secret(stored.integrations["apt"].settings, "password") == "tok"


def test_an_aptible_integration_in_sym_s_shape_keeps_both_credentials_in_sym_secrets() -> None:
    config = load(
        BASE + SECRETS + 'resource "sym_secret" "user" {\n  path = "p"\n'
        "  source_id = sym_secrets.aws.id\n}\n"
        'resource "sym_integration" "apt" {\n  type = "aptible"\n  name = "apt"\n'
        '  external_id = "org-5a1e"\n'
        "  settings = { username_secret = sym_secret.user.id, password_secret = sym_secret.tok.id }"
        "\n}\n",
        ENV,
    )
    settings = config.integrations["apt"].settings
    assert stored_secret(settings, "username") == "user"
    assert stored_secret(settings, "password") == "tok"
