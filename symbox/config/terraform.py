"""Terraform's own blocks and meta-arguments, which symbox reads past with one notice each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from symbox.config.hcl import Attribute, Block, literal_string, show, unwrap

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


def ignored_notice(block: Block) -> str:
    """Why one of Terraform's own blocks is read past; a registry module says its source."""
    reason = NOT_RUN
    if block.type == "module":
        source = next((a for a in block.attributes if a.name == "source"), None)
        text = literal_string(unwrap(source.expr)) if source is not None else None
        reason = (
            f'{NOT_RUN}, and reads only local modules (source = "./..."), not '
            f"{show(text) if text is not None else 'this source'}"
        )
    return f"{block.location}: {describe(block)} block ignored: {reason}"


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


def written_argument(
    ignored: Mapping[tuple[str, ...], Block], root: str, names: Sequence[str | None]
) -> tuple[int, Attribute] | None:
    """The argument written in an ignored resource or data block that a reference reads.

    ``aws_secretsmanager_secret.x.name`` is the ``name = ...`` written in that block, a
    value Terraform would store as written; attributes only the provider computes
    (``.arn``, ``.id``) are not in the block, so None. Also None for blocks with
    for_each or count. Returns how many names the reference used, and the argument.
    """
    steps = _leading(names)
    size = 2 if root == "data" else 1
    if len(steps) <= size:
        return None
    block = ignored.get((root, *steps[:size]))
    if block is None or block.type not in ("resource", "data"):
        return None
    if any(a.name in ("for_each", "count") for a in block.attributes):
        return None
    attribute = next((a for a in block.attributes if a.name == steps[size]), None)
    return None if attribute is None else (size + 1, attribute)


def ignored_reference(
    ignored: Mapping[tuple[str, ...], Block], root: str, names: Sequence[str | None]
) -> str | None:
    """Explain a reference to a block symbox read past, naming where that block is."""
    steps = _leading(names)
    size = 2 if root == "data" else 1
    if len(steps) < size:
        return None
    block = ignored.get((root, *steps[:size]))
    if block is None:
        return None
    shown = ".".join([root, *steps])
    why = ""
    if block.type in ("resource", "data") and len(steps) > size:
        why = f" ({steps[size]} is not written in that block: only Terraform knows it)"
    return (
        f"{shown} needs the {describe(block)} block at {block.location}, which symbox "
        f"ignores{why}: {SUPPLY_VALUE}"
    )


def _leading(names: Sequence[str | None]) -> list[str]:
    # The names before the first index step: TYPE, NAME, ATTRIBUTE...
    return [str(name) for name in (names[: names.index(None)] if None in names else names)]
