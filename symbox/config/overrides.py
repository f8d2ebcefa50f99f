"""Terraform's override files (``override.tf``, ``*_override.tf``), merged into the rest.

As Terraform does: a folder's override files are read after its other files, and each of
their blocks changes the block of the same type and labels in those files. Arguments
replace the original's arguments of the same name; nested blocks of a type the override
holds replace all the original's nested blocks of that type. A ``locals`` entry replaces
the local value of the same name. An override with no original is a problem.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

from symbox.config.hcl import Attribute, Block, Problem
from symbox.config.model import Location
from symbox.config.terraform import describe


def is_override(path: str) -> bool:
    """Whether a config file is an override file by Terraform's naming rule."""
    stem = os.path.basename(path).rsplit(".", 1)[0]
    return stem == "override" or stem.endswith("_override")


@dataclass(frozen=True)
class Parsed:
    """One config file: its name and its root block."""

    file: str
    root: Block


def merge_overrides(files: Sequence[Parsed], problems: list[Problem]) -> list[Block]:
    """The files' root blocks with every override file's blocks merged into the others."""
    bases = [[*parsed.root.blocks] for parsed in files if not is_override(parsed.file)]
    roots = [parsed.root for parsed in files if not is_override(parsed.file)]
    # Where each block (and each local value) is, by how an override names it.
    where: dict[tuple[str, ...], tuple[int, int]] = {}
    local_at: dict[str, tuple[int, int]] = {}
    for i, blocks in enumerate(bases):
        for j, block in enumerate(blocks):
            if block.type == "locals":
                for attribute in block.attributes:
                    local_at.setdefault(attribute.name, (i, j))
            else:
                where.setdefault((block.type, *block.labels), (i, j))
    for parsed in files:
        if not is_override(parsed.file):
            continue
        for attribute in parsed.root.attributes:
            problems.append(
                Problem(attribute.location, f"unexpected argument {attribute.name} outside a block")
            )
        for block in parsed.root.blocks:
            if block.type == "locals":
                for attribute in block.attributes:
                    found = local_at.get(attribute.name)
                    if found is None:
                        problems.append(
                            _no_base(attribute.location, f"local value {attribute.name}")
                        )
                        continue
                    i, j = found
                    bases[i][j] = _with_local(bases[i][j], attribute)
                continue
            found = where.get((block.type, *block.labels))
            if found is None:
                problems.append(_no_base(block.location, f"{describe(block)} block"))
                continue
            i, j = found
            bases[i][j] = merge_block(bases[i][j], block)
    return [replace(root, blocks=tuple(blocks)) for root, blocks in zip(roots, bases, strict=True)]


def merge_block(base: Block, override: Block) -> Block:
    """``base`` with ``override``'s arguments and nested block types in place of its own."""
    attributes = {attribute.name: attribute for attribute in base.attributes}
    attributes.update({attribute.name: attribute for attribute in override.attributes})
    replaced = {nested.type for nested in override.blocks}
    blocks: list[Block] = []
    for nested in base.blocks:
        if nested.type not in replaced:
            blocks.append(nested)
        elif not any(b.type == nested.type for b in blocks):
            # The override's blocks of this type take the place of the first original one.
            blocks.extend(b for b in override.blocks if b.type == nested.type)
    for nested in override.blocks:
        if nested not in blocks:
            blocks.append(nested)
    return replace(base, attributes=tuple(attributes.values()), blocks=tuple(blocks))


def _with_local(block: Block, attribute: Attribute) -> Block:
    attributes = tuple(attribute if a.name == attribute.name else a for a in block.attributes)
    return replace(block, attributes=attributes)


def _no_base(location: Location, what: str) -> Problem:
    return Problem(
        location,
        f"{what} in an override file overrides nothing: no such block in the folder's other "
        "files (Terraform's rule for override files)",
    )
