"""Problems with AWS strategies, targets and permission contexts, as file:line messages."""

from __future__ import annotations

from tests.config.test_problems import check

SSO_TARGETS = (
    'resource "sym_target" "ps" {\n  type = "aws_sso_permission_set"\n  name = "ps"\n'
    '  settings = { permission_set_arn = "arn:aws:iam::1:role/x", account_id = "12" }\n}\n'
    'resource "sym_target" "g" {\n  type = "aws_sso_group"\n  name = "g"\n}\n'
)


def test_aws_targets_need_their_settings_in_aws_shapes() -> None:
    check(
        SSO_TARGETS,
        'config.hcl:17: sym_target.ps: settings.permission_set_arn: "arn:aws:iam::1:role/x" '
        "is not a permission set ARN",
        'config.hcl:17: sym_target.ps: settings.account_id: "12" is not a 12-digit AWS account id',
        "config.hcl:19: sym_target.g: settings.group_id is required for aws_sso_group targets",
    )


def test_aws_strategy_settings_are_checked() -> None:
    check(
        'resource "sym_target" "i" {\n  type = "aws_iam_group"\n  name = "i"\n'
        '  settings = { iam_group = "admins" }\n}\n'
        'resource "sym_strategy" "sso" {\n  type = "aws_sso"\n  name = "sso"\n  targets = []\n'
        '  settings = { user_mapping = "nickname", endpoint_url = "localhost:4566" }\n}\n'
        'resource "sym_strategy" "iam" {\n  type = "aws_iam"\n  name = "iam"\n'
        "  targets = [sym_target.i.id]\n  integration_id = sym_integration.ctx.id\n"
        '  settings = { user_mapping = "tag:", instance_arn = "x" }\n}\n'
        'resource "sym_integration" "ctx" {\n  type = "slack"\n  name = "ctx"\n'
        '  external_id = "T1"\n}\n',
        "config.hcl:23: sym_strategy.sso: settings.endpoint_url: expected an http:// or "
        "https:// URL",
        "config.hcl:23: sym_strategy.sso: settings.instance_arn is required, e.g. "
        '"arn:aws:sso:::instance/ssoins-..."',
        'config.hcl:23: sym_strategy.sso: settings.user_mapping: "nickname": expected '
        "user_name or email",
        'config.hcl:29: sym_strategy.iam: integration_id: sym_integration.ctx has type "slack", '
        'expected "permission_context" (the AWS role to assume)',
        "config.hcl:30: sym_strategy.iam: settings.instance_arn: unknown setting for aws_iam "
        "(known: endpoint_url, region, user_mapping)",
        'config.hcl:30: sym_strategy.iam: settings.user_mapping: "tag:": expected user_name, '
        "local_part, tag:KEY",
    )


def test_permission_contexts_name_an_aws_role() -> None:
    check(
        'resource "sym_integration" "ctx" {\n  type = "permission_context"\n  name = "ctx"\n'
        '  external_id = "111122223333"\n'
        '  settings = { cloud = "gcp", role_arn = "arn:aws:iam::1:user/x" }\n}\n',
        'config.hcl:18: sym_integration.ctx: settings.cloud: symbox supports "aws" only',
        'config.hcl:18: sym_integration.ctx: settings.role_arn: "arn:aws:iam::1:user/x" is not '
        "an IAM role ARN",
    )
