"""symbox import: Terraform's show -json output of a Sym project in, a symbox folder out."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from symbox.cli.main import main
from symbox.config import flows, load_config
from symbox.config.model import Secret
from symbox.config.schema import IMPLEMENTED
from symbox.tfimport import StateError, convert, import_document
from symbox.tfimport.convert import resource_key
from symbox.tfimport.state import TfResource

IMPL = """from sym.sdk.annotations import hook
from sym.sdk.templates import ApprovalTemplate


@hook
def on_request(event):
    if event.payload.fields.get("reason") == "auto":
        return ApprovalTemplate.approve(reason="auto")
    return None
"""
PERMISSION_SET = "arn:aws:sso:::permissionSet/ssoins-0123456789abcdef/ps-"
# Values that must never reach a written file.
SECRETS = ("sk_live_SECRET123", "SIGNKEY-987", "pd-token-value-XYZ", "xoxb-hosted-sym")
IDS = {
    "env": "0c3e6f0a-0000-4000-8000-000000000001",
    "slack": "0c3e6f0a-0000-4000-8000-000000000002",
    "logger": "0c3e6f0a-0000-4000-8000-000000000003",
    "context": "0c3e6f0a-0000-4000-8000-000000000004",
    "runtime": "0c3e6f0a-0000-4000-8000-000000000005",
    "admin": "0c3e6f0a-0000-4000-8000-000000000006",
    "readonly": "0c3e6f0a-0000-4000-8000-000000000007",
    "sso": "0c3e6f0a-0000-4000-8000-000000000008",
    "flow": "0c3e6f0a-0000-4000-8000-000000000009",
    "secrets": "0c3e6f0a-0000-4000-8000-00000000000a",
    "pd_secret": "0c3e6f0a-0000-4000-8000-00000000000b",
    "pagerduty": "0c3e6f0a-0000-4000-8000-00000000000c",
    "api": "0c3e6f0a-0000-4000-8000-00000000000d",
    "google": "0c3e6f0a-0000-4000-8000-00000000000e",
    "google_target": "0c3e6f0a-0000-4000-8000-00000000000f",
    "google_strategy": "0c3e6f0a-0000-4000-8000-000000000010",
    "google_flow": "0c3e6f0a-0000-4000-8000-000000000011",
    "firehose": "0c3e6f0a-0000-4000-8000-000000000012",
}


def resource(
    address: str, values: dict[str, Any], index: Any = None, sensitive: Any = None
) -> dict[str, Any]:
    """One resource as terraform show -json lists it."""
    mode = "managed"
    # Without the module calls' prefix (module.a["k"].), whose keys may hold brackets.
    own = re.sub(r'^(?:module\.[^.\[]+(?:\["[^"]*"\]|\[\d+\])?\.)+', "", address)
    parts = own.split("[")[0].split(".")
    if "data" in parts:
        mode = "data"
        parts.remove("data")
    kind, name = parts[-2], parts[-1]
    provider = "sym" if kind.startswith("sym_") else kind.split("_")[0]
    return {
        "address": address,
        "mode": mode,
        "type": kind,
        "name": name,
        **({"index": index} if index is not None else {}),
        "provider_name": f"registry.terraform.io/symopsio/{provider}",
        "schema_version": 0,
        "values": values,
        "sensitive_values": sensitive or {},
    }


def sym_project() -> dict[str, Any]:
    """The values of a realistic Sym project, with a registry module and an unsupported flow."""
    i = IDS
    root = [
        resource(
            "sym_integration.slack",
            {
                "id": i["slack"],
                "type": "slack",
                "name": "main",
                "external_id": "T0123456",
                "label": "",
                "settings": None,
            },
        ),
        resource(
            "sym_error_logger.slack",
            {
                "id": i["logger"],
                "integration_id": i["slack"],
                "destination": "#sym-errors",
            },
        ),
        resource(
            "sym_runtime.this",
            {
                "id": i["runtime"],
                "name": "main",
                "label": "Main",
                "context_id": i["context"],
            },
        ),
        resource(
            "sym_log_destination.firehose",
            {
                "id": i["firehose"],
                "type": "kinesis_firehose",
                "integration_id": i["context"],
                "settings": {"stream_name": "sym-audit"},
            },
        ),
        resource(
            "sym_environment.prod",
            {
                "id": i["env"],
                "name": "prod",
                "label": "Production",
                "runtime_id": i["runtime"],
                "error_logger_id": i["logger"],
                "log_destination_ids": [i["firehose"]],
                "integrations": {"slack_id": i["slack"], "pagerduty_id": i["pagerduty"]},
            },
        ),
        resource(
            'sym_target.sso["admin"]',
            {
                "id": i["admin"],
                "type": "aws_sso_permission_set",
                "name": "prod-admin",
                "label": "Prod admin",
                "field_bindings": [],
                "settings": {
                    "permission_set_arn": PERMISSION_SET + "0123456789abcdef",
                    "account_id": "222233334444",
                },
            },
            index="admin",
        ),
        resource(
            'sym_target.sso["readonly"]',
            {
                "id": i["readonly"],
                "type": "aws_sso_permission_set",
                "name": "prod-readonly",
                "label": "",
                "field_bindings": None,
                "settings": {
                    "permission_set_arn": PERMISSION_SET + "1123456789abcdef",
                    "account_id": "222233334444",
                },
            },
            index="readonly",
        ),
        resource(
            "sym_strategy.sso",
            {
                "id": i["sso"],
                "type": "aws_sso",
                "name": "sso",
                "label": "",
                "integration_id": i["context"],
                "targets": [i["admin"], i["readonly"]],
                "implementation": None,
                "settings": {"instance_arn": "arn:aws:sso:::instance/ssoins-0123456789abcdef"},
            },
        ),
        resource(
            "sym_flow.sso_access",
            {
                "id": i["flow"],
                "name": "sso-access",
                "label": "SSO access",
                "implementation": IMPL,
                "environment_id": i["env"],
                "vars": {"approvers": "alice@example.com"},
                "params": [
                    {
                        "strategy_id": i["sso"],
                        "allow_revoke": True,
                        "schedule_deescalation": True,
                        "allowed_sources": ["slack", "api"],
                        "additional_header_text": "",
                        "allow_guest_interaction": False,
                        "prompt_field": [
                            {
                                "name": "reason",
                                "type": "string",
                                "label": "Why?",
                                "required": True,
                                "default": "",
                                "allowed_values": [],
                                "prefetch": False,
                            },
                            {
                                "name": "duration",
                                "type": "duration",
                                "label": "",
                                "required": True,
                                "default": "1h",
                                "allowed_values": ["30m", "1h"],
                                "prefetch": False,
                            },
                            {
                                "name": "ticket",
                                "type": "int",
                                "label": "Ticket",
                                "required": False,
                                "default": "42",
                                "allowed_values": None,
                                "prefetch": False,
                            },
                        ],
                    }
                ],
            },
        ),
        resource(
            "sym_secrets.aws",
            {
                "id": i["secrets"],
                "type": "aws_secrets_manager",
                "name": "aws",
                "label": "",
                "settings": {"context_id": i["context"]},
            },
        ),
        resource(
            "sym_secret.pagerduty",
            {
                "id": i["pd_secret"],
                "path": "sym/pagerduty",
                "source_id": i["secrets"],
                "label": "",
                "settings": {"json_key": "token"},
            },
        ),
        resource(
            "sym_integration.pagerduty",
            {
                "id": i["pagerduty"],
                "type": "pagerduty",
                "name": "pagerduty",
                "external_id": "acme",
                "label": "",
                "settings": {"api_token_secret": i["pd_secret"]},
            },
        ),
        resource(
            "sym_integration.access_api",
            {
                "id": i["api"],
                "type": "custom",
                "name": "access-api",
                "external_id": "acme",
                "label": "",
                "settings": {
                    "api_key": "sk_live_SECRET123",
                    "signing_key": "SIGNKEY-987",
                    "base_url": "https://access.example.com",
                    "secret_ids_json": json.dumps([i["pd_secret"]]),
                },
            },
            sensitive={"settings": {"signing_key": True}},
        ),
        resource(
            "sym_integration.google",
            {
                "id": i["google"],
                "type": "google",
                "name": "google",
                "external_id": "example.com",
                "label": "",
                "settings": {"admin_email": "admin@example.com"},
            },
        ),
        resource(
            "sym_target.google",
            {
                "id": i["google_target"],
                "type": "google_group",
                "name": "eng",
                "settings": {"group_email": "eng@example.com", "role": "MEMBER"},
            },
        ),
        resource(
            "sym_strategy.google",
            {
                "id": i["google_strategy"],
                "type": "google_group",
                "name": "google",
                "integration_id": i["google"],
                "targets": [i["google_target"]],
                "settings": {},
            },
        ),
        resource(
            "sym_flow.google_access",
            {
                "id": i["google_flow"],
                "name": "google-access",
                "label": "Google groups",
                "implementation": IMPL,
                "environment_id": i["env"],
                "vars": {},
                "params": [
                    {
                        "strategy_id": i["google_strategy"],
                        "allowed_sources": ["slack"],
                        "prompt_field": [{"name": "reason", "type": "string"}],
                    }
                ],
            },
        ),
        resource(
            "aws_secretsmanager_secret.pagerduty",
            {
                "id": "arn:aws:secretsmanager:us-east-1:111122223333:secret:sym/pagerduty",
                "name": "sym/pagerduty",
            },
        ),
        resource(
            "aws_secretsmanager_secret_version.pagerduty",
            {
                "id": "v1",
                "secret_string": json.dumps({"token": "pd-token-value-XYZ"}),
            },
            sensitive={"secret_string": True},
        ),
        resource("data.aws_caller_identity.current", {"account_id": "111122223333"}),
    ]
    connector = {
        "address": "module.runtime_connector",
        "resources": [
            resource(
                "module.runtime_connector.sym_integration.runtime_context",
                {
                    "id": i["context"],
                    "type": "permission_context",
                    "name": "main-runtime",
                    "external_id": "111122223333",
                    "label": "",
                    "settings": {
                        "cloud": "aws",
                        "external_id": "1478F2AD-6091-41E6-B3D2-766CA2F173CB",
                        "region": "us-east-1",
                        "role_arn": "arn:aws:iam::111122223333:role/sym/SymRuntimeMain",
                    },
                },
            ),
            resource(
                "module.runtime_connector.aws_iam_role.this",
                {
                    "id": "SymRuntimeMain",
                    "name": "SymRuntimeMain",
                },
            ),
        ],
    }
    return {"root_module": {"resources": root, "child_modules": [connector]}}


def state() -> dict[str, Any]:
    """A state's terraform show -json output."""
    return {"format_version": "1.0", "terraform_version": "1.7.5", "values": sym_project()}


