"""Override files merge into the folder's other files; Terraform JSON files are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from symbox.config import ConfigError, load_config
from symbox.config.overrides import is_override
from tests.config.helpers import write

BASE = """\
locals {
  approvers = "ann@example.com"
  label     = "Access"
}

resource "sym_environment" "main" { name = "main" }

resource "sym_flow" "f" {
  name           = "f"
  label          = local.label
  implementation = "# no hooks"
  environment_id = sym_environment.main.id
  vars           = { approvers = local.approvers }
  params {
    prompt_field {
      name = "reason"
      type = "string"
    }
  }
}
"""


def _problems(folder: str = "conf") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(folder, {})
    return [str(problem) for problem in caught.value.problems]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("override.tf", True),
        ("db_override.tf", True),
        ("override.hcl", True),
        ("overrides.tf", False),
        ("main.tf", False),
        ("my-override.tf", False),
    ],
)
def test_override_files_by_terraforms_naming_rule(name: str, expected: bool) -> None:
    assert is_override(f"conf/{name}") is expected


def test_an_override_file_replaces_arguments_nested_blocks_and_locals(in_tmp: Path) -> None:
    folder = in_tmp / "conf"
    write(folder, BASE, "main.tf")
    write(
        folder,
        """\
        locals {
          approvers = "bob@example.com"
        }

        resource "sym_flow" "f" {
          label = "Overridden"
        }
        """,
        "override.tf",
    )
    write(
        folder,
        """\
        resource "sym_flow" "f" {
          params {
            prompt_field {
              name = "ticket"
              type = "int"
            }
          }
        }
        """,
        "fields_override.tf",
    )
    flow = load_config("conf", {}).flows["f"]
    assert flow.label == "Overridden"
    assert flow.vars == {"approvers": "bob@example.com"}
    # The whole params block was replaced, as Terraform replaces nested blocks.
    assert [(f.name, f.type) for f in flow.params.prompt_fields] == [("ticket", "int")]
    assert flow.implementation == "# no hooks"


def test_an_override_with_nothing_to_override_is_a_problem(in_tmp: Path) -> None:
    folder = in_tmp / "conf"
    write(folder, BASE, "main.tf")
    write(
        folder,
        'resource "sym_flow" "g" {\n  label = "x"\n}\nlocals {\n  nope = 1\n}\n',
        "override.tf",
    )
    tail = "in an override file overrides nothing: no such block in the folder's other files"
    assert _problems() == [
        f'conf/override.tf:1: resource "sym_flow" "g" block {tail} (Terraform\'s rule for '
        "override files)",
        f"conf/override.tf:5: local value nope {tail} (Terraform's rule for override files)",
    ]


def test_a_module_folder_s_override_file_applies_to_that_module(in_tmp: Path) -> None:
    folder = in_tmp / "conf"
    write(
        folder,
        'resource "sym_target" "t" {\n  type = "custom"\n  name = "base"\n}\n',
        "modules/m/main.tf",
    )
    write(folder, 'resource "sym_target" "t" {\n  name = "changed"\n}\n', "modules/m/override.tf")
    write(folder, BASE + 'module "m" {\n  source = "./modules/m"\n}\n', "main.tf")
    assert load_config("conf", {}).targets["module.m.t"].name == "changed"


def test_terraform_json_files_are_refused_by_name(in_tmp: Path) -> None:
    folder = in_tmp / "conf"
    write(folder, BASE, "main.tf")
    write(folder, '{"resource": {}}', "extra.tf.json")
    assert _problems() == [
        "conf/extra.tf.json:1: symbox does not read Terraform's JSON syntax: write this file as "
        ".tf, or bring the project in with symbox import from `terraform show -json`"
    ]
