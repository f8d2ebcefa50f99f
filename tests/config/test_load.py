"""Loading whole configurations: a realistic one, folders, notices, syntax errors, the example."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from symbox.config import ConfigError, Problem, load_config
from symbox.config.model import Location, PromptField, Secret
from symbox.engine.permissions import approvers as approvers_of
from tests.config.helpers import load, problems, write

REPO = Path(__file__).resolve().parents[2]


def line_of(text: str, needle: str) -> int:
    """The 1-based line of ``text`` that contains ``needle``."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


FULL = """\
provider "sym" {
  api_url = "https://api.symops.com"
}

variable "approvers" {
  description = "Who approves"
  type        = string
  default     = "alice@example.com"
}

locals {
  env_name = "prod"
  settings = jsonencode({ channel = "#access", retries = 3 })
}

resource "sym_integration" "slack" {
  type        = "slack"
  name        = "slack-${local.env_name}"
  external_id = "T0123456"
}

resource "sym_integration" "context" {
  type        = "permission_context"
  name        = "aws-context"
  external_id = "123456789012"
  settings = {
    cloud       = "aws"
    region      = "eu-west-1"
    role_arn    = "arn:aws:iam::123456789012:role/sym"
    external_id = "abc"
    account_id  = "123456789012"
  }
}

resource "sym_runtime" "main" {
  name       = "main-runtime"
  context_id = sym_integration.context.id
}

resource "sym_error_logger" "slack" {
  integration_id = sym_integration.slack.id
  destination    = "#sym-errors"
}

resource "sym_log_destination" "audit" {
  type     = "file"
  settings = { path = "audit/${local.env_name}.jsonl" }
}

resource "sym_environment" "prod" {
  name                = local.env_name
  label               = "Production"
  runtime_id          = sym_runtime.main.id
  error_logger_id     = sym_error_logger.slack.id
  log_destination_ids = [sym_log_destination.audit.id]
  integrations = {
    slack_id = sym_integration.slack.id
  }
}

resource "sym_target" "db" {
  type           = "custom"
  name           = "db"
  label          = "Database"
  settings       = { identifier = "db-1", port = 5432, tls = true, tags = ["a", "b"] }
  field_bindings = ["identifier"]
}

resource "sym_target" "cache" {
  type     = "custom"
  name     = "cache"
  settings = { identifier = "cache-1" }
}

resource "sym_strategy" "grants" {
  type           = "http"
  name           = "grants"
  targets        = [sym_target.db.id, sym_target.cache.id]
  integration_id = sym_integration.context.id
  settings = {
    url            = "https://grants.internal/hook"
    signing_secret = env("GRANT_SECRET")
    meta           = local.settings
  }
}

resource "sym_flow" "access" {
  name           = "access"
  label          = "Access"
  implementation = file("${path.module}/impl.py")
  environment_id = sym_environment.prod.id

  vars = {
    approvers     = var.approvers
    self_approval = false
    max_hours     = 4
  }

  params {
    strategy_id              = sym_strategy.grants.id
    allow_revoke             = false
    schedule_deescalation    = true
    allowed_sources          = ["api"]
    include_decision_message = true
    additional_header_text   = "*Be careful*"
    allow_guest_interaction  = true
    request_ttl              = "2h"

    prompt_field "reason" {
      type  = "string"
      label = "Why?"
    }
    prompt_field {
      name           = "ticket"
      type           = "int"
      required       = false
      allowed_values = [1, 2, 3]
      default        = 2
    }
    prompt_field "notify" {
      type    = "bool"
      visible = false
      default = true
    }
    prompt_field "teams" {
      type      = "str_list"
      default   = ["red"]
      prefetch  = true
      on_change = "on_teams"
    }
    prompt_field "watchers" {
      type = "slack_user_list"
    }
  }
}

resource "sym_flow" "approve_only" {
  name           = "approve-only"
  implementation = <<-EOT
    def on_request(event):
        return None
    EOT
  environment_id = sym_environment.prod.id
}
"""


