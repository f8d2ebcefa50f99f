"""Grants held past expiry when symbox is SIGKILLed and restarted under load.

``python -m bench.chaos [--seconds 120] [--kills 6] [--clients 4] [--grant 4] [--seed N]
[--log FILE]``

The e2e chaos test's run, longer: the real ``symbox run`` (``$SYMBOX_BINARY`` if set) with
its ``http`` strategy posting to the tests' grant receiver on 127.0.0.1 (a threaded
``http.server`` that notes when each grant and revoke arrived), ``--clients`` threads
requesting and approving ``--grant``-second grants for fresh users, and ``--kills`` SIGKILLs
at random moments, each followed at once by a restart. Once the load stops and everything
is revoked, each grant's overrun is how long the receiver held it past its duration; the
table gives its distribution over all grants, and the same less the downtime (kill to
``symbox is ready``) each grant lived through, which the guarantee bounds by 2 s.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

from bench.common import print_machine
from tests.e2e.chaos import ChaosPlan, ChaosResult, run_chaos
from tests.fakes.configs import GRANT_SECRET
from tests.fakes.receiver import GrantReceiver

# The guarantee: duration + the downtime a grant lived through + this.
BOUND_SECONDS = 2.0


def report(result: ChaosResult) -> None:
    """Print the run's facts and the overrun table in Markdown."""
    plan = result.plan
    retried = {
        record.get("run_id")
        for record in result.logs
        if record.get("message") == "run deescalate_failed"
    }
    outages = ", ".join(f"{o.ready_at - o.killed_at:.2f}" for o in result.outages)
    print(f"seed {plan.seed}: {plan.load_seconds:.0f} s of load, {plan.clients} clients,")
    print(f"{plan.grant_seconds} s grants, {len(result.outages)} kills (down {outages} s;")
    print(f"{result.downtime:.1f} s in all), {len(result.grants)} grants,")
    print(f"{len(retried)} with a failed revoke, {len(result.late())} past the bound")
    print(f"(duration + downtime lived through + {plan.slack:.0f} s)")
    if result.leftover or any(grant.revoked_at is None for grant in result.grants):
        print(f"NOT ALL REVOKED: {result.leftover}")
    print()
    print("| overrun (s) | min | p50 | p99 | max |")
    print("|---|---|---|---|---|")
    for name, values in (
        ("past expiry", result.overruns()),
        ("past expiry + downtime lived through", result.overruns_beyond_downtime()),
    ):
        cells = " | ".join(f"{values[key]:.2f}" for key in ("min", "p50", "p99", "max"))
        print(f"| {name} | {cells} |")
    worst = sorted(result.grants, key=result.beyond_downtime, reverse=True)[:5]
    print()
    print("Worst grants (times relative to the grant call):")
    for grant in worst:
        print(f"- {result.describe(grant)}")


def main(argv: list[str] | None = None) -> int:
    """Run the chaos benchmark and print its table."""
    parser = argparse.ArgumentParser(prog="python -m bench.chaos")
    parser.add_argument("--seconds", type=float, default=120.0, help="seconds of load")
    parser.add_argument("--kills", type=int, default=6, help="SIGKILLs during the load")
    parser.add_argument("--clients", type=int, default=4, help="request -> approve threads")
    parser.add_argument("--grant", type=int, default=4, help="each grant's duration (s)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the kill moments")
    parser.add_argument("--log", type=Path, help="write every generation's log here (JSON lines)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    plan = ChaosPlan(
        seed=seed,
        load_seconds=args.seconds,
        kills=args.kills,
        clients=args.clients,
        grant_seconds=args.grant,
        slack=BOUND_SECONDS,
    )
    print_machine()
    receiver = GrantReceiver(GRANT_SECRET).start()
    try:
        with tempfile.TemporaryDirectory(prefix="symbox-chaos-") as folder:
            result = run_chaos(Path(folder), receiver, plan)
    finally:
        receiver.stop()
    if args.log is not None:
        with args.log.open("w") as out:
            for record in result.logs:
                out.write(json.dumps(record) + "\n")
    print()
    report(result)
    return 0 if not result.late() and not result.leftover else 1


if __name__ == "__main__":
    sys.exit(main())
