"""for_each and count on local module calls: one set of the module's resources per instance."""

from __future__ import annotations

from pathlib import Path

import pytest

from symbox.config import ConfigError, load_config
from tests.config.helpers import write

ENV = {"SECRET": "x"}

TEAM_MODULE = """\
variable "team" {}
variable "approvers" { type = list(string) }
variable "dbs" { type = set(string) }

resource "sym_target" "db" {
  for_each = var.dbs
  type     = "custom"
  name     = "${var.team}-${each.key}"
  settings = { identifier = each.key }
}

resource "sym_strategy" "grants" {
  type     = "http"
  name     = "${var.team}-grants"
  targets  = [for t in sym_target.db : t.id]
  settings = { url = "https://grants.example.com", signing_secret = env("SECRET") }
}

output "strategy_id" { value = sym_strategy.grants.id }
output "approvers" { value = join(",", var.approvers) }
"""

FLOWS = """\
resource "sym_environment" "main" { name = "main" }

resource "sym_flow" "team" {
  for_each       = module.team
  name           = "${each.key}-access"
  implementation = "# no hooks"
  environment_id = sym_environment.main.id
  vars           = { approvers = each.value.approvers }
  params { strategy_id = each.value.strategy_id }
}
"""

TEAMS = """\
variable "teams" {
  default = {
    payments = { approvers = ["ann@example.com"], dbs = ["orders", "ledger"] }
    search   = { approvers = ["bob@example.com"], dbs = ["index"] }
  }
}

module "team" {
  for_each  = var.teams
  source    = "./modules/team"
  team      = each.key
  approvers = each.value.approvers
  dbs       = toset(each.value.dbs)
}
"""


def _problems() -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(".", ENV)
    return [str(problem) for problem in caught.value.problems]


def test_for_each_on_a_module_makes_each_instance_and_binds_each(in_tmp: Path) -> None:
    write(in_tmp, TEAM_MODULE, "modules/team/main.tf")
    write(in_tmp, TEAMS + FLOWS, "main.tf")
    config = load_config(".", ENV)
    assert list(config.targets) == [
        'module.team["payments"].db["ledger"]',
        'module.team["payments"].db["orders"]',
        'module.team["search"].db["index"]',
    ]
    payments = config.strategies['module.team["payments"].grants']
    assert payments.name == "payments-grants"
    assert payments.targets == (
        'module.team["payments"].db["ledger"]',
        'module.team["payments"].db["orders"]',
    )
    flows = {flow.name: flow for flow in config.flows.values()}
    assert flows["search-access"].params.strategy == 'module.team["search"].grants'
    assert flows["search-access"].vars == {"approvers": "bob@example.com"}
    assert flows["payments-access"].vars == {"approvers": "ann@example.com"}


def test_count_on_a_module_and_one_instance_by_index(in_tmp: Path) -> None:
    write(in_tmp, TEAM_MODULE, "modules/team/main.tf")
    write(
        in_tmp,
        """\
        variable "enabled" { default = true }

        module "team" {
          count     = var.enabled ? 2 : 0
          source    = "./modules/team"
          team      = "team${count.index}"
          approvers = ["ann@example.com"]
          dbs       = toset(["db"])
        }

        resource "sym_environment" "main" { name = "main" }

        resource "sym_flow" "second" {
          name           = "second"
          implementation = "# no hooks"
          environment_id = sym_environment.main.id
          vars           = { approvers = module.team[1].approvers }
          params { strategy_id = module.team[1].strategy_id }
        }

        resource "sym_flow" "all" {
          count          = length(module.team)
          name           = "all-${count.index}"
          implementation = "# no hooks"
          environment_id = sym_environment.main.id
          params { strategy_id = (module.team[*].strategy_id)[count.index] }
        }
        """,
        "main.tf",
    )
    config = load_config(".", ENV)
    assert config.flows["second"].params.strategy == "module.team[1].grants"
    assert config.strategies["module.team[0].grants"].name == "team0-grants"
    assert [config.flows[f"all[{i}]"].params.strategy for i in range(2)] == [
        "module.team[0].grants",
        "module.team[1].grants",
    ]


def test_count_zero_makes_no_instance(in_tmp: Path) -> None:
    write(in_tmp, TEAM_MODULE, "modules/team/main.tf")
    write(
        in_tmp,
        """\
        module "team" {
          count     = 0
          source    = "./modules/team"
          team      = "t"
          approvers = []
          dbs       = toset([])
        }

        resource "sym_environment" "main" { name = "main" }

        resource "sym_flow" "f" {
          name           = "f"
          implementation = "# no hooks"
          environment_id = sym_environment.main.id
          params {}
        }
        """,
        "main.tf",
    )
    config = load_config(".", ENV)
    assert config.strategies == {}
    assert config.targets == {}


