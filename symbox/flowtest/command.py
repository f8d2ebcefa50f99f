"""``symbox test``: run the flows' policy tests and report like pytest (exit 0, 1 or 2)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import anyio

from symbox import logs
from symbox.config import ConfigError, VarOption, load_config, missing_flows
from symbox.config.model import Config
from symbox.config.modules import TEST_SUFFIX
from symbox.flowhooks.calls import check_implementations
from symbox.flowhooks.checks import defines_hooks
from symbox.flowtest.report import case_line, details, explanation, junit_xml, summary
from symbox.flowtest.runner import CaseResult, FlowTester
from symbox.flowtest.spec import Case, TestFileError, discover, load_cases
from symbox.flowtest.standins import PlaceholderEnviron, Trace, TracingPool
from symbox.strategies.custom_source import check_custom_strategies

PASSED, FAILED, USAGE = 0, 1, 2
# Seconds one hook call may run, as `symbox run` allows by default.
HOOK_TIMEOUT = 2.0


def add_test_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    add_config: Callable[[argparse.ArgumentParser], None],
    add_variables: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Register ``symbox test``."""
    test = commands.add_parser(
        "test", help=f"run the flows' policy tests (*{TEST_SUFFIX}) against the config"
    )
    add_config(test)
    add_variables(test)
    test.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help=f"test files, or folders of *{TEST_SUFFIX} files (default: the config's folder)",
    )
    test.add_argument(
        "--explain", metavar="CASE", help="run only CASE (NAME or FILE::NAME) and print its trace"
    )
    test.add_argument("--junit-xml", type=Path, metavar="FILE", help="also write JUnit XML here")
    test.add_argument(
        "--log-level",
        default="ERROR",
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        help="log records at least this severe go to stderr as JSON (default: %(default)s)",
    )


def placeholder(name: str) -> str:
    """What ``env(NAME)`` reads when NAME is unset: nothing is called, so no secret is needed."""
    return f"symbox-test-placeholder-{name}"


def load_for_tests(
    source: str, variables: Sequence[VarOption], environ: Mapping[str, str]
) -> Config | list[str]:
    """The config as ``symbox run`` would accept it, with unset secrets as placeholders."""
    try:
        config = load_config(
            source, environ=PlaceholderEnviron(environ, placeholder), variables=variables
        )
    except ConfigError as error:
        return [str(problem) for problem in error.problems]
    empty = missing_flows(config)
    if empty is not None:
        return [empty]
    return check_implementations(config) + check_custom_strategies(config) or config


def cmd_test(args: argparse.Namespace) -> int:
    """Run the cases; 0 when all pass, 1 when any fails or errors, 2 when they cannot run."""
    if not logging.getLogger().handlers:
        # Hooks' failures are in the results; below errors, logs would only repeat them.
        logs.configure(args.log_level)
    loaded = load_for_tests(args.config, args.variables, os.environ)
    if isinstance(loaded, list):
        return _usage([*loaded, f"the config {args.config} cannot be used"])
    try:
        cases = load_cases(discover(args.paths, args.config), loaded)
    except TestFileError as error:
        return _usage([str(problem) for problem in error.problems])
    if args.explain is not None:
        cases = [case for case in cases if args.explain in (case.name, case.id)]
        if not cases:
            return _usage([f"no case named {args.explain}"])
    if not cases:
        where = " ".join(args.paths) or f"the folder of {args.config}"
        return _usage([f"no test cases: no *{TEST_SUFFIX} file with a case in {where}"])
    started = time.monotonic()

    def reported(result: CaseResult) -> None:
        print(case_line(result), flush=True)

    results = anyio.run(run_cases, loaded, cases, reported)
    seconds = time.monotonic() - started
    for result in results:
        lines = details(result)
        if lines:
            print()
            print("\n".join(lines))
    if args.explain is not None:
        print()
        print("\n".join(explanation(results[0])))
    print()
    print(summary(results, seconds))
    if args.junit_xml is not None:
        try:
            args.junit_xml.write_bytes(junit_xml(results, seconds))
        except OSError as error:
            return _usage([f"--junit-xml {args.junit_xml}: {error.strerror or error}"])
    return PASSED if all(result.status == "passed" for result in results) else FAILED


async def run_cases(
    config: Config, cases: Sequence[Case], reported: Callable[[CaseResult], None]
) -> list[CaseResult]:
    """Run ``cases`` one after another; hooks in one pool of sandbox workers for them all."""
    trace = Trace()
    results: list[CaseResult] = []
    if not defines_hooks(config):
        tester = FlowTester(config, None, trace)
        for case in cases:
            results.append(await tester.run(case))
            reported(results[-1])
        return results
    async with TracingPool(trace, size=2, default_timeout=HOOK_TIMEOUT) as pool:
        tester = FlowTester(config, pool, trace)
        for case in cases:
            results.append(await tester.run(case))
            reported(results[-1])
    return results


def _usage(problems: Sequence[str]) -> int:
    for problem in problems:
        print(problem, file=sys.stderr)
    return USAGE
