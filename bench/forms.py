"""What hooks that shape a request form add to each request: ``python -m bench.forms``.

A request to a flow with a prefetched field and an on_change is checked against the form
its values lead to: one prefetch reducer call and one on_change call through the worker
pool, plus reading their replies. This times ``FlowForms.submitted`` for such a flow.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import anyio

from bench.common import print_machine, summary_ms
from symbox.clock import SystemClock
from symbox.config import load_config
from symbox.flowhooks.forms import FlowForms
from symbox.sandbox.hooks import HookRunner
from symbox.sandbox.pool import HookPool

IMPLEMENTATION = """\
from sym.sdk.annotations import prefetch
from sym.sdk.forms import FieldOption


@prefetch(field_name="database")
def get_databases(event):
    return [FieldOption(value="db%d" % i, label="Database %d" % i) for i in range(50)]
"""

ON_CHANGE = """\
def on_change_urgency(username, form):
    urgent = form.fields["urgency"].value == "High"
    form.fields["ticket"].visible = urgent
    form.fields["ticket"].required = urgent
    return form
"""

CONFIG = """\
resource "sym_environment" "main" {
  name = "main"
}
resource "sym_flow" "access" {
  name           = "access"
  implementation = file("impl.py")
  environment_id = sym_environment.main.id
  params {
    prompt_field {
      name     = "database"
      type     = "string"
      prefetch = true
    }
    prompt_field {
      name           = "urgency"
      type           = "string"
      allowed_values = ["Low", "High"]
      on_change      = file("on_change.py")
    }
    prompt_field {
      name     = "ticket"
      type     = "string"
      required = false
    }
  }
}
"""


async def measure(calls: int, concurrency: int, folder: Path) -> tuple[list[float], float]:
    """Time ``calls`` form checks with ``concurrency`` callers; return latencies, wall."""
    config = load_config(folder / "config.hcl", environ={})
    flow = config.flows["access"]
    values = {"database": "db7", "urgency": "High", "ticket": "T-1"}
    latencies: list[float] = []
    async with HookPool(size=2) as pool:
        forms = FlowForms(HookRunner(pool), config, SystemClock())
        for _ in range(20):  # warm the workers' compile caches
            await forms.submitted(flow, "carol@example.com", values)
        started = time.perf_counter()

        async def caller(count: int) -> None:
            for _ in range(count):
                before = time.perf_counter()
                state = await forms.submitted(flow, "carol@example.com", values)
                latencies.append(time.perf_counter() - before)
                assert state is not None and not isinstance(state, str), state

        async with anyio.create_task_group() as group:
            for _ in range(concurrency):
                group.start_soon(caller, calls // concurrency)
        return latencies, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """Print a Markdown table of the per-request cost of a shaped form."""
    parser = argparse.ArgumentParser(prog="python -m bench.forms")
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args(argv)
    print_machine()
    print()
    print("| callers | checks/s | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "config.hcl").write_text(CONFIG)
        (folder / "impl.py").write_text(IMPLEMENTATION)
        (folder / "on_change.py").write_text(ON_CHANGE)
        for concurrency in (1, 4):
            latencies, wall = anyio.run(measure, args.calls, concurrency, folder)
            stats = summary_ms(latencies)
            print(
                f"| {concurrency} | {len(latencies) / wall:.0f} | {stats['p50']:.3f} "
                f"| {stats['p99']:.3f} | {stats['max']:.3f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
