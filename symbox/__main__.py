"""``python -m symbox``, and the entry point of the frozen executable."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from symbox.sandbox.worker import WORKER_ARGUMENT


def run(argv: Sequence[str]) -> int:
    """Run a ``symbox`` command, or a hook worker when the first argument asks for one."""
    # A frozen executable has no `-m`: the hook pool starts workers as `symbox __worker__`.
    if argv[:1] == [WORKER_ARGUMENT]:
        from symbox.sandbox.worker import main as worker_main

        return worker_main(list(argv[1:]))
    from symbox.cli.main import main

    return main(argv)


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