def environ_for(result_env: list[Any]) -> dict[str, str]:
    """Every env() the import wrote, set to a stand-in value."""
    return {variable.name: f"set-{variable.name.lower()}" for variable in result_env}


def write(files: dict[str, str], folder: Path) -> None:
    """Write the import's files as the command does."""
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def everything(files: dict[str, str]) -> str:
    """Every written file's text, to search for what must not be there."""
    return "\n".join(files.values())


def test_state_import_writes_a_folder_that_loads(tmp_path: Path) -> None:
    result = import_document(state(), source="state.json")
    write(result.files, tmp_path)
    config = load_config(tmp_path / "config.hcl", environ=environ_for(result.env))

    assert set(config.flows) == {"sso_access", "google_access"}
    flow = config.flows["sso_access"]
    assert flow.environment == "prod"
    assert flow.params.strategy == "sso"
    assert flow.params.allowed_sources == ("slack", "api")
    assert flow.implementation == IMPL
    fields = {field.name: field for field in flow.params.prompt_fields}
    assert fields["ticket"].default == 42
    assert fields["duration"].allowed_values == (1800, 3600)
    assert config.strategies["sso"].targets == ("sso_admin", "sso_readonly")
    assert config.strategies["sso"].integration == "runtime_connector_runtime_context"
    assert config.runtimes["this"].context == "runtime_connector_runtime_context"
    environment = config.environments["prod"]
    assert environment.integrations == {"slack_id": "slack", "pagerduty_id": "pagerduty"}
    assert environment.log_destinations == ("firehose",)
    assert config.secrets["pagerduty"].source == "aws"


