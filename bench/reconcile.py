"""Reconciling 1,000 managed grants against moto's IAM: ``python -m bench.reconcile``.

moto (server mode, in this process) holds one IAM group with ``--grants`` members, and
symbox's store holds one escalated run per member (seeded through the writer, as
``bench.expiry`` does). Two passes are timed: one where every member is a grant symbox
holds (nothing to do but compare), and one after those runs have all ended while the
members are still in the group (every grant is stale and removed).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import anyio

from bench.common import APPROVER_BOT, print_machine, seed_active_grants
from symbox.aws.iam import IamDirectory, IamUserMapping
from symbox.aws.session import AwsConnection
from symbox.aws.settings import ConnectionSettings
from symbox.clock import SystemClock
from symbox.config import load_config
from symbox.metrics import Metrics
from symbox.runs.locks import KeyedLocks
from symbox.runs.reconcile import Reconciler
from symbox.store.handle import open_store
from symbox.strategies.aws_iam import AwsIamStrategy
from tests.fakes.aws_configs import aws_config
from tests.fakes.moto import ACCOUNT_ID, AWS_ENVIRONMENT, REGION, MotoAws, MotoServer


async def run(grants: int, folder: Path) -> list[tuple[str, float, int]]:
    """Seed moto and the store, then time the two passes."""
    server = MotoServer()
    server.reset()
    seed = MotoAws(server)
    await seed.connection.open()
    connection = AwsConnection(ConnectionSettings(region=REGION, endpoint_url=server.url))
    connection.require("iam")
    await connection.open()
    try:
        sso = await seed.sso()
        text = aws_config(
            server.url,
            instance_arn=sso.instance_arn,
            permission_set_arn=await seed.permission_set("Admin"),
            account_id=ACCOUNT_ID,
            sso_group_id=await seed.sso_group("oncall"),
            strategy="iam",
        )
        # The seeded runs were approved by the benchmarks' approver bot.
        text = text.replace('approvers = "alice@example.com"', f'approvers = "bot:{APPROVER_BOT}"')
        (folder / "config.hcl").write_text(text)
        config = load_config(folder / "config.hcl", environ={})
        await seed.iam_group("admins")
        for index in range(grants):
            await seed.iam_user(f"user{index}")
            await seed.connection.iam().add_user_to_group(
                GroupName="admins", UserName=f"user{index}"
            )
        strategy = AwsIamStrategy(IamDirectory(connection, IamUserMapping.parse("local_part")))
        results: list[tuple[str, float, int]] = []
        for label, ended in (("all managed", False), ("all stale", True)):
            data = folder / ("ended" if ended else "active")
            expiries = [time.time() - 60.0 if ended else time.time() + 3600.0] * grants
            await seed_active_grants(data, config, expiries, target="iam-admins", ended=ended)
            async with open_store(data / "symbox.db") as store:
                reconciler = Reconciler(
                    config=config,
                    strategies={"iam": strategy},
                    reader=store.reader,
                    writer=store.writer,
                    clock=SystemClock(),
                    metrics=Metrics(),
                    locks=KeyedLocks(),
                )
                started = time.perf_counter()
                findings = await reconciler.reconcile()
                results.append((label, time.perf_counter() - started, len(findings)))
        assert await seed.iam_members("admins") == []
        return results
    finally:
        await connection.aclose()
        await seed.connection.aclose()
        server.stop()


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, print the machine, run, print a Markdown table."""
    parser = argparse.ArgumentParser(prog="python -m bench.reconcile")
    parser.add_argument("--grants", type=int, default=1000)
    args = parser.parse_args(argv)
    os.environ.update(AWS_ENVIRONMENT)
    print_machine()
    with tempfile.TemporaryDirectory(prefix="symbox-bench-") as name:
        results = anyio.run(run, args.grants, Path(name))
    print()
    print("| pass | grants | findings | seconds | grants/s |")
    print("|---|---|---|---|---|")
    for label, seconds, findings in results:
        rate = args.grants / seconds
        print(f"| {label} | {args.grants} | {findings} | {seconds:.2f} | {rate:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
