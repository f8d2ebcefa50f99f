"""IMPORT.md and .env.example: what the import did, and the secrets the operator must set."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from symbox.tfimport.convert import ImportResult


def env_example(result: ImportResult) -> str:
    """Every ``env()`` name config.hcl reads, empty, with where its value was in Sym."""
    lines = [
        "# The secrets config.hcl reads with env(). Set each in symbox's environment.",
        "# symbox import copied none of their values out of Terraform's state.",
    ]
    for variable in result.env:
        lines += ["", f"# {variable.origin}", f"{variable.name}="]
    return "\n".join(lines) + "\n"


def import_md(result: ImportResult, source: str) -> str:
    """The record of the import: mapped, disabled, commented out, changed, secrets, dropped."""
    document = result.document
    used = [item for item in result.drafts if item.problem is None]
    out = [
        "# Imported from Sym",
        "",
        f"`symbox import` read `{source}`: Terraform {document.terraform_version} "
        f"{document.kind} JSON, format {document.format_version}. "
        f"{len(used)} resources were imported, "
        f"{len(result.drafts) - len(used)} written commented out and "
        f"{len(result.dropped)} dropped.",
        "",
        "## Imported",
        "",
        "| Terraform address | in config.hcl |",
        "|---|---|",
    ]
    out += [f"| `{item.source.address}` | `{item.address}` |" for item in used]
    disabled = [item for item in used if item.disabled is not None]
    if disabled:
        out += [
            "",
            "## Flows carried over disabled",
            "",
            "Each is written with `allowed_sources = []`, so nobody can request it, until "
            "symbox supports what it needs or you change it:",
            "",
        ]
        out += [f"- `{item.address}`: {item.disabled}." for item in disabled]
    commented = [item for item in result.drafts if item.problem is not None]
    if commented:
        out += ["", "## Written commented out", ""]
        out += [
            f"- `{item.address}` (`{item.source.address}`): {item.problem}." for item in commented
        ]
    changes = [f"`{item.address}`: {note}" for item in result.drafts for note in item.notes]
    changes += result.notes
    if changes:
        out += ["", "## Changed on the way", ""]
        out += [f"- {change}." for change in changes]
    out += ["", "## Secrets", ""]
    if result.env:
        out += [
            "No secret value was written to any file. Set these in symbox's environment "
            "(`.env.example` lists them):",
            "",
        ]
        out += [f"- `{variable.name}`: {variable.origin}." for variable in result.env]
    else:
        out.append("The config reads no secrets.")
    if result.dropped:
        out += ["", "## Dropped", ""]
        out += [f"- `{item.address}`: {item.reason}." for item in result.dropped]
    out += [
        "",
        "## Next",
        "",
        "1. Set every variable of `.env.example` in symbox's environment.",
        "2. `symbox validate --config config.hcl`.",
        "3. `symbox run --config config.hcl`.",
        "",
        "Settings whose names do not say they are secret were copied as they are: read "
        "config.hcl before committing it.",
    ]
    return "\n".join(out) + "\n"