def test_references_are_rebuilt_and_no_secret_is_written() -> None:
    result = import_document(state())
    config = result.files["config.hcl"]
    assert "sym_integration.runtime_connector_runtime_context.id" in config
    assert "targets        = [sym_target.sso_admin.id, sym_target.sso_readonly.id]" in config
    assert "secret_ids_json = jsonencode([sym_secret.pagerduty.id])" in config
    assert 'api_token = env("SYMBOX_PAGERDUTY_API_TOKEN")' in config
    assert 'signing_key     = env("SYMBOX_ACCESS_API_SIGNING_KEY")' in config
    assert 'api_key         = env("SYMBOX_ACCESS_API_API_KEY")' in config
    assert 'implementation = file("impls/' in config
    for uuid in IDS.values():
        assert uuid not in everything(result.files)
    for secret in SECRETS:
        assert secret not in everything(result.files)
    example = result.files[".env.example"]
    for name in (
        "SYMBOX_PAGERDUTY_API_TOKEN",
        "SYMBOX_ACCESS_API_API_KEY",
        "SYMBOX_ACCESS_API_SIGNING_KEY",
        "SYMBOX_SLACK_BOT_TOKEN",
    ):
        assert f"\n{name}=\n" in example
    assert "'sym/pagerduty', JSON key 'token'" in example


