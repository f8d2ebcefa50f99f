"""AWS grants and revokes per second against moto in server mode: ``python -m bench.aws``."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Awaitable, Callable, Sequence

import anyio

from bench.common import print_machine, summary_ms
from symbox.aws.iam import IamDirectory, IamUserMapping
from symbox.aws.identity_center import IdentityCenter
from symbox.aws.session import AwsConnection
from symbox.aws.settings import ConnectionSettings
from symbox.strategies.aws_iam import AwsIamStrategy
from symbox.strategies.aws_sso import AwsSsoStrategy
from symbox.strategies.base import AccessStrategy, GrantRequest
from tests.fakes.moto import ACCOUNT_ID, AWS_ENVIRONMENT, REGION, MotoAws, MotoServer
from tests.strategies.aws_requests import grant


async def timed(
    calls: Sequence[Callable[[], Awaitable[None]]], concurrency: int
) -> tuple[list[float], float]:
    """Run ``calls`` with ``concurrency`` at a time; return each call's latency and the wall."""
    latencies: list[float] = []
    limiter = anyio.Semaphore(concurrency)
    started = time.perf_counter()

    async def one(call: Callable[[], Awaitable[None]]) -> None:
        async with limiter:
            before = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - before)

    async with anyio.create_task_group() as group:
        for call in calls:
            group.start_soon(one, call)
    return latencies, time.perf_counter() - started


def report(kind: str, action: str, count: int, latencies: list[float], wall: float) -> None:
    """One result line."""
    stats = summary_ms(latencies)
    print(
        f"{kind:4} {action:10} {count:4} grants  {count / wall:7.1f}/s  "
        f"p50 {stats['p50']:6.1f} ms  p99 {stats['p99']:6.1f} ms"
    )


async def run(grants: int, concurrency: int) -> None:
    """Seed moto with ``grants`` users, then grant and revoke each once, both strategies."""
    server = MotoServer()
    server.reset()  # moto's state lives in the process, shared by every server in it
    seed = MotoAws(server)
    await seed.connection.open()
    connection = AwsConnection(ConnectionSettings(region=REGION, endpoint_url=server.url))
    for service in ("sso-admin", "identitystore", "iam"):
        connection.require(service)
    await connection.open()
    try:
        sso = await seed.sso()
        permission_set = await seed.permission_set("Admin")
        await seed.iam_group("admins")
        emails = [f"user{index}@example.com" for index in range(grants)]
        for email in emails:
            await seed.sso_user(email)
            await seed.iam_user(email)
        cases: list[tuple[str, AccessStrategy, list[GrantRequest]]] = [
            (
                "sso",
                AwsSsoStrategy(IdentityCenter(connection, sso.instance_arn)),
                [
                    grant(
                        "aws_sso_permission_set",
                        email,
                        permission_set_arn=permission_set,
                        account_id=ACCOUNT_ID,
                    )
                    for email in emails
                ],
            ),
            (
                "iam",
                AwsIamStrategy(IamDirectory(connection, IamUserMapping.parse("user_name"))),
                [grant("aws_iam_group", email, iam_group="admins") for email in emails],
            ),
        ]
        for kind, strategy, requests in cases:
            for action in ("escalate", "deescalate"):
                method = strategy.escalate if action == "escalate" else strategy.deescalate
                calls = [
                    lambda request=request, method=method: method(request) for request in requests
                ]
                latencies, wall = await timed(calls, concurrency)
                report(kind, action, grants, latencies, wall)
        assert await seed.assignments(permission_set) == []
        assert await seed.iam_members("admins") == []
    finally:
        await connection.aclose()
        await seed.connection.aclose()
        server.stop()


def main() -> None:
    """Parse arguments, print the machine, run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--grants", type=int, default=200)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    options = parser.parse_args()
    os.environ.update(AWS_ENVIRONMENT)
    print_machine()
    for concurrency in options.concurrency:
        print(f"-- concurrency {concurrency}")
        anyio.run(run, options.grants, concurrency)


if __name__ == "__main__":
    main()
