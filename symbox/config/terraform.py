"""Terraform's own blocks and meta-arguments, which symbox reads past with one notice each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from symbox.config.hcl import Block, show

# Terraform's own blocks: read past with one notice each, since symbox does not run Terraform.
TERRAFORM_BLOCKS = frozenset(
    {"provider", "terraform", "output", "data", "module", "moved", "import", "check", "removed"}
)
NOT_RUN = "symbox does not run Terraform"
# Meta-arguments of sym_* resources that only order or protect Terraform's own work.
IGNORED_ARGUMENTS = frozenset({"depends_on"})
IGNORED_BLOCKS = frozenset({"lifecycle"})
SUPPLY_VALUE = (
    "give the value as a variable (declare it, then set it with --var or in a tfvars file), "
    "or bring it in with symbox import from `terraform show -json`"
)


def describe(block: Block) -> str:
    """A block as it was written: ``data "aws_caller_identity" "current"``, ``terraform``."""
    return " ".join([block.type, *(show(label) for label in block.labels)])


def without_meta_arguments(block: Block, where: str, notices: list[str]) -> Block:
    """``block`` without ``depends_on`` and ``lifecycle``, each noted once."""
    for attribute in block.attributes:
        if attribute.name in IGNORED_ARGUMENTS:
            notices.append(
                f"{attribute.location}: {where}: {attribute.name} ignored: "
                "symbox orders resources by their references"
            )
    for nested in block.blocks:
        if nested.type in IGNORED_BLOCKS:
            notices.append(f"{nested.location}: {where}: {nested.type} ignored: {NOT_RUN}")
    return replace(
        block,
        attributes=tuple(a for a in block.attributes if a.name not in IGNORED_ARGUMENTS),
        blocks=tuple(b for b in block.blocks if b.type not in IGNORED_BLOCKS),
    )


def ignored_reference(
    ignored: Mapping[tuple[str, ...], Block], root: str, names: Sequence[str | None]
) -> str | None:
    """Explain a reference to a block symbox read past, naming where that block is."""
    steps = list(names[: names.index(None)] if None in names else names)
    size = 2 if root == "data" else 1
    if len(steps) < size:
        return None
    block = ignored.get((root, *[str(step) for step in steps[:size]]))
    if block is None:
        return None
    shown = ".".join([root, *[str(step) for step in steps]])
    return (
        f"{shown} needs the {describe(block)} block at {block.location}, which symbox "
        f"ignores: "
        f"{SUPPLY_VALUE}"
    )