def test_unsupported_strategy_disables_its_flow_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every strategy type Sym has is implemented now: take one away to see the refusal.
    fewer = replace(IMPLEMENTED, strategy_types=IMPLEMENTED.strategy_types - {"google_group"})
    monkeypatch.setattr(convert, "IMPLEMENTED", fewer)
    monkeypatch.setattr(flows, "IMPLEMENTED", fewer)
    result = import_document(state())
    config_text = result.files["config.hcl"]
    assert '# resource "sym_strategy" "google" {' in config_text
    assert '# resource "sym_target" "google" {' in config_text
    assert "# strategy_id = sym_strategy.google.id" in config_text
    report = result.files["IMPORT.md"]
    assert "`sym_flow.google_access`: its strategy sym_strategy.google is not imported" in report
    assert "google_group strategies are not implemented in symbox yet" in report
    assert any("disabled sym_flow.google_access" in line for line in result.summary())
    write(result.files, tmp_path)
    config = load_config(tmp_path / "config.hcl", environ=environ_for(result.env))
    disabled = config.flows["google_access"]
    assert disabled.params.allowed_sources == ()
    assert disabled.params.strategy is None
    assert "google" not in config.strategies


def test_other_providers_resources_are_dropped_and_listed() -> None:
    result = import_document(state())
    dropped = {item.address for item in result.dropped}
    assert dropped == {
        "aws_secretsmanager_secret.pagerduty",
        "aws_secretsmanager_secret_version.pagerduty",
        "data.aws_caller_identity.current",
        "module.runtime_connector.aws_iam_role.this",
    }
    report = result.files["IMPORT.md"]
    for address in dropped:
        assert f"`{address}`" in report
    assert "aws_secretsmanager_secret" not in result.files["config.hcl"]


def test_plan_uses_planned_values(tmp_path: Path) -> None:
    prior = state()
    planned = sym_project()
    for item in planned["root_module"]["resources"]:
        if item["address"] == "sym_flow.sso_access":
            item["values"]["label"] = "SSO access (planned)"
    plan = {
        "format_version": "1.2",
        "terraform_version": "1.7.5",
        "planned_values": planned,
        "prior_state": {"format_version": "1.0", "values": prior["values"]},
        "resource_changes": [],
    }
    result = import_document(plan, source="plan.json")
    assert "Terraform 1.7.5 plan" in result.files["config.hcl"]
    write(result.files, tmp_path)
    config = load_config(tmp_path / "config.hcl", environ=environ_for(result.env))
    assert config.flows["sso_access"].label == "SSO access (planned)"


def test_plan_values_unknown_until_apply_comment_the_resource_out(tmp_path: Path) -> None:
    planned = sym_project()
    for item in planned["root_module"]["resources"]:
        if item["address"] == "sym_flow.sso_access":
            del item["values"]["id"]
            del item["values"]["environment_id"]
    plan = {
        "format_version": "1.2",
        "planned_values": planned,
        "resource_changes": [
            {
                "address": "sym_flow.sso_access",
                "change": {"after_unknown": {"id": True, "environment_id": True}},
            }
        ],
    }
    result = import_document(plan)
    flow = next(item for item in result.drafts if item.address == "sym_flow.sso_access")
    assert flow.problem is not None
    assert "environment_id is missing (unknown until terraform apply" in flow.problem
    write(result.files, tmp_path)
    config = load_config(tmp_path / "config.hcl", environ=environ_for(result.env))
    assert "sso_access" not in config.flows


def test_project_files_keep_their_paths() -> None:
    project = {"flows/sso/impl.py": IMPL, "other.py": "x = 1\n"}
    result = import_document(state(), project)
    assert 'implementation = file("flows/sso/impl.py")' in result.files["config.hcl"]
    assert result.files["flows/sso/impl.py"] == IMPL
    assert "other.py" not in result.files


