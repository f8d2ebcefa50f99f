"""A Sym customer's Terraform folder as it is: *.tf files, Terraform's own blocks, lock files."""

from __future__ import annotations

from pathlib import Path

import pytest

from symbox.config import ConfigError, load_config, missing_flows
from tests.config.helpers import write

FLOW = """\
resource "sym_environment" "prod" {
  name = "prod"
}

resource "sym_flow" "access" {
  name           = "access"
  implementation = "# no hooks"
  environment_id = sym_environment.prod.id
}
"""

# What `terraform init` leaves next to a project, and what symbox must not read.
LOCK_FILE = """\
provider "registry.terraform.io/symopsio/sym" {
  version     = "3.0.0"
  constraints = "~> 3.0"
  hashes = ["h1:abc="]
}
"""


def _problems(folder: str = "conf") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(folder, {})
    return [str(problem) for problem in caught.value.problems]


def test_a_folder_reads_tf_and_hcl_files_but_not_dot_files_or_the_terraform_folder(
    in_tmp: Path,
) -> None:
    folder = in_tmp / "conf"
    write(folder, FLOW, "main.tf")
    write(folder, 'variable "unused" { default = 1 }\n', "extra.hcl")
    write(folder, LOCK_FILE, ".terraform.lock.hcl")
    write(folder, "this is { not hcl", ".terraform/modules/x/main.tf")
    write(folder, "broken {", "main.tf~")
    write(folder, "broken {", "#main.tf#")
    write(folder, "not a config", "README.md")

    config = load_config("conf", {})
    assert config.files == ("conf/extra.hcl", "conf/main.tf")
    assert config.flows["access"].location.file == "conf/main.tf"
    assert config.notices == ()


def test_a_folder_with_only_a_lock_file_has_no_config(in_tmp: Path) -> None:
    write(in_tmp / "conf", LOCK_FILE, ".terraform.lock.hcl")
    assert _problems() == ["conf: no *.tf or *.hcl files in this folder"]


def test_a_config_without_a_flow_says_what_was_read(in_tmp: Path) -> None:
    write(in_tmp / "conf", 'resource "sym_environment" "e" { name = "e" }\n', "a.tf")
    write(in_tmp / "conf", 'provider "sym" { org = "acme" }\n', "b.hcl")
    config = load_config("conf", {})
    assert missing_flows(config) == (
        "no sym_flow: read conf/a.tf, conf/b.hcl, and none of them defines a "
        'resource "sym_flow"; symbox serves flows, so there is nothing to run'
    )
    write(in_tmp / "conf", FLOW.replace("prod", "other"), "c.tf")
    assert missing_flows(load_config("conf", {})) is None


TERRAFORM_PROJECT = """\
terraform {
  required_providers {
    sym = {
      source  = "symopsio/sym"
      version = "~> 3.0"
    }
  }
}

provider "sym" {
  org = "acme"
}

provider "aws" {
  region = "us-east-1"
}

data "aws_caller_identity" "current" {}

module "runtime_connector" {
  source      = "symopsio/runtime-connector/aws"
  environment = "prod"
}

resource "aws_iam_role" "grants" {
  name = "sym-grants"
}

output "role_arn" {
  value = aws_iam_role.grants.arn
}

moved {
  from = sym_flow.old
  to   = sym_flow.access
}

import {
  to = sym_environment.prod
  id = "abc"
}

check "health" {
  assert {
    condition     = true
    error_message = "never"
  }
}

locals {
  account_id = data.aws_caller_identity.current.account_id
  role       = "arn:aws:iam::${local.account_id}:role/x"
}

resource "sym_environment" "prod" {
  name       = "prod"
  depends_on = [module.runtime_connector]

  lifecycle {
    prevent_destroy = true
  }
}

resource "sym_flow" "access" {
  name           = "access"
  implementation = "# no hooks"
  environment_id = sym_environment.prod.id
}
"""


