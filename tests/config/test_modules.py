"""Local module blocks: a module's variables, outputs and sym_* resources, as Terraform."""

from __future__ import annotations

from pathlib import Path

import pytest

from symbox.config import ConfigError, load_config
from tests.config.helpers import write
from tests.fakes.configs import access_config
from tests.harness import harness

TARGETS_MODULE = """\
variable "dbs" {
  type = map(string)
}

variable "kind" {
  default = "custom"
}

resource "sym_target" "db" {
  for_each = var.dbs
  type     = var.kind
  name     = each.value
  settings = { identifier = each.key }
}

output "ids" {
  value = [for t in sym_target.db : t.id]
}
"""

ROOT = """\
module "targets" {
  source = "./modules/targets"
  dbs    = { orders = "db-orders", billing = "db-billing" }
}

resource "sym_strategy" "s" {
  type     = "http"
  name     = "s"
  targets  = module.targets.ids
  settings = { url = "https://grants.example.com", signing_secret = env("SECRET") }
}
"""


def _problems(folder: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(".", {"SECRET": "x"})
    return [str(problem) for problem in caught.value.problems]


def test_a_module_makes_targets_the_root_strategy_uses(in_tmp: Path) -> None:
    write(in_tmp, TARGETS_MODULE, "modules/targets/main.tf")
    write(in_tmp, ROOT, "main.tf")
    config = load_config(".", {"SECRET": "x"})
    keys = ['module.targets.db["billing"]', 'module.targets.db["orders"]']
    assert list(config.targets) == keys
    assert config.targets[keys[1]].name == "db-orders"
    assert config.targets[keys[1]].settings == {"identifier": "orders"}
    assert set(config.strategies["s"].targets) == set(keys)


def test_nested_modules_and_file_relative_to_the_module(in_tmp: Path) -> None:
    write(in_tmp, "inner name\n", "modules/outer/inner/name.txt")
    write(
        in_tmp,
        """\
        variable "suffix" {}

        resource "sym_target" "t" {
          type = "custom"
          name = "${trimspace(file("${path.module}/name.txt"))}-${var.suffix}"
        }

        output "id" {
          value = sym_target.t.id
        }
        """,
        "modules/outer/inner/main.tf",
    )
    write(
        in_tmp,
        """\
        variable "suffix" {}

        module "inner" {
          source = "./inner"
          suffix = upper(var.suffix)
        }

        output "id" {
          value = module.inner.id
        }
        """,
        "modules/outer/main.tf",
    )
    write(
        in_tmp,
        """\
        module "outer" {
          source = "./modules/outer"
          suffix = "x"
        }

        resource "sym_strategy" "s" {
          type     = "http"
          name     = "s"
          targets  = [module.outer.id]
          settings = { url = "https://grants.example.com", signing_secret = env("SECRET") }
        }
        """,
        "main.tf",
    )
    config = load_config(".", {"SECRET": "x"})
    key = "module.outer.module.inner.t"
    assert config.targets[key].name == "inner name-X"
    assert config.strategies["s"].targets == (key,)


def test_a_missing_required_input_is_a_problem_at_the_call(in_tmp: Path) -> None:
    write(in_tmp, TARGETS_MODULE, "modules/targets/main.tf")
    write(
        in_tmp,
        ROOT.replace('  dbs    = { orders = "db-orders", billing = "db-billing" }\n', ""),
        "main.tf",
    )
    assert _problems(in_tmp) == [
        "./main.tf:1: module.targets: missing required input dbs "
        "(variable dbs at modules/targets/main.tf:1)"
    ]


def test_an_unknown_output_is_a_problem_naming_the_call(in_tmp: Path) -> None:
    write(in_tmp, TARGETS_MODULE, "modules/targets/main.tf")
    write(in_tmp, ROOT.replace("module.targets.ids", "module.targets.names"), "main.tf")
    assert _problems(in_tmp) == [
        "./main.tf:9: module.targets has no output names: the module called at ./main.tf:1 "
        "declares outputs: ids"
    ]


def test_a_problem_inside_a_module_names_the_module_file(in_tmp: Path) -> None:
    write(in_tmp, TARGETS_MODULE.replace("var.kind", "var.nope"), "modules/targets/main.tf")
    write(in_tmp, ROOT, "main.tf")
    # One problem per instance, as for any resource with for_each.
    assert set(_problems(in_tmp)) == {"modules/targets/main.tf:11: undefined variable var.nope"}


def test_a_registry_module_is_still_ignored(in_tmp: Path) -> None:
    write(
        in_tmp,
        """\
        module "connector" {
          source = "symopsio/runtime-connector/aws"
        }

        resource "sym_target" "t" {
          type = "custom"
          name = "t"
        }
        """,
        "main.tf",
    )
    config = load_config(".", {})
    assert config.notices == (
        './main.tf:1: module "connector" block ignored: symbox does not run Terraform, and reads '
        'only local modules (source = "./..."), not "symopsio/runtime-connector/aws"',
    )
    write(
        in_tmp,
        'resource "sym_target" "u" {\n  type = "custom"\n  name = module.connector.x\n}\n',
        "more.tf",
    )
    (message,) = _problems(in_tmp)
    assert message.startswith(
        './more.tf:3: module.connector.x needs the module "connector" block at ./main.tf:1'
    )
    assert "symbox import" in message


def _module_config(tmp_path: Path, receiver_url: str) -> str:
    """access_config with its targets made inside a local module."""
    text = access_config(receiver_url)
    start = text.index('resource "sym_target" "staging_db"')
    end = text.index('resource "sym_strategy"')
    write(tmp_path, TARGETS_MODULE, "modules/targets/main.tf")
    call = (
        'module "targets" {\n  source = "./modules/targets"\n'
        '  dbs    = { staging = "staging-db", prod = "prod-db" }\n}\n\n'
    )
    text = text[:start] + call + text[end:]
    return text.replace("[sym_target.staging_db.id, sym_target.prod_db.id]", "module.targets.ids")


@pytest.mark.anyio
async def test_a_module_target_is_granted_through_the_app(tmp_path: Path) -> None:
    async with harness(tmp_path, config_text=lambda url: _module_config(tmp_path, url)) as h:
        assert 'module.targets.db["prod"]' in h.app.config.targets
        run_id = await h.request(target="prod-db")
        await h.approve(run_id)
        await h.wait_status(run_id, "escalated")
        assert h.receiver.state.granted == {("prod-db", "carol@example.com")}


def test_unused_locals_of_a_module_are_checked_but_may_read_ignored_blocks(in_tmp: Path) -> None:
    write(
        in_tmp,
        """\
        data "aws_caller_identity" "me" {}

        locals {
          broken = var.nope
          fine   = data.aws_caller_identity.me.account_id
        }
        """,
        "modules/m/main.tf",
    )
    write(in_tmp, 'module "m" {\n  source = "./modules/m"\n}\n', "main.tf")
    assert _problems(in_tmp) == ["modules/m/main.tf:4: undefined variable var.nope"]


def test_problems_show_a_module_resource_by_its_terraform_address(in_tmp: Path) -> None:
    write(
        in_tmp,
        'resource "sym_target" "t" {\n  type = "nope"\n  name = "t"\n}\n',
        "modules/m/main.tf",
    )
    write(in_tmp, 'module "m" {\n  source = "./modules/m"\n}\n', "main.tf")
    problems = _problems(in_tmp)
    assert problems[0].startswith(
        'modules/m/main.tf:2: module.m.sym_target.t: type: unknown target type "nope"'
    ), problems