def test_a_path_in_the_state_is_read_from_the_project() -> None:
    document = state()
    for item in document["values"]["root_module"]["resources"]:
        if item["type"] == "sym_flow":
            item["values"]["implementation"] = "/home/me/sym/impl.py"
    without = import_document(document)
    flows = [item for item in without.drafts if item.type == "sym_flow"]
    assert all("--project has no such file" in (item.problem or "") for item in flows)
    with_project = import_document(document, {"impl.py": IMPL})
    assert 'implementation = file("impl.py")' in with_project.files["config.hcl"]
    assert all(item.problem is None for item in with_project.drafts if item.type == "sym_flow")


def test_unsupported_log_destination_is_left_out_of_its_environment(tmp_path: Path) -> None:
    document = state()
    resources = document["values"]["root_module"]["resources"]
    resources.append(
        resource(
            "sym_log_destination.segment",
            {"id": "seg-1", "type": "segment", "settings": {"write_key": "SEGMENT-KEY-1"}},
        )
    )
    for item in resources:
        if item["address"] == "sym_environment.prod":
            item["values"]["log_destination_ids"].append("seg-1")
    result = import_document(document)
    assert "SEGMENT-KEY-1" not in everything(result.files)
    assert '# resource "sym_log_destination" "segment" {' in result.files["config.hcl"]
    write(result.files, tmp_path)
    config = load_config(tmp_path / "config.hcl", environ=environ_for(result.env))
    assert config.environments["prod"].log_destinations == ("firehose",)
    assert (
        "log_destination_ids: references to resources not imported removed"
        in (result.files["IMPORT.md"])
    )


def test_a_segment_destination_is_imported_with_its_write_key_from_env(tmp_path: Path) -> None:
    document = state()
    resources = document["values"]["root_module"]["resources"]
    resources += [
        resource(
            "sym_secret.segment_write_key",
            {
                "id": "seg-secret-1",
                "path": "sym/segment-write-key",
                "source_id": IDS["secrets"],
                "settings": None,
            },
        ),
        resource(
            "sym_integration.segment",
            {
                "id": "seg-integration-1",
                "type": "segment",
                "name": "segment",
                "external_id": "my-workspace",
                "settings": {"write_key_secret": "seg-secret-1"},
            },
        ),
        resource(
            "sym_log_destination.segment",
            {
                "id": "seg-1",
                "type": "segment",
                "integration_id": "seg-integration-1",
                "settings": {"stream_name": "sym-audit", "colour": "red"},
            },
        ),
    ]
    for item in resources:
        if item["address"] == "sym_environment.prod":
            item["values"]["log_destination_ids"].append("seg-1")
    result = import_document(document)
    config_hcl = result.files["config.hcl"]
    assert '# resource "sym_log_destination" "segment"' not in config_hcl
    assert 'write_key = env("' in config_hcl
    names = [variable.name for variable in result.env if "WRITE_KEY" in variable.name]
    assert len(names) == 1
    assert names[0] in result.files[".env.example"]
    assert "dropped settings.colour" in result.files["IMPORT.md"]
    write(result.files, tmp_path)
    config = load_config(tmp_path / "config.hcl", environ=environ_for(result.env))
    assert config.environments["prod"].log_destinations == ("firehose", "segment")
    destination = config.log_destinations["segment"]
    assert (destination.type, destination.integration) == ("segment", "segment")
    assert destination.settings == {"stream_name": "sym-audit"}
    write_key = config.integrations["segment"].settings["write_key"]
    assert isinstance(write_key, Secret)
    assert write_key.reveal() == f"set-{names[0].lower()}"


def test_a_segment_integration_without_a_write_key_asks_for_one(tmp_path: Path) -> None:
    document = state()
    document["values"]["root_module"]["resources"] += [
        resource(
            "sym_integration.segment",
            {"id": "seg-integration-1", "type": "segment", "name": "s", "external_id": "w"},
        ),
        resource(
            "sym_log_destination.segment",
            {"id": "seg-1", "type": "segment", "integration_id": "seg-integration-1"},
        ),
    ]
    result = import_document(document)
    assert any("write key" in variable.origin for variable in result.env)
    write(result.files, tmp_path)
    config = load_config(tmp_path / "config.hcl", environ=environ_for(result.env))
    assert config.log_destinations["segment"].integration == "segment"