def test_a_realistic_config_loads_into_the_model(in_tmp: Path) -> None:
    (in_tmp / "impl.py").write_text("from sym.sdk import hook\n", encoding="utf-8")
    environ = {"GRANT_SECRET": "s3cret", "SYMBOX_VAR_approvers": "bob@example.com"}
    config = load(FULL, environ)

    assert config.files == ("config.hcl",)
    assert config.notices == (
        'config.hcl:1: provider "sym" block ignored: symbox does not run Terraform',
        # Sym's Slack integration has no tokens: Sym's own Slack app holds them.
        "config.hcl:16: sym_integration.slack: Slack stays off until symbox has its own "
        'Slack app\'s tokens: add settings.bot_token = env("SLACK_BOT_TOKEN") and '
        'settings.app_token = env("SLACK_APP_TOKEN") (see docs/slack.md)',
    )
    slack = config.integrations["slack"]
    assert (slack.name, slack.type, slack.external_id) == ("slack-prod", "slack", "T0123456")
    assert config.integrations["context"].settings["region"] == "eu-west-1"
    assert config.runtimes["main"].context == "context"
    logger = config.error_loggers["slack"]
    assert (logger.integration, logger.destination) == ("slack", "#sym-errors")
    assert config.log_destinations["audit"].settings == {"path": "audit/prod.jsonl"}
    environment = config.environments["prod"]
    assert environment.name == "prod"
    assert environment.runtime == "main"
    assert environment.error_logger == "slack"
    assert environment.log_destinations == ("audit",)
    assert environment.integrations == {"slack_id": "slack"}
    assert environment.location == Location("config.hcl", line_of(FULL, '"sym_environment" "prod"'))

    db = config.targets["db"]
    assert db.settings == {"identifier": "db-1", "port": 5432, "tls": True, "tags": ("a", "b")}
    assert db.field_bindings == ("identifier",)
    strategy = config.strategies["grants"]
    assert strategy.targets == ("db", "cache")
    assert strategy.integration == "context"
    assert strategy.settings["meta"] == '{"channel":"#access","retries":3}'
    secret = strategy.settings["signing_secret"]
    assert isinstance(secret, Secret) and secret.reveal() == "s3cret"

    flow = config.flows["access"]
    assert config.flow_by_name("access") is flow
    assert flow.implementation == "from sym.sdk import hook\n"
    assert flow.implementation_path == "impl.py"
    assert flow.environment == "prod"
    assert flow.vars == {
        "approvers": "bob@example.com",
        "self_approval": "false",
        "max_hours": "4",
    }
    params = flow.params
    assert params.strategy == "grants"
    assert (params.allow_revoke, params.schedule_deescalation) == (False, True)
    assert params.allowed_sources == ("api",)
    assert params.include_decision_message and params.allow_guest_interaction
    assert params.additional_header_text == "*Be careful*"
    assert params.request_ttl == 7200
    names = [field.name for field in params.prompt_fields]
    assert names == ["reason", "ticket", "notify", "teams", "watchers", "duration"]
    assert flow.field("reason") == PromptField(
        name="reason",
        type="string",
        label="Why?",
        required=True,
        visible=True,
        default=None,
        allowed_values=None,
        prefetch=False,
        on_change=None,
        location=Location("config.hcl", line_of(FULL, 'prompt_field "reason"')),
    )
    ticket = flow.field("ticket")
    assert ticket is not None
    assert (ticket.required, ticket.allowed_values, ticket.default) == (False, (1, 2, 3), 2)
    notify = flow.field("notify")
    assert notify is not None and (notify.visible, notify.default) == (False, True)
    teams = flow.field("teams")
    assert teams is not None
    assert (teams.allowed_values, teams.default) == (None, ("red",))
    assert (teams.prefetch, teams.on_change) == (True, "on_teams")
    duration = flow.field("duration")
    assert duration is not None
    assert (duration.type, duration.label, duration.allowed_values) == (
        "duration",
        "Duration",
        (30, 600, 3600),
    )

    approve_only = config.flow_by_name("approve-only")
    assert approve_only is not None
    assert approve_only.implementation == "def on_request(event):\n    return None\n"
    assert approve_only.implementation_path is None
    assert approve_only.params.strategy is None
    assert approve_only.params.allowed_sources == ("slack", "api")
    assert approve_only.params.request_ttl == 86400
    assert approve_only.params.prompt_fields == ()

    assert "s3cret" not in repr(config) and "s3cret" not in str(config)


