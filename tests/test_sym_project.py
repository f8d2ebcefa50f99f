"""A Sym customer's Terraform project as it is, through `--config DIR` and `symbox import`.

The project in tests/fixtures/sym_project is in Sym's shape: several .tf files, Terraform's
own blocks, terraform.tfvars and an .auto.tfvars file, a registry connector module, a data
source, an aws_secretsmanager_secret whose name a sym_secret reads, and a local module
called with for_each that makes each team's targets, strategy and flow (its prompt fields
from a dynamic block, its hooks from a path).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from symbox.cli.main import main
from symbox.config import ConfigError, load_config
from symbox.config.model import Config
from symbox.tfimport import import_document
from tests.tfimport.test_command import environ_for, resource, write

PROJECT = Path(__file__).parent / "fixtures" / "sym_project"
IMPL_PATH = "modules/okta_team/impl.py"
TERRAFORM = "symbox does not run Terraform"
AWS, SYM = 'provider "aws"', 'provider "sym"'
TEAMS = {
    "payments": (
        ["ann@acme.com", "bob@acme.com"],
        {"payments-admin": "00g2", "payments-db": "00g1"},
    ),
    "search": (["cy@acme.com"], {"search-prod": "00g3"}),
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project, and the working directory its parent."""
    shutil.copytree(PROJECT, tmp_path / "project")
    monkeypatch.chdir(tmp_path)
    return Path("project")


def _line(path: Path, fragment: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, text in enumerate(lines, 1) if fragment in text)


def _check_teams(config: Config, key_of: Any) -> None:
    """Each team's flow, strategy and Okta groups, wherever their keys come from."""
    assert sorted(flow.name for flow in config.flows.values()) == [
        "payments-okta-access",
        "search-okta-access",
    ]
    for team, (approvers, groups) in TEAMS.items():
        flow = next(f for f in config.flows.values() if f.name == f"{team}-okta-access")
        assert flow.vars == {"approvers": ",".join(approvers)}
        assert flow.label == f"{team.title()} Okta access"
        assert config.environments[flow.environment].name == "prod"
        fields = [(f.name, f.label, f.type) for f in flow.params.prompt_fields]
        assert fields == [
            ("reason", "Why do you need access?", "string"),
            ("ticket", "Ticket", "string"),
            ("duration", None, "duration"),
        ]
        assert "def on_request(event):" in flow.implementation
        strategy = config.strategies[flow.params.strategy or ""]
        assert strategy.type == "okta"
        assert strategy.name == f"{team}-okta"
        targets = {config.targets[key].name: config.targets[key] for key in strategy.targets}
        assert {name: t.settings["group_id"] for name, t in targets.items()} == groups
        assert set(strategy.targets) == {key_of(team, name) for name in groups}
    okta = config.integrations[next(k for k in config.integrations if k.endswith("okta"))]
    assert okta.external_id == "acme.okta.com"


def test_the_project_loads_through_config_dir_with_only_the_documented_notices(
    project: Path,
) -> None:
    config = load_config(str(project), {})

    _check_teams(config, lambda team, name: f'module.okta_team["{team}"].group["{name}"]')
    flow = config.flows['module.okta_team["payments"].this']
    assert flow.implementation_path == f"project/{IMPL_PATH}"
    assert flow.implementation == (project / IMPL_PATH).read_text(encoding="utf-8")
    # The sym_secret's path is the name written in the aws_secretsmanager_secret block.
    assert config.secrets["okta_api_key"].path == "prod/okta-api-key"
    assert config.secrets["okta_api_key"].source == "this"
    okta = config.integrations["okta"]
    assert okta.settings["api_token_secret"] == "sym_secret.okta_api_key"
    context = config.integrations["runtime_context"]
    assert context.settings["role_arn"] == "arn:aws:iam::111122223333:role/sym/SymRuntimeProd"
    # From prod.auto.tfvars, over the variable's default.
    assert config.error_loggers["slack"].destination == "#sym-errors-prod"

    def at(name: str, fragment: str) -> str:
        return f"project/{name}:{_line(project / name, fragment)}"

    assert sorted(config.notices) == sorted(
        [
            f'{at("flows.tf", "output")}: output "flows" block ignored: {TERRAFORM}',
            f'{at("runtime.tf", "module")}: module "runtime_connector" block ignored: {TERRAFORM}, '
            'and reads only local modules (source = "./..."), not "symopsio/runtime-connector/aws"',
            f'{at("runtime.tf", "data ")}: data "aws_caller_identity" "current" block ignored: '
            f"{TERRAFORM}",
            f'{at("runtime.tf", "output")}: output "runtime_settings" block ignored: {TERRAFORM}',
            f'{at("secrets.tf", "aws_secretsmanager")}: resource "aws_secretsmanager_secret" '
            '"okta_api_key" block ignored: symbox reads only sym_* resources',
            f"{at('versions.tf', 'terraform {')}: terraform block ignored: {TERRAFORM}",
            f"{at('versions.tf', AWS)}: {AWS} block ignored: {TERRAFORM}",
            f"{at('versions.tf', SYM)}: {SYM} block ignored: {TERRAFORM}",
            f"{at('environment.tf', 'sym_integration')}: sym_integration.slack: Slack stays off "
            "until symbox has its own Slack app's tokens: add settings.bot_token = "
            'env("SLACK_BOT_TOKEN") and settings.app_token = env("SLACK_APP_TOKEN") '
            "(see docs/slack.md)",
        ]
    )