def test_resource_keys_come_from_the_address() -> None:
    def key(address: str, module: str, name: str, index: Any) -> str:
        return resource_key(
            TfResource(address, "managed", "sym_target", name, index, module, {}, {})
        )

    assert key('module.a["x"].module.b.sym_target.t[0]', 'module.a["x"].module.b', "t", 0) == (
        "a_x_b_t_0"
    )
    assert key('sym_target.t["prod-db"]', "", "t", "prod-db") == "t_prod_db"
    assert key('sym_target.t["1"]', "", "t", "1") == "t_1"


def test_not_terraform_json_is_refused() -> None:
    with pytest.raises(StateError):
        import_document({"resources": []})


def test_cli_writes_the_folder_and_refuses_a_non_empty_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "state.json"
    source.write_text(json.dumps(state()), encoding="utf-8")
    project = tmp_path / "project"
    project.mkdir()
    (project / "impl.py").write_text(IMPL, encoding="utf-8")
    out = tmp_path / "out"
    argv = ["import", "--from", str(source), "--project", str(project), "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "disabled" not in printed
    assert "config.hcl loads" in printed
    assert {p.name for p in out.iterdir()} == {"config.hcl", ".env.example", "IMPORT.md", "impl.py"}
    assert main(argv) == 1
    assert "is not empty" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0
    assert "api_token_secret" not in (out / "config.hcl").read_text()
    assert main([*argv, "--force", "--keep-secrets"]) == 0
    assert "api_token_secret = sym_secret.pagerduty.id" in (out / "config.hcl").read_text()


def test_cli_through_python_m_symbox(tmp_path: Path) -> None:
    source = tmp_path / "state.json"
    source.write_text(json.dumps(state()), encoding="utf-8")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "symbox", "import", "--from", str(source), "--out", str(out)]
    env = {key: value for key, value in os.environ.items() if not key.startswith("SYMBOX_")}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (out / "IMPORT.md").is_file()
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    command[command.index(str(source))] = str(bad)
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1
    assert "not JSON" in done.stderr
    missing = subprocess.run(command[:4], capture_output=True, text=True, env=env, timeout=120)
    assert missing.returncode == 2


def test_a_tailscale_flow_is_imported_with_its_api_key_from_env(tmp_path: Path) -> None:
    document = state()
    document["values"]["root_module"]["resources"] += [
        resource(
            "sym_secret.tailscale",
            {"id": "ts-secret", "path": "sym/tailscale", "source_id": IDS["secrets"]},
        ),
        resource(
            "sym_integration.tailscale",
            {
                "id": "ts-integration",
                "type": "tailscale",
                "name": "tailscale",
                "external_id": "acme.example",
                "settings": {"api_token_secret": "ts-secret"},
            },
        ),
        resource(
            "sym_target.prod_db",
            {
                "id": "ts-target",
                "type": "tailscale_group",
                "name": "prod-db",
                "settings": {"group_name": "group:prod-db"},
            },
        ),
        resource(
            "sym_strategy.tailscale",
            {
                "id": "ts-strategy",
                "type": "tailscale",
                "name": "tailscale",
                "integration_id": "ts-integration",
                "targets": ["ts-target"],
                "settings": {},
            },
        ),
        resource(
            "sym_flow.tailscale_access",
            {
                "id": "ts-flow",
                "name": "tailscale-access",
                "implementation": IMPL,
                "environment_id": IDS["env"],
                "vars": {},
                "params": [
                    {
                        "strategy_id": "ts-strategy",
                        "prompt_field": [{"name": "reason", "type": "string"}],
                    }
                ],
            },
        ),
    ]
    result = import_document(document)
    config_hcl = result.files["config.hcl"]
    assert '# resource "sym_strategy" "tailscale"' not in config_hcl
    assert "tailscale strategies are not implemented" not in result.files["IMPORT.md"]
    assert not any("disabled sym_flow.tailscale_access" in line for line in result.summary())
    write(result.files, tmp_path)
    config = load_config(tmp_path / "config.hcl", environ=environ_for(result.env))
    assert config.flows["tailscale_access"].params.strategy == "tailscale"
    assert config.flows["tailscale_access"].params.allowed_sources != ()
    strategy = config.strategies["tailscale"]
    assert (strategy.type, strategy.integration) == ("tailscale", "tailscale")
    assert config.targets["prod_db"].settings == {"group_name": "group:prod-db"}
    integration = config.integrations["tailscale"]
    assert integration.external_id == "acme.example"
    assert isinstance(integration.settings["api_token"], Secret)


