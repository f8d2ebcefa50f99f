"""for_each and count on sym_* resources: one resource per instance, as Terraform expands them."""

from __future__ import annotations

from pathlib import Path

import pytest

from symbox.config import load_config
from tests.config.helpers import load, problems, write
from tests.fakes.configs import access_config
from tests.harness import harness

DB_TARGETS = """\
resource "sym_target" "db" {
  for_each = { orders = "db-orders", billing = "db-billing" }
  type     = "custom"
  name     = each.key
  settings = { identifier = each.value }
}
"""

STRATEGY = """
resource "sym_strategy" "s" {
  type     = "http"
  name     = "s"
  targets  = %s
  settings = { url = "https://grants.example.com", signing_secret = env("SECRET") }
}
"""


def test_for_each_over_a_map_makes_one_target_per_key() -> None:
    config = load(DB_TARGETS)
    assert list(config.targets) == ['db["billing"]', 'db["orders"]']
    target = config.targets['db["billing"]']
    assert (target.name, target.settings) == ("billing", {"identifier": "db-billing"})


def test_for_each_over_a_set_of_strings_binds_each_value_to_the_key() -> None:
    config = load(
        """\
        resource "sym_target" "t" {
          for_each = toset(["b.example", "a.example"])
          type     = "custom"
          name     = "t-${each.value}"
        }
        """
    )
    assert list(config.targets) == ['t["a.example"]', 't["b.example"]']
    assert config.targets['t["a.example"]'].name == "t-a.example"


@pytest.mark.parametrize(
    "targets",
    [
        "[for t in sym_target.db : t.id]",
        "values(sym_target.db)[*].id",
        '[sym_target.db["orders"].id, sym_target.db["billing"].id]',
    ],
)
def test_a_strategy_refers_to_instances(targets: str) -> None:
    config = load(DB_TARGETS + STRATEGY % targets, {"SECRET": "x"})
    assert set(config.strategies["s"].targets) == {'db["orders"]', 'db["billing"]'}


def test_count_makes_numbered_instances() -> None:
    config = load(
        """\
        resource "sym_target" "n" {
          count = 2
          type  = "custom"
          name  = "n-${count.index}"
        }
        """
        + STRATEGY % "sym_target.n[*].id",
        {"SECRET": "x"},
    )
    assert [t.name for t in config.targets.values()] == ["n-0", "n-1"]
    assert config.strategies["s"].targets == ("n[0]", "n[1]")


def test_an_instance_argument_can_be_read_by_another_resource() -> None:
    config = load(
        DB_TARGETS
        + """
        resource "sym_target" "copy" {
          type = "custom"
          name = "copy-${sym_target.db["orders"].name}"
        }
        """
    )
    assert config.targets["copy"].name == "copy-orders"


def test_for_each_flows_get_each_key_in_their_name_and_params() -> None:
    config = load(
        DB_TARGETS
        + STRATEGY % "[for t in sym_target.db : t.id]"
        + """
        resource "sym_environment" "main" {
          name = "main"
        }

        resource "sym_flow" "access" {
          for_each       = toset(["ops", "dev"])
          name           = "access-${each.key}"
          implementation = "# no hooks"
          environment_id = sym_environment.main.id
          params {
            strategy_id = sym_strategy.s.id
            prompt_field {
              name = "reason"
              type = "string"
              label = "Why (${each.key})"
            }
          }
        }
        """,
        {"SECRET": "x"},
    )
    assert list(config.flows) == ['access["dev"]', 'access["ops"]']
    flow = config.flows['access["ops"]']
    assert flow.name == "access-ops"
    assert flow.params.strategy == "s"
    assert flow.params.prompt_fields[0].label == "Why (ops)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'resource "sym_target" "l" {\n  type = "custom"\n  name = each.key\n'
            '  for_each = ["a"]\n}\n',
            "config.hcl:4: sym_target.l: for_each: expected a map or a set of strings, "
            "got a list: use toset() to make it a set",
        ),
        (
            'resource "sym_target" "c" {\n  count = 1.5\n  type = "custom"\n  name = "c"\n}\n',
            "config.hcl:2: sym_target.c: count: expected a whole number of at least 0, got 1.5",
        ),
        (
            'resource "sym_target" "b" {\n  count = 1\n  for_each = {}\n  type = "custom"\n'
            '  name = "b"\n}\n',
            "config.hcl:3: sym_target.b: for_each and count cannot both be set",
        ),
        (
            'resource "sym_target" "e" {\n  type = "custom"\n  name = each.key\n}\n',
            "config.hcl:3: unknown reference each.key: "
            "each.key and each.value are only set in a resource with for_each",
        ),
        (
            'resource "sym_target" "i" {\n  for_each = { a = 1 }\n  type = "custom"\n'
            '  name = "i${count.index}"\n}\n',
            "config.hcl:4: unknown reference count.index: "
            "count.index is only set in a resource with count",
        ),
        (
            DB_TARGETS + 'resource "sym_target" "x" {\n  type = "custom"\n'
            '  name = sym_target.db["nope"].id\n}\n',
            'config.hcl:9: sym_target.db: no instance "nope"; instances: billing, orders',
        ),
        (
            'resource "sym_target" "d" {\n  for_each = toset(["a", "b"])\n  type = "custom"\n'
            '  name = "same"\n}\n',
            'config.hcl:4: sym_target.d["b"]: name "same" is already used by sym_target.d["a"]',
        ),
    ],
)
def test_for_each_and_count_problems(text: str, message: str) -> None:
    assert problems(text) == [message]


def test_a_multi_file_project_loads(in_tmp: Path) -> None:
    write(in_tmp, 'variable "dbs" {\n  default = { a = "1", "b.c" = "2" }\n}\n', "vars.tf")
    write(
        in_tmp,
        'resource "sym_target" "db" {\n  for_each = var.dbs\n  type = "custom"\n'
        '  name = "db-${each.key}"\n}\n',
        "targets.tf",
    )
    write(in_tmp, STRATEGY % "values(sym_target.db)[*].id", "strategy.tf")
    config = load_config(".", {"SECRET": "x"})
    assert config.strategies["s"].targets == ('db["a"]', 'db["b.c"]')


def _instance_config(receiver_url: str) -> str:
    """access_config with its targets made by one for_each block."""
    text = access_config(receiver_url)
    start = text.index('resource "sym_target" "staging_db"')
    end = text.index('resource "sym_strategy"')
    targets = """resource "sym_target" "db" {
  for_each = { staging = "staging-db", prod = "prod-db" }
  type     = "custom"
  name     = each.value
  settings = {
    identifier = each.key
  }
}

"""
    text = text[:start] + targets + text[end:]
    return text.replace(
        "[sym_target.staging_db.id, sym_target.prod_db.id]",
        "[for t in sym_target.db : t.id]",
    )


@pytest.mark.anyio
async def test_an_instance_target_is_granted_through_the_app(tmp_path: Path) -> None:
    async with harness(tmp_path, config_text=_instance_config) as h:
        assert set(h.app.config.targets) == {'db["staging"]', 'db["prod"]'}
        run_id = await h.request(target="prod-db")
        await h.approve(run_id)
        await h.wait_status(run_id, "escalated")
        assert h.receiver.state.granted == {("prod-db", "carol@example.com")}