def test_a_declared_duration_field_replaces_the_default_one() -> None:
    config = load(
        """\
        resource "sym_environment" "e" { name = "e" }
        resource "sym_target" "t" {
          type = "custom"
          name = "t"
        }
        resource "sym_strategy" "s" {
          type     = "http"
          name     = "s"
          targets  = [sym_target.t.id]
          settings = { url = "http://localhost/x", signing_secret = env("S") }
        }
        resource "sym_flow" "f" {
          name           = "f"
          implementation = ""
          environment_id = sym_environment.e.id
          params {
            strategy_id = sym_strategy.s.id
            prompt_field "duration" {
              type           = "duration"
              allowed_values = ["30s", "1h", "2d", "1mo"]
              default        = "1h"
            }
          }
        }
        resource "sym_flow" "g" {
          name           = "g"
          implementation = ""
          environment_id = sym_environment.e.id
          params {
            strategy_id           = sym_strategy.s.id
            schedule_deescalation = false
          }
        }
        """,
        {"S": "x"},
    )
    fields = config.flows["f"].params.prompt_fields
    assert len(fields) == 1
    assert fields[0].allowed_values == (30, 3600, 172800, 2592000)
    assert fields[0].default == 3600
    assert config.flows["g"].params.prompt_fields == ()


def test_a_folder_of_files_with_references_across_files(in_tmp: Path) -> None:
    folder = in_tmp / "conf"
    write(folder, 'resource "sym_environment" "main" {\n  name = var.env\n}\n', "a.hcl")
    write(
        folder,
        """\
        terraform {
          required_version = ">= 1.0"
        }
        variable "env" { default = "main" }
        resource "sym_flow" "f" {
          name           = "f"
          implementation = file("${path.module}/hooks/f.py")
          environment_id = sym_environment.main.id
        }
        """,
        "b.hcl",
    )
    write(folder, "HOOKS = 1\n", "hooks/f.py")
    write(folder, "not hcl", "notes.txt")

    config = load_config("conf", {})
    assert config.files == ("conf/a.hcl", "conf/b.hcl")
    assert config.environments["main"].location == Location("conf/a.hcl", 1)
    flow = config.flows["f"]
    assert (flow.environment, flow.implementation) == ("main", "HOOKS = 1\n")
    assert flow.implementation_path == "conf/hooks/f.py"
    assert config.notices == (
        "conf/b.hcl:1: terraform block ignored: symbox does not run Terraform",
    )

    absolute = load_config(str(folder), {})
    assert absolute.files == (f"{folder}/a.hcl", f"{folder}/b.hcl")
    assert absolute.flows["f"].implementation_path == f"{folder}/hooks/f.py"


def test_problems_in_a_folder_name_each_file(in_tmp: Path) -> None:
    folder = in_tmp / "conf"
    write(folder, 'resource "sym_environment" "main" {\n  name = var.nope\n}\n', "a.hcl")
    write(folder, 'resource "sym_environment" "main" {\n  name = "x"\n}\n', "b.hcl")
    with pytest.raises(ConfigError) as caught:
        load_config(folder, {})
    assert [str(problem) for problem in caught.value.problems] == [
        f"{folder}/a.hcl:2: undefined variable var.nope",
        f"{folder}/b.hcl:1: resource sym_environment.main is defined twice "
        f"(first at {folder}/a.hcl:1)",
    ]


def test_syntax_errors_name_file_line_and_column(in_tmp: Path) -> None:
    write(in_tmp / "conf", 'resource "sym_environment" "e" {\n  name = \n}\n', "a.hcl")
    write(in_tmp / "conf", "locals {\n  a = [1, 2\n  b = 3\n}\n", "b.hcl")
    with pytest.raises(ConfigError) as caught:
        load_config("conf", {})
    assert str(caught.value) == (
        "conf/a.hcl:2:10: syntax error: unexpected end of line\n"
        'conf/b.hcl:3:3: syntax error: unexpected "b"'
    )
    first = caught.value.problems[0]
    assert first == Problem(Location("conf/a.hcl", 2), first.message, column=10)