def test_keep_secrets_keeps_api_token_secret_and_its_sym_secret(tmp_path: Path) -> None:
    result = import_document(state(), keep_secrets=True)
    config_text = result.files["config.hcl"]
    assert "api_token_secret = sym_secret.pagerduty.id" in config_text
    assert "SYMBOX_PAGERDUTY_API_TOKEN" not in everything(result.files)
    for secret in SECRETS:
        assert secret not in everything(result.files)
    write(result.files, tmp_path)
    config = load_config(tmp_path / "config.hcl", environ=environ_for(result.env))
    assert config.integrations["pagerduty"].settings["api_token_secret"] == "sym_secret.pagerduty"
    assert config.secrets["pagerduty"].path == "sym/pagerduty"


def onelogin_state() -> dict[str, Any]:
    """The base state plus a Sym onelogin flow whose client secret is in a sym_secret."""
    document = state()
    document["values"]["root_module"]["resources"] += [
        resource(
            "sym_secret.onelogin",
            {"id": "ol-secret", "path": "sym/onelogin", "source_id": IDS["secrets"]},
        ),
        resource(
            "sym_integration.onelogin",
            {
                "id": "ol-integration",
                "type": "onelogin",
                "name": "onelogin",
                "external_id": "acme.onelogin.com",
                "settings": {"client_id": "ol-client-4d2e", "client_secret_secret": "ol-secret"},
            },
        ),
        resource(
            "sym_target.ol_admins",
            {
                "id": "ol-target",
                "type": "onelogin_role",
                "name": "ol-admins",
                "settings": {"role_id": "254213"},
            },
        ),
        resource(
            "sym_strategy.onelogin",
            {
                "id": "ol-strategy",
                "type": "onelogin",
                "name": "onelogin",
                "integration_id": "ol-integration",
                "targets": ["ol-target"],
                "settings": {},
            },
        ),
        resource(
            "sym_flow.onelogin_access",
            {
                "id": "ol-flow",
                "name": "onelogin-access",
                "implementation": IMPL,
                "environment_id": IDS["env"],
                "vars": {},
                "params": [
                    {
                        "strategy_id": "ol-strategy",
                        "prompt_field": [{"name": "reason", "type": "string"}],
                    }
                ],
            },
        ),
    ]
    return document


def test_a_onelogin_flow_is_imported_with_its_client_secret_from_env(tmp_path: Path) -> None:
    result = import_document(onelogin_state())
    config_hcl = result.files["config.hcl"]
    assert '# resource "sym_strategy" "onelogin"' not in config_hcl
    assert "onelogin strategies are not implemented" not in result.files["IMPORT.md"]
    assert not any("disabled sym_flow.onelogin_access" in line for line in result.summary())
    write(result.files, tmp_path)
    config = load_config(tmp_path / "config.hcl", environ=environ_for(result.env))
    assert config.flows["onelogin_access"].params.strategy == "onelogin"
    assert config.flows["onelogin_access"].params.allowed_sources != ()
    strategy = config.strategies["onelogin"]
    assert (strategy.type, strategy.integration) == ("onelogin", "onelogin")
    assert config.targets["ol_admins"].settings == {"role_id": "254213"}
    integration = config.integrations["onelogin"]
    assert integration.external_id == "acme.onelogin.com"
    assert integration.settings["client_id"] == "ol-client-4d2e"
    assert isinstance(integration.settings["client_secret"], Secret)
    assert "client_secret_secret" not in integration.settings


def test_keep_secrets_keeps_a_onelogin_client_secret_in_its_sym_secret(tmp_path: Path) -> None:
    result = import_document(onelogin_state(), keep_secrets=True)
    assert "client_secret_secret = sym_secret.onelogin.id" in result.files["config.hcl"]
    write(result.files, tmp_path)
    config = load_config(tmp_path / "config.hcl", environ=environ_for(result.env))
    settings = config.integrations["onelogin"].settings
    assert settings["client_secret_secret"] == "sym_secret.onelogin"
    assert config.secrets["onelogin"].path == "sym/onelogin"