def _line(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_terraform_blocks_are_read_and_ignored_with_one_notice_each(in_tmp: Path) -> None:
    write(in_tmp / "conf", TERRAFORM_PROJECT, "main.tf")
    config = load_config("conf", {})
    assert set(config.flows) == {"access"}
    tf = "symbox does not run Terraform"
    lines = [
        _line(TERRAFORM_PROJECT, fragment)
        for fragment in (
            "terraform {", 'provider "sym"', 'provider "aws"', "data ", "module ",
            "aws_iam_role", "output ", "moved ", "import ", "check ", "depends_on", "lifecycle",
        )
    ]  # fmt: skip
    what = [
        f"terraform block ignored: {tf}",
        f'provider "sym" block ignored: {tf}',
        f'provider "aws" block ignored: {tf}',
        f'data "aws_caller_identity" "current" block ignored: {tf}',
        f'module "runtime_connector" block ignored: {tf}, and reads only local modules '
        '(source = "./..."), not "symopsio/runtime-connector/aws"',
        'resource "aws_iam_role" "grants" block ignored: symbox reads only sym_* resources',
        f'output "role_arn" block ignored: {tf}',
        f"moved block ignored: {tf}",
        f"import block ignored: {tf}",
        f'check "health" block ignored: {tf}',
        "sym_environment.prod: depends_on ignored: symbox orders resources by their references",
        f"sym_environment.prod: lifecycle ignored: {tf}",
    ]
    assert config.notices == tuple(
        f"conf/main.tf:{line}: {text}" for line, text in zip(lines, what, strict=True)
    )


SUPPLY = (
    "which symbox ignores: give the value as a variable (declare it, then set it with --var or "
    "in a tfvars file), or bring it in with symbox import from `terraform show -json`"
)


@pytest.mark.parametrize(
    ("expression", "shown", "block", "fragment"),
    [
        ("aws_iam_role.grants.arn", "aws_iam_role.grants.arn", 'resource "aws_iam_role" "grants"',
         "aws_iam_role"),
        ("data.aws_caller_identity.current.account_id",
         "data.aws_caller_identity.current.account_id",
         'data "aws_caller_identity" "current"', "data "),
        ('module.runtime_connector.settings["role_arn"]', "module.runtime_connector.settings",
         'module "runtime_connector"', "module "),
        ("output.role_arn", "output.role_arn", 'output "role_arn"', "output "),
    ],
)  # fmt: skip
def test_a_sym_resource_needing_an_ignored_blocks_value_names_both_places(
    in_tmp: Path, expression: str, shown: str, block: str, fragment: str
) -> None:
    text = (
        TERRAFORM_PROJECT
        + '\nresource "sym_target" "t" {\n  type = "custom"\n'
        + (f'  name = "t"\n  settings = {{ role = {expression} }}\n}}\n')
    )
    write(in_tmp / "conf", text, "main.tf")
    settings_line = _line(text, "settings = { role")
    computed = shown.rsplit(".", 1)[1]
    supply = SUPPLY
    if block.startswith(("resource", "data")):
        supply = SUPPLY.replace(
            "ignores:",
            f"ignores ({computed} is not written in that block: only Terraform knows it):",
        )
    assert _problems() == [
        f"conf/main.tf:{settings_line}: {shown} needs the {block} block at "
        f"conf/main.tf:{_line(text, fragment)}, {supply}"
    ]


def test_a_local_a_sym_resource_uses_is_held_to_its_ignored_references(in_tmp: Path) -> None:
    text = TERRAFORM_PROJECT.replace(
        'implementation = "# no hooks"', 'implementation = "# ${local.role}"'
    )
    write(in_tmp / "conf", text, "main.tf")
    assert _problems() == [
        f"conf/main.tf:{_line(text, 'account_id = data')}: "
        "data.aws_caller_identity.current.account_id needs the "
        f'data "aws_caller_identity" "current" block at conf/main.tf:{_line(text, "data ")}, '
        + SUPPLY.replace(
            "ignores:",
            "ignores (account_id is not written in that block: only Terraform knows it):",
        )
    ]


def test_unused_locals_are_still_checked_for_other_problems(in_tmp: Path) -> None:
    text = TERRAFORM_PROJECT.replace("locals {", "locals {\n  broken = var.nope")
    write(in_tmp / "conf", text, "main.tf")
    assert _problems() == [
        f"conf/main.tf:{_line(text, 'broken = var.nope')}: undefined variable var.nope"
    ]


def test_a_reference_to_a_block_that_is_not_there_stays_unknown(in_tmp: Path) -> None:
    text = FLOW.replace('"# no hooks"', "data.aws_caller_identity.nope.id")
    write(in_tmp / "conf", text, "main.tf")
    assert _problems() == [
        f"conf/main.tf:{_line(text, 'implementation')}: unknown reference "
        "data.aws_caller_identity.nope"
    ]


def test_a_flow_implementation_may_be_a_path_as_sym_allows(in_tmp: Path) -> None:
    folder = in_tmp / "conf"
    as_path = FLOW.replace('"# no hooks"', '"${path.module}/impl.py"')
    write(folder, as_path, "main.tf")
    write(folder, "def on_request(event):\n    return None\n", "impl.py")
    flow = load_config("conf", {}).flows["access"]
    assert flow.implementation == "def on_request(event):\n    return None\n"
    assert flow.implementation_path == "conf/impl.py"
    write(folder, as_path.replace("impl.py", "gone.py"), "main.tf")
    assert _problems() == [
        "conf/main.tf:7: sym_flow.access: implementation: cannot read conf/gone.py: "
        "No such file or directory"
    ]


def test_arguments_written_in_ignored_resource_and_data_blocks_are_read(in_tmp: Path) -> None:
    text = FLOW + (
        'resource "aws_secretsmanager_secret" "okta" {\n'
        '  name = "${var.env}/okta"\n'
        "  tags = { SymEnv = var.env }\n"
        "}\n"
        'data "aws_secretsmanager_secret" "existing" {\n'
        '  name = "shared/pagerduty"\n'
        "}\n"
        'variable "env" { default = "prod" }\n'
        'resource "sym_target" "t" {\n'
        '  type     = "custom"\n'
        "  name     = aws_secretsmanager_secret.okta.tags.SymEnv\n"
        "  settings = {\n"
        "    path  = aws_secretsmanager_secret.okta.name\n"
        "    other = data.aws_secretsmanager_secret.existing.name\n"
        '    tag   = aws_secretsmanager_secret.okta.tags["SymEnv"]\n'
        "  }\n"
        "}\n"
    )
    write(in_tmp / "conf", text, "main.tf")
    target = load_config("conf", {}).targets["t"]
    assert target.name == "prod"
    assert target.settings == {"path": "prod/okta", "other": "shared/pagerduty", "tag": "prod"}


def test_an_ignored_resource_with_for_each_or_a_computed_attribute_stays_unknown(
    in_tmp: Path,
) -> None:
    text = FLOW + (
        'resource "aws_secretsmanager_secret" "many" {\n'
        '  for_each = toset(["a"])\n'
        "  name     = each.key\n"
        "}\n"
        'resource "sym_target" "t" {\n'
        '  type     = "custom"\n'
        '  name     = "t"\n'
        '  settings = { a = aws_secretsmanager_secret.many["a"].name }\n'
        "}\n"
    )
    write(in_tmp / "conf", text, "main.tf")
    assert _problems() == [
        f"conf/main.tf:{_line(text, 'settings = { a')}: aws_secretsmanager_secret.many needs the "
        'resource "aws_secretsmanager_secret" "many" block at '
        f"conf/main.tf:{_line(text, 'aws_secretsmanager_secret')}, {SUPPLY}"
    ]


def test_a_module_s_own_ignored_resources_are_read_by_its_own_names(in_tmp: Path) -> None:
    write(
        in_tmp / "conf",
        """\
        resource "aws_secretsmanager_secret" "key" {
          name = "team/key"
        }

        resource "sym_target" "t" {
          type     = "custom"
          name     = "t"
          settings = { path = aws_secretsmanager_secret.key.name }
        }
        """,
        "modules/m/main.tf",
    )
    write(in_tmp / "conf", FLOW + 'module "m" {\n  source = "./modules/m"\n}\n', "main.tf")
    config = load_config("conf", {})
    assert config.targets["module.m.t"].settings == {"path": "team/key"}


def test_a_setting_only_terraform_knows_is_reported_once_not_also_as_missing(
    in_tmp: Path,
) -> None:
    text = FLOW + (
        'module "lambda_function" {\n  source = "terraform-aws-modules/lambda/aws"\n}\n'
        'resource "sym_target" "t" {\n  type = "aws_lambda_function"\n  name = "t"\n'
        "  settings = { arn = module.lambda_function.lambda_function_arn }\n}\n"
    )
    write(in_tmp / "conf", text, "main.tf")
    problems = _problems()
    assert len(problems) == 1, problems
    assert "module.lambda_function.lambda_function_arn needs the module" in problems[0]


SYM_LOOKUPS = """\
data "sym_runtime" "this" {
  name = "prod"
}

data "sym_integration" "slack" {
  type = "slack"
  name = "main-slack"
}

resource "sym_runtime" "rt" {
  name = "prod"
}

resource "sym_integration" "slack" {
  type        = "slack"
  name        = "main-slack"
  external_id = "T1"
}

resource "sym_environment" "prod" {
  name         = "prod"
  runtime_id   = data.sym_runtime.this.id
  integrations = { slack_id = data.sym_integration.slack.id }
}

resource "sym_flow" "access" {
  name           = "access"
  implementation = "# no hooks"
  environment_id = sym_environment.prod.id
}
"""


def test_sym_data_sources_look_up_the_config_s_own_objects_by_name(in_tmp: Path) -> None:
    write(in_tmp / "conf", SYM_LOOKUPS, "main.tf")
    config = load_config("conf", {})
    environment = config.environments["prod"]
    assert environment.runtime == "rt"
    assert environment.integrations == {"slack_id": "slack"}
    missing = SYM_LOOKUPS.replace(
        'name = "main-slack"\n}\n\nresource "sym_runtime"',
        'name = "other"\n}\n\nresource "sym_runtime"',
        1,
    )
    write(in_tmp / "conf", missing, "main.tf")
    assert _problems() == [
        "conf/main.tf:5: data.sym_integration.slack: Sym looks up the sym_integration with "
        'type = "slack", name = "other" in your Sym organization; symbox looks in this config '
        "and found none"
    ]


def test_a_reference_argument_may_be_given_by_a_variable_as_a_key_or_a_name(
    in_tmp: Path,
) -> None:
    text = (
        'variable "runtime" {}\n'
        'variable "slack" {}\n'
        'resource "sym_runtime" "rt" {\n  name = "prod-runtime"\n}\n'
        'resource "sym_integration" "slack" {\n  type = "slack"\n  name = "main-slack"\n'
        '  external_id = "T1"\n}\n'
        'resource "sym_environment" "prod" {\n  name = "prod"\n  runtime_id = var.runtime\n'
        "  integrations = { slack_id = var.slack }\n}\n"
        'resource "sym_flow" "access" {\n  name = "access"\n  implementation = "# no hooks"\n'
        "  environment_id = sym_environment.prod.id\n}\n"
    )
    write(in_tmp / "conf", text, "main.tf")
    environ = {"TF_VAR_runtime": "prod-runtime", "TF_VAR_slack": "slack"}
    environment = load_config("conf", environ).environments["prod"]
    assert environment.runtime == "rt"
    assert environment.integrations == {"slack_id": "slack"}