def test_an_unterminated_string_is_a_syntax_error() -> None:
    assert problems('locals {\n  a = "abc\n}\n') == [
        "config.hcl:2:8: syntax error: unexpected end of file"
    ]


def test_missing_paths_and_empty_folders(in_tmp: Path) -> None:
    with pytest.raises(ConfigError, match=r"^nowhere.hcl: no such file or folder$"):
        load_config("nowhere.hcl", {})
    (in_tmp / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"^empty: no \*\.tf or \*\.hcl files in this folder$"):
        load_config("empty", {})


def test_environ_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYMBOX_VAR_team", "from-os")
    write(Path.cwd(), 'variable "team" {}\nresource "sym_environment" "e" { name = var.team }\n')
    assert load_config("config.hcl").environments["e"].name == "from-os"


def test_the_repository_example_config_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    config = load_config("config.hcl", {**os.environ, "SYMBOX_GRANT_SECRET": "example"})
    flow = config.flow_by_name("db-access")
    assert flow is not None
    assert flow.implementation_path == "hooks/example.py"
    assert flow.vars == {
        "approvers": "alice@example.com",
        "prod_approvers": "alice@example.com",
    }
    assert flow.params.strategy == "grants"
    duration = flow.field("duration")
    assert duration is not None and duration.allowed_values == (60, 600, 3600)
    assert config.flow_by_name("deploy-freeze-exception") is not None
    assert config.strategies["grants"].targets == ("staging_db", "prod_db")
    assert config.environments["main"].log_destinations == ("audit_file",)
    assert config.log_destinations["audit_file"].type == "file"
    assert config.notices == ()


def test_byte_order_marks_and_windows_line_endings_are_accepted(in_tmp: Path) -> None:
    text = (
        '\ufeffresource "sym_environment" "e" {\r\n'
        '  name  = "e"\r\n  label = <<EOT\r\nhi\r\nEOT\r\n}\r\n'
    )
    (in_tmp / "config.hcl").write_bytes(text.encode("utf-8"))
    environment = load_config("config.hcl", {}).environments["e"]
    assert (environment.name, environment.label) == ("e", "hi\n")


def test_an_empty_config_is_valid() -> None:
    config = load("# nothing configured yet\n")
    assert config.flows == {} and config.notices == ()


def test_config_errors_survive_pickling() -> None:
    error = ConfigError([Problem(Location("config.hcl", 3), "bad"), Problem(None, "worse")])
    copy = pickle.loads(pickle.dumps(error))
    assert copy.problems == error.problems
    assert str(copy) == "config.hcl:3: bad\nworse"


@pytest.mark.parametrize(
    ("approvers", "why"),
    [
        ("alice", "'alice': expected an email address"),
        (
            "alice@example.com; bob@example.com",
            "holds more than one entry; separate approvers with ','",
        ),
        ("alice@example.com bob@example.com", "holds more than one entry"),
        ("bot:", "'bot:': a bot is bot:NAME"),
        ("bot:deploy pipeline", "a bot is bot:NAME"),
    ],
)
def test_approvers_that_no_sign_in_could_match_are_refused_with_their_line(
    in_tmp: Path, approvers: str, why: str
) -> None:
    text = FULL.replace("approvers     = var.approvers", f'approvers     = "{approvers}"')
    (in_tmp / "impl.py").write_text("from sym.sdk import hook\n", encoding="utf-8")
    found = problems(text, {"GRANT_SECRET": "s"})
    assert len(found) == 1
    assert found[0].startswith(f"config.hcl:{line_of(text, 'vars = {')}: sym_flow.")
    assert why in found[0]


def test_approvers_separated_by_commas_with_bots_load(in_tmp: Path) -> None:
    text = FULL.replace(
        "approvers     = var.approvers",
        'approvers     = " Alice@Example.com, bot:deploy-ci ,,bob@example.com"',
    )
    (in_tmp / "impl.py").write_text("from sym.sdk import hook\n", encoding="utf-8")
    flow = next(iter(load(text, {"GRANT_SECRET": "s"}).flows.values()))
    assert approvers_of(flow.vars) == {"alice@example.com", "bot:deploy-ci", "bob@example.com"}