def test_an_aptible_flow_is_imported_with_its_password_from_env_or_kept(tmp_path: Path) -> None:
    document = state()
    document["values"]["root_module"]["resources"] += [
        resource(
            "sym_secret.aptible",
            {"id": "apt-secret", "path": "sym/aptible", "source_id": IDS["secrets"]},
        ),
        resource(
            "sym_integration.aptible",
            {
                "id": "apt-integration",
                "type": "aptible",
                "name": "aptible",
                "external_id": "org-5a1e",
                "settings": {"username": "robot@acme.example", "password_secret": "apt-secret"},
            },
        ),
        resource(
            "sym_target.db_admins",
            {
                "id": "apt-target",
                "type": "aptible_role",
                "name": "db-admins",
                "settings": {"role_id": "role-db-admins"},
            },
        ),
        resource(
            "sym_strategy.aptible",
            {
                "id": "apt-strategy",
                "type": "aptible",
                "name": "aptible",
                "integration_id": "apt-integration",
                "targets": ["apt-target"],
                "settings": {},
            },
        ),
        resource(
            "sym_flow.aptible_access",
            {
                "id": "apt-flow",
                "name": "aptible-access",
                "implementation": IMPL,
                "environment_id": IDS["env"],
                "vars": {},
                "params": [
                    {
                        "strategy_id": "apt-strategy",
                        "prompt_field": [{"name": "reason", "type": "string"}],
                    }
                ],
            },
        ),
    ]
    result = import_document(document)
    assert '# resource "sym_strategy" "aptible"' not in result.files["config.hcl"]
    assert not any("disabled sym_flow.aptible_access" in line for line in result.summary())
    write(result.files, tmp_path / "env")
    config = load_config(tmp_path / "env" / "config.hcl", environ=environ_for(result.env))
    assert config.flows["aptible_access"].params.strategy == "aptible"
    assert config.flows["aptible_access"].params.allowed_sources != ()
    assert config.targets["db_admins"].settings == {"role_id": "role-db-admins"}
    integration = config.integrations["aptible"]
    assert (integration.type, integration.external_id) == ("aptible", "org-5a1e")
    assert integration.settings["username"] == "robot@acme.example"
    assert isinstance(integration.settings["password"], Secret)

    kept = import_document(document, keep_secrets=True)
    assert "password_secret = sym_secret.aptible.id" in kept.files["config.hcl"]
    write(kept.files, tmp_path / "kept")
    config = load_config(tmp_path / "kept" / "config.hcl", environ=environ_for(kept.env))
    assert config.integrations["aptible"].settings["password_secret"] == "sym_secret.aptible"


def test_a_google_group_flow_is_imported_enabled_with_a_key_to_set(tmp_path: Path) -> None:
    result = import_document(state())
    config_hcl = result.files["config.hcl"]
    assert '# resource "sym_strategy" "google"' not in config_hcl
    assert "google_group strategies are not implemented" not in result.files["IMPORT.md"]
    assert not any("disabled sym_flow.google_access" in line for line in result.summary())
    assert 'service_account_key = env("SYMBOX_GOOGLE_SERVICE_ACCOUNT_KEY")' in config_hcl
    assert "\nSYMBOX_GOOGLE_SERVICE_ACCOUNT_KEY=\n" in result.files[".env.example"]
    write(result.files, tmp_path)
    config = load_config(tmp_path / "config.hcl", environ=environ_for(result.env))
    assert config.flows["google_access"].params.strategy == "google"
    assert config.flows["google_access"].params.allowed_sources != ()
    strategy = config.strategies["google"]
    assert (strategy.type, strategy.integration) == ("google_group", "google")
    assert config.targets["google"].settings == {"group_email": "eng@example.com", "role": "MEMBER"}
    integration = config.integrations["google"]
    assert integration.external_id == "example.com"
    # Sym's admin_email is kept as it was; only the key is new.
    assert integration.settings["admin_email"] == "admin@example.com"
    assert isinstance(integration.settings["service_account_key"], Secret)


def test_a_google_integration_without_an_admin_asks_for_one(tmp_path: Path) -> None:
    document = state()
    for item in document["values"]["root_module"]["resources"]:
        if item["address"] == "sym_integration.google":
            item["values"]["settings"] = {}
    result = import_document(document)
    assert 'admin_email         = env("SYMBOX_GOOGLE_ADMIN_EMAIL")' in result.files["config.hcl"]
    write(result.files, tmp_path)
    config = load_config(tmp_path / "config.hcl", environ=environ_for(result.env))
    assert isinstance(config.integrations["google"].settings["admin_email"], Secret)
