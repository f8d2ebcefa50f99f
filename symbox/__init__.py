"""symbox: self-hosted just-in-time access."""

from __future__ import annotations

__version__ = "0.1.0"
