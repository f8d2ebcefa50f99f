"""``symbox import``: a symbox folder from Terraform's JSON view of a Sym project.

May import: ``config``, ``flowhooks`` and ``strategies`` (to check what it wrote) and
the shared top-level modules.
"""

from __future__ import annotations

from symbox.tfimport.convert import ImportResult, import_document
from symbox.tfimport.state import StateError

__all__ = ["ImportResult", "StateError", "import_document"]