def test_validate_on_the_folder_prints_the_notices_and_the_flows(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--config", str(project)]) == 0
    out = capsys.readouterr()
    shown = out.out + out.err
    assert (
        "flow payments-okta-access: okta strategy payments-okta -> payments-admin, payments-db"
        in shown
    )
    assert "flow search-okta-access: okta strategy search-okta -> search-prod" in shown
    assert 'module "runtime_connector" block ignored' in shown


def test_a_variable_from_the_command_line_overrides_terraform_tfvars(project: Path) -> None:
    config = load_config(str(project), {"TF_VAR_okta_org_domain": "env.okta.com"})
    assert config.integrations["okta"].external_id == "acme.okta.com"


def test_sym_s_own_shape_of_the_runtime_context_names_the_connector_and_how_to_supply_it(
    project: Path,
) -> None:
    runtime = project / "runtime.tf"
    text = runtime.read_text(encoding="utf-8")
    start = text.index('resource "sym_integration" "runtime_context"')
    end = text.index('resource "sym_runtime"')
    as_in_sym = (
        'resource "sym_integration" "runtime_context" {\n'
        '  type        = "permission_context"\n'
        '  name        = "${local.environment_name}-runtime"\n'
        "  external_id = module.runtime_connector.settings.account_id\n"
        "  settings    = module.runtime_connector.settings\n"
        "}\n\n"
    )
    runtime.write_text(text[:start] + as_in_sym + text[end:], encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(str(project), {})
    module_at = f"project/runtime.tf:{_line(runtime, 'module ')}"
    assert [str(problem) for problem in caught.value.problems] == [
        f"project/runtime.tf:{_line(runtime, marker)}: {shown} needs "
        f'the module "runtime_connector" block at {module_at}, which symbox ignores: give the '
        "value as a variable (declare it, then set it with --var or in a tfvars file), or bring "
        "it in with symbox import from `terraform show -json`"
        for marker, shown in (
            ("external_id = module", "module.runtime_connector.settings.account_id"),
            ("settings    = module", "module.runtime_connector.settings"),
        )
    ]


# -- the same project through terraform show -json ------------------------------------

UUID = "5b0c1c1e-0000-4000-8000-{:012x}"


def _state() -> dict[str, Any]:
    """What terraform show -json prints for the project once applied."""
    ids = iter(range(1, 100))

    def new() -> str:
        return UUID.format(next(ids))

    context, runtime, slack, logger, env = new(), new(), new(), new(), new()
    secrets, secret, okta = new(), new(), new()
    root = [
        resource("data.aws_caller_identity.current", {"account_id": "111122223333"}),
        resource(
            "aws_secretsmanager_secret.okta_api_key",
            {"name": "prod/okta-api-key", "arn": "arn:aws:secretsmanager:us-east-1:1:secret:x"},
        ),
        resource(
            "sym_integration.runtime_context",
            {
                "id": context,
                "type": "permission_context",
                "name": "prod-runtime",
                "external_id": "111122223333",
                "settings": {
                    "cloud": "aws",
                    "region": "us-east-1",
                    "role_arn": "arn:aws:iam::111122223333:role/sym/SymRuntimeProd",
                    "account_id": "111122223333",
                },
            },
        ),
        resource("sym_runtime.this", {"id": runtime, "name": "prod", "context_id": context}),
        resource(
            "sym_integration.slack",
            {"id": slack, "type": "slack", "name": "prod-slack", "external_id": "T0123456"},
        ),
        resource(
            "sym_error_logger.slack",
            {"id": logger, "integration_id": slack, "destination": "#sym-errors-prod"},
        ),
        resource(
            "sym_environment.this",
            {
                "id": env,
                "name": "prod",
                "runtime_id": runtime,
                "error_logger_id": logger,
                "integrations": {"slack_id": slack, "okta_id": okta},
            },
        ),
        resource(
            "sym_secrets.this",
            {
                "id": secrets,
                "type": "aws_secrets_manager",
                "name": "prod",
                "settings": {"context_id": context},
            },
        ),
        resource(
            "sym_secret.okta_api_key",
            {"id": secret, "path": "prod/okta-api-key", "source_id": secrets},
        ),
        resource(
            "sym_integration.okta",
            {
                "id": okta,
                "type": "okta",
                "name": "prod-okta",
                "external_id": "acme.okta.com",
                "settings": {"api_token_secret": secret},
            },
        ),
    ]
    connector = {
        "address": "module.runtime_connector",
        "resources": [
            resource(
                "module.runtime_connector.aws_iam_role.this",
                {"name": "SymRuntimeProd", "arn": "arn:aws:iam::111122223333:role/x"},
            )
        ],
    }
    teams = []
    for team, (approvers, groups) in TEAMS.items():
        address = f'module.okta_team["{team}"]'
        target_ids = {name: new() for name in groups}
        strategy, flow = new(), new()
        resources = [
            resource(
                f'{address}.sym_target.group["{name}"]',
                {
                    "id": target_ids[name],
                    "type": "okta_group",
                    "name": name,
                    "label": name.replace("-", " ").title(),
                    "settings": {"group_id": group_id},
                },
                index=name,
            )
            for name, group_id in groups.items()
        ]
        resources.append(
            resource(
                f"{address}.sym_strategy.okta",
                {
                    "id": strategy,
                    "type": "okta",
                    "name": f"{team}-okta",
                    "integration_id": okta,
                    "targets": list(target_ids.values()),
                },
            )
        )
        fields = [
            {"name": "reason", "label": "Why do you need access?", "type": "string"},
            {"name": "ticket", "label": "Ticket", "type": "string"},
            {"name": "duration", "type": "duration", "allowed_values": ["30m", "1h", "4h"]},
        ]
        resources.append(
            resource(
                f"{address}.sym_flow.this",
                {
                    "id": flow,
                    "name": f"{team}-okta-access",
                    "label": f"{team.title()} Okta access",
                    "implementation": IMPL_PATH,
                    "environment_id": env,
                    "vars": {"approvers": ",".join(approvers)},
                    "params": [{"strategy_id": strategy, "prompt_field": fields}],
                },
            )
        )
        teams.append({"address": address, "resources": resources})
    values = {"root_module": {"resources": root, "child_modules": [connector, *teams]}}
    return {"format_version": "1.0", "terraform_version": "1.9.8", "values": values}


def test_the_project_imports_from_its_state_and_the_result_loads(tmp_path: Path) -> None:
    project_files = {IMPL_PATH: (PROJECT / IMPL_PATH).read_text(encoding="utf-8")}
    result = import_document(_state(), project_files)
    out = tmp_path / "imported"
    write(result.files, out)
    config = load_config(str(out), environ_for(result.env))

    def key_of(team: str, name: str) -> str:
        return f"okta_team_{team}_group_{name.replace('-', '_')}"

    _check_teams(config, key_of)
    names = [variable.name for variable in result.env]
    assert any("OKTA" in name for name in names), names
    assert "aws_secretsmanager_secret" in result.files["IMPORT.md"]
