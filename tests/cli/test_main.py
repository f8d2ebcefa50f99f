"""The ``symbox`` command's dispatch: every command listed, each loaded only when asked for."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from symbox.cli.main import COMMANDS, build_parser, main


def _choices(parser: argparse.ArgumentParser) -> set[str]:
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(commands.choices)


def test_the_table_names_every_command_the_parser_has() -> None:
    # A command its module adds but the table does not name would be refused when asked
    # for alone: `symbox <name>` builds only the entry whose names hold <name>.
    named = {name for names, _ in COMMANDS for name in names}
    assert _choices(build_parser()) == named


def test_symbox_run_loads_no_other_command() -> None:
    probe = (
        "import sys\n"
        "from symbox.cli.main import main\n"
        "try:\n"
        "    main(['run', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted({'.'.join(n.split('.')[:2]) for n in sys.modules}"
        " & {'symbox.client', 'symbox.flowtest', 'symbox.tfimport'}), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "--config" in done.stdout
    assert done.stderr.strip() == "[]"


def test_the_full_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--help"])
    assert stopped.value.code == 0
    listed = capsys.readouterr().out
    for names, _ in COMMANDS:
        for name in names:
            assert f"    {name} " in listed or f"    {name}\n" in listed, name


def test_an_unknown_command_names_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["frobnicate"])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "invalid choice: 'frobnicate'" in error
    assert "'run'" in error and "'approve'" in error


def test_a_client_command_alone_parses_as_in_the_full_parser() -> None:
    alone = build_parser(["approve"]).parse_args(["approve", "RUN"])
    full = build_parser().parse_args(["approve", "RUN"])
    assert vars(alone) == vars(full)
