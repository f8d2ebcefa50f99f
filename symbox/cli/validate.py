"""``symbox validate``: check the config and summarise it."""

from __future__ import annotations

import argparse
import os
from typing import Any

from symbox.cli.options import add_config, add_variables, report_problems
from symbox.cli.runner import AnyEnvironment, ConfigRefused, load_checked


def add_validate_command(commands: Any) -> None:
    """Add ``symbox validate``."""
    validate = commands.add_parser("validate", help="check the config and summarise it")
    add_config(validate)
    add_variables(validate)
    validate.add_argument(
        "--no-env",
        action="store_true",
        help="check without the secrets: every env(NAME) is taken as set (for CI)",
    )


def cmd_validate(args: argparse.Namespace) -> int:
    """Print a summary of a valid config, or every problem."""
    try:
        environ = AnyEnvironment(os.environ) if args.no_env else None
        config = load_checked(args.config, args.variables, environ)
    except ConfigRefused as error:
        return report_problems(error.problems)
    for notice in config.notices:
        print(notice)
    print(f"config ok: {', '.join(config.files)}")
    for environment in sorted(config.environments.values(), key=lambda item: item.name):
        print(f"environment {environment.name}")
        for flow in sorted(config.flows.values(), key=lambda item: item.name):
            if flow.environment != environment.key:
                continue
            strategy = config.strategies.get(flow.params.strategy or "")
            if strategy is None:
                print(f"  flow {flow.name}: approval only")
                continue
            targets = ", ".join(config.targets[key].name for key in strategy.targets)
            print(f"  flow {flow.name}: {strategy.type} strategy {strategy.name} -> {targets}")
    return 0
