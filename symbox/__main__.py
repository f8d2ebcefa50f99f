"""``python -m symbox``."""

from __future__ import annotations

from symbox.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
