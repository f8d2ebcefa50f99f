"""``symbox validate`` and ``run`` with --var and --var-file, on a folder, in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from symbox import logs, loops
from symbox.app import Options
from symbox.cli import main as cli
from symbox.cli import run as run_command
from symbox.cli import runner
from symbox.cli.runner import ConfigRefused, Runner
from symbox.config import VarOption
from symbox.config.model import Config
from symbox.config.parse_cache import ParseCache
from symbox.config.variables import VAR, VAR_FILE
from tests.config.helpers import write

# The command line runs inside its own folder, as a user runs symbox in theirs.
pytestmark = pytest.mark.usefixtures("in_tmp")

PROJECT = """\
provider "sym" {
  org = "acme"
}

variable "environment" {}

resource "sym_environment" "main" {
  name = var.environment
}

resource "sym_flow" "access" {
  name           = "access-${var.environment}"
  implementation = "# no hooks"
  environment_id = sym_environment.main.id
}
"""


def test_validate_reads_var_and_var_file_options_in_order(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(in_tmp / "conf", PROJECT, "main.tf")
    write(in_tmp, 'environment = "from-file"\n', "prod.tfvars")
    args = ["validate", "--config", "conf", "--var", "environment=early"]
    assert cli.main([*args, "--var-file", "prod.tfvars"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[:4] == [
        'conf/main.tf:1: provider "sym" block ignored: symbox does not run Terraform',
        "config ok: conf/main.tf",
        "environment from-file",
        "  flow access-from-file: approval only",
    ]
    assert cli.main(["validate", "--config", "conf", "--var-file", "prod.tfvars", "--var",
                     "environment=late"]) == 0  # fmt: skip
    assert "environment late" in capsys.readouterr().out


def test_validate_names_an_unset_variable_and_how_to_set_it(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(in_tmp / "conf", PROJECT, "main.tf")
    assert cli.main(["validate", "--config", "conf"]) == 1
    err = capsys.readouterr().err
    assert "conf/main.tf:5: variable environment has no default" in err
    assert "--var environment=VALUE" in err and "TF_VAR_environment" in err


def test_a_config_without_a_flow_is_an_error_in_validate_and_run(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(in_tmp / "conf", 'resource "sym_environment" "e" {\n  name = "e"\n}\n', "main.tf")
    write(in_tmp / "conf", "", "versions.tf")
    expected = (
        "no sym_flow: read conf/main.tf, conf/versions.tf, and none of them defines a "
        'resource "sym_flow"; symbox serves flows, so there is nothing to run'
    )
    assert cli.main(["validate", "--config", "conf"]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [expected, "1 problem found"]
    assert "config ok" not in captured.out
    monkeypatch.setattr(logs, "configure", lambda level, fmt="json": None)
    assert cli.main(["run", "--config", "conf", "--data-dir", str(in_tmp / "data")]) == 1
    assert capsys.readouterr().err.splitlines() == [expected, "1 problem found"]
    assert not (in_tmp / "data").exists()


def test_a_malformed_var_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["validate", "--var", "novalue"])
    assert caught.value.code == 2
    assert '--var "novalue": expected NAME=VALUE' in capsys.readouterr().err


def test_run_hands_its_variables_to_the_runner(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(in_tmp / "conf", PROJECT, "main.tf")
    made: list[tuple[Any, ...]] = []

    class FakeRunner:
        def __init__(self, *args: Any) -> None:
            made.append(args)

        async def run(self) -> None:
            return None

    monkeypatch.setattr(logs, "configure", lambda level, fmt="json": None)
    monkeypatch.setattr(run_command, "Runner", FakeRunner)
    monkeypatch.setattr(loops, "run", lambda function, choice: None)
    assert cli.main(["run", "--config", "conf", "--var", "environment=x"]) == 0
    source, config, _options, variables = made[0]
    assert (source, variables) == ("conf", [VarOption(VAR, "environment=x")])
    assert config.flow_by_name("access-x") is not None


def test_a_reload_reads_the_config_with_the_same_variables(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, tuple[VarOption, ...]]] = []
    kept: list[ParseCache | None] = []
    refused: list[list[str]] = []

    def load_checked(
        source: str, variables: tuple[VarOption, ...], trees: ParseCache | None = None
    ) -> Config:
        seen.append((source, variables))
        kept.append(trees)
        raise ConfigRefused(["nope"])

    async def refuse(app: object, problems: list[str]) -> None:
        refused.append(problems)

    options = [VarOption(VAR_FILE, "prod.tfvars"), VarOption(VAR, "a=1")]
    serving = Runner("conf", Config(files=()), Options(data_dir=in_tmp / "data"), options)
    monkeypatch.setattr(runner, "load_checked", load_checked)
    monkeypatch.setattr(serving, "_refuse", refuse)
    try:
        assert anyio.run(serving._prepare, None) is None  # type: ignore[arg-type]
    finally:
        # The runner's command stream is closed by run(), which this test never enters.
        serving._commands.close()
        serving._inbox.close()
    assert seen == [("conf", tuple(options))]
    # The reload reads and keeps parse trees in the data folder, as the start does.
    assert [trees is not None for trees in kept] == [True]
    assert refused == [["nope"]]