def test_nested_calls_with_for_each_in_an_instance(in_tmp: Path) -> None:
    write(in_tmp, TEAM_MODULE, "modules/team/main.tf")
    write(
        in_tmp,
        """\
        variable "names" { type = set(string) }

        module "team" {
          for_each  = var.names
          source    = "../team"
          team      = each.value
          approvers = []
          dbs       = toset(["db"])
        }

        output "strategies" { value = [for m in module.team : m.strategy_id] }
        """,
        "modules/org/main.tf",
    )
    write(
        in_tmp,
        """\
        module "org" {
          for_each = { eu = ["a"], us = ["b", "c"] }
          source   = "./modules/org"
          names    = toset(each.value)
        }
        """,
        "main.tf",
    )
    write(in_tmp, FLOWS.replace("module.team", "{}"), "flows.tf")
    config = load_config(".", ENV)
    assert sorted(config.strategies) == [
        'module.org["eu"].module.team["a"].grants',
        'module.org["us"].module.team["b"].grants',
        'module.org["us"].module.team["c"].grants',
    ]
    target = config.targets['module.org["us"].module.team["c"].db["db"]']
    assert target.name == "c-db"


def test_for_each_problems_name_the_call(in_tmp: Path) -> None:
    write(in_tmp, TEAM_MODULE, "modules/team/main.tf")
    write(
        in_tmp,
        """\
        module "listed" {
          for_each  = ["a"]
          source    = "./modules/team"
          team      = each.key
          approvers = []
          dbs       = toset([])
        }

        module "both" {
          for_each  = toset(["a"])
          count     = 1
          source    = "./modules/team"
          team      = "x"
          approvers = []
          dbs       = toset([])
        }

        module "typo" {
          for_each  = toset(["a", "b"])
          source    = "./modules/team"
          team      = each.key
          approvers = []
          dbs       = toset([])
          tema      = 1
        }

        resource "sym_environment" "main" { name = "main" }

        resource "sym_flow" "f" {
          name           = "f"
          implementation = "# no hooks"
          environment_id = sym_environment.main.id
          params { strategy_id = module.typo["c"].strategy_id }
        }
        """,
        "main.tf",
    )
    problems = _problems()
    assert problems == [
        "./main.tf:2: module.listed: for_each: expected a map or a set of strings, got a list: "
        "use toset() to make it a set",
        "./main.tf:11: module.both: for_each and count cannot both be set",
        "./main.tf:24: module.typo: unexpected argument tema: the module at modules/team "
        "declares no such variable (variables: approvers, dbs, team)",
        './main.tf:33: module.typo: no instance "c"; instances: a, b',
    ]


def test_a_problem_in_the_module_is_reported_once_for_all_instances(in_tmp: Path) -> None:
    write(
        in_tmp,
        """\
        variable "n" {}

        resource "sym_target" "t" {
          type     = "custom"
          name     = var.n
          settings = { identifier = undefined_function(1) }
        }
        """,
        "modules/t/main.tf",
    )
    write(
        in_tmp,
        """\
        module "t" {
          for_each = toset(["a", "b", "c"])
          source   = "./modules/t"
          n        = each.key
        }
        """,
        "main.tf",
    )
    problems = [p for p in _problems() if "undefined_function" in p]
    assert len(problems) == 1
    assert problems[0].startswith("modules/t/main.tf:6: ")


def test_a_resource_passed_whole_to_a_module_is_an_object_with_its_id_and_name(
    in_tmp: Path,
) -> None:
    write(
        in_tmp,
        """\
        variable "sym_environment" {}

        resource "sym_flow" "f" {
          name           = "${var.sym_environment.name}-access"
          implementation = "# no hooks"
          environment_id = var.sym_environment.id
          params {}
        }
        """,
        "modules/flow/main.tf",
    )
    write(
        in_tmp,
        """\
        resource "sym_environment" "this" { name = "prod" }

        module "flow" {
          source          = "./modules/flow"
          sym_environment = sym_environment.this
        }
        """,
        "main.tf",
    )
    flow = load_config(".", ENV).flows["module.flow.f"]
    assert flow.name == "prod-access"
    assert flow.environment == "this"
