"""dynamic blocks: one nested block per element, with the iterator bound in its content."""

from __future__ import annotations

from pathlib import Path

import pytest

from symbox.config import ConfigError, load_config
from tests.config.helpers import write

FLOW = """\
resource "sym_environment" "main" { name = "main" }

resource "sym_flow" "f" {
  name           = "f"
  implementation = "# no hooks"
  environment_id = sym_environment.main.id
  params {
%s
  }
}
"""


def _flow(in_tmp: Path, params: str, extra: str = "") -> list[tuple[object, ...]]:
    write(in_tmp, extra + FLOW % params, "main.tf")
    config = load_config(".", {})
    fields = config.flows["f"].params.prompt_fields
    return [(f.name, f.type, f.label, f.allowed_values, f.required) for f in fields]


def _problems(in_tmp: Path, params: str, extra: str = "") -> list[str]:
    write(in_tmp, extra + FLOW % params, "main.tf")
    with pytest.raises(ConfigError) as caught:
        load_config(".", {})
    return [str(problem) for problem in caught.value.problems]


def test_a_dynamic_block_makes_one_block_per_list_element(in_tmp: Path) -> None:
    fields = _flow(
        in_tmp,
        """\
    dynamic "prompt_field" {
      for_each = var.fields
      content {
        name           = prompt_field.value.name
        type           = "string"
        label          = "${prompt_field.key}: ${title(prompt_field.value.name)}"
        allowed_values = length(prompt_field.value.values) > 0 ? prompt_field.value.values : null
      }
    }
    prompt_field {
      name = "urgent"
      type = "bool"
    }""",
        """\
variable "fields" {
  default = [{ name = "reason", values = [] }, { name = "ticket", values = ["A-1", "B-2"] }]
}
""",
    )
    assert fields == [
        ("reason", "string", "0: Reason", None, True),
        ("ticket", "string", "1: Ticket", ("A-1", "B-2"), True),
        ("urgent", "bool", None, None, True),
    ]


def test_a_map_in_key_order_a_named_iterator_and_the_resource_s_each(in_tmp: Path) -> None:
    write(
        in_tmp,
        """\
        resource "sym_environment" "main" { name = "main" }

        resource "sym_flow" "f" {
          for_each       = toset(["prod", "staging"])
          name           = "access-${each.key}"
          implementation = "# no hooks"
          environment_id = sym_environment.main.id
          params {
            dynamic "prompt_field" {
              for_each = { zeta = "bool", alpha = "string" }
              iterator = field
              content {
                name     = field.key
                type     = field.value
                label    = "${each.key} ${field.key}"
                required = field.value == "string"
              }
            }
          }
        }
        """,
        "main.tf",
    )
    config = load_config(".", {})
    fields = config.flows['f["staging"]'].params.prompt_fields
    assert [(f.name, f.type, f.label, f.required) for f in fields] == [
        ("alpha", "string", "staging alpha", True),
        ("zeta", "bool", "staging zeta", False),
    ]


def test_a_set_and_an_empty_collection(in_tmp: Path) -> None:
    fields = _flow(
        in_tmp,
        """\
    dynamic "prompt_field" {
      for_each = toset(["b", "a"])
      content {
        name = prompt_field.value
        type = "string"
      }
    }
    dynamic "prompt_field" {
      for_each = []
      content {
        name = "never"
        type = "string"
      }
    }""",
    )
    assert [name for name, *_ in fields] == ["a", "b"]


def test_nested_dynamic_blocks_see_both_iterators(in_tmp: Path) -> None:
    write(
        in_tmp,
        """\
        resource "sym_environment" "main" { name = "main" }

        resource "sym_flow" "f" {
          name           = "f"
          implementation = "# no hooks"
          environment_id = sym_environment.main.id
          dynamic "params" {
            for_each = [{ prefix = "db", names = ["reason", "ticket"] }]
            iterator = group
            content {
              dynamic "prompt_field" {
                for_each = group.value.names
                content {
                  name  = prompt_field.value
                  type  = "string"
                  label = "${group.value.prefix} ${prompt_field.key}"
                }
              }
            }
          }
        }
        """,
        "main.tf",
    )
    config = load_config(".", {})
    fields = config.flows["f"].params.prompt_fields
    assert [(f.name, f.label) for f in fields] == [("reason", "db 0"), ("ticket", "db 1")]


def test_an_inner_iterator_shadows_an_outer_one_of_the_same_name(in_tmp: Path) -> None:
    write(
        in_tmp,
        """\
        resource "sym_environment" "main" { name = "main" }

        resource "sym_flow" "f" {
          name           = "f"
          implementation = "# no hooks"
          environment_id = sym_environment.main.id
          dynamic "params" {
            for_each = ["outer"]
            iterator = it
            content {
              dynamic "prompt_field" {
                for_each = ["inner"]
                iterator = it
                content {
                  name = it.value
                  type = "string"
                }
              }
            }
          }
        }
        """,
        "main.tf",
    )
    config = load_config(".", {})
    assert [f.name for f in config.flows["f"].params.prompt_fields] == ["inner"]


def test_problems_name_the_dynamic_block_and_the_content_line(in_tmp: Path) -> None:
    problems = _problems(
        in_tmp,
        """\
    dynamic "prompt_field" {
      for_each = "reason"
      content {
        name = "x"
        type = "string"
      }
    }
    dynamic "prompt_field" {
      for_each = ["a"]
    }
    dynamic "prompt_field" {
      for_each = ["a"]
      iterator = "f"
      content {
        name = "a"
        type = "string"
      }
    }
    dynamic "prompt_field" {
      for_each = [{ name = "a" }]
      other    = 1
      content {
        name = prompt_field.value.nme
        type = "string"
      }
    }""",
    )
    assert problems == [
        './main.tf:9: sym_flow.f: dynamic "prompt_field": for_each: expected a collection '
        '(list, set or map), got "reason"',
        './main.tf:15: sym_flow.f: dynamic "prompt_field": needs exactly one content block',
        './main.tf:20: sym_flow.f: dynamic "prompt_field": iterator: expected a name, such as '
        "iterator = field",
        './main.tf:28: sym_flow.f: dynamic "prompt_field": unexpected argument other',
        './main.tf:30: prompt_field.value has no key "nme"',
    ]
