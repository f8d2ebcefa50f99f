"""HCL configs whose strategies grant in moto's AWS."""

from __future__ import annotations

from tests.fakes.api_configs import access_flow


def aws_config(
    endpoint: str,
    *,
    instance_arn: str,
    permission_set_arn: str,
    account_id: str,
    sso_group_id: str,
    strategy: str = "sso",
    hooks: str = "# no hooks",
) -> str:
    """An ``access`` flow over an aws_sso or aws_iam strategy, with one target per AWS kind."""
    return f'''
resource "sym_target" "sso_admin" {{
  type = "aws_sso_permission_set"
  name = "sso-admin"
  settings = {{
    permission_set_arn = "{permission_set_arn}"
    account_id         = "{account_id}"
  }}
}}

resource "sym_target" "sso_oncall" {{
  type     = "aws_sso_group"
  name     = "sso-oncall"
  settings = {{ group_id = "{sso_group_id}" }}
}}

resource "sym_target" "iam_admins" {{
  type     = "aws_iam_group"
  name     = "iam-admins"
  settings = {{ iam_group = "admins" }}
}}

resource "sym_strategy" "sso" {{
  type    = "aws_sso"
  name    = "sso"
  targets = [sym_target.sso_admin.id, sym_target.sso_oncall.id]
  settings = {{
    instance_arn = "{instance_arn}"
    endpoint_url = "{endpoint}"
  }}
}}

resource "sym_strategy" "iam" {{
  type     = "aws_iam"
  name     = "iam"
  targets  = [sym_target.iam_admins.id]
  settings = {{ endpoint_url = "{endpoint}", user_mapping = "local_part" }}
}}
''' + access_flow(strategy, f"<<-EOT\n{hooks}\nEOT")
