"""HCL configs whose strategies grant through the fake services (Okta, OneLogin, Google, ...)."""

from __future__ import annotations

FLOW = """
resource "sym_environment" "main" {{
  name = "main"
}}

resource "sym_flow" "access" {{
  name           = "access"
  implementation = {implementation}
  environment_id = sym_environment.main.id
  vars = {{
    approvers = "alice@example.com"
  }}
  params {{
    strategy_id = sym_strategy.{strategy}.id
    allow_duplicate_requests = true
    prompt_field {{
      name = "reason"
      type = "string"
    }}
    prompt_field {{
      name           = "duration"
      type           = "duration"
      allowed_values = ["10m", "1h"]
    }}
  }}
}}
"""


def access_flow(strategy: str, implementation: str = '"# no hooks"') -> str:
    """The ``main`` environment and the ``access`` flow over ``strategy``.

    ``implementation`` is the HCL expression of the flow's hooks.
    """
    return FLOW.format(strategy=strategy, implementation=implementation)


def okta_config(url: str) -> str:
    """An ``access`` flow over an okta strategy with one group target, ``okta-admins``."""
    return f'''
resource "sym_integration" "okta" {{
  type        = "okta"
  name        = "okta"
  external_id = "acme.okta.com"
  settings = {{
    api_token = env("OKTA_TOKEN")
    base_url  = "{url}"
  }}
}}

resource "sym_target" "okta_admins" {{
  type     = "okta_group"
  name     = "okta-admins"
  label    = "Okta admins"
  settings = {{ group_id = "00g-admins" }}
}}

resource "sym_strategy" "okta" {{
  type           = "okta"
  name           = "okta"
  integration_id = sym_integration.okta.id
  targets        = [sym_target.okta_admins.id]
}}
''' + access_flow("okta")


def github_config(url: str) -> str:
    """An ``access`` flow over a github strategy: ``app-repo`` (push), ``infra`` (maintain)."""
    return f'''
resource "sym_integration" "github" {{
  type        = "github"
  name        = "github"
  external_id = "acme"
  settings = {{
    api_token = env("GITHUB_TOKEN")
    base_url  = "{url}"
  }}
}}

resource "sym_target" "app" {{
  type     = "github_repo"
  name     = "app-repo"
  settings = {{ repo_name = "acme/app" }}
}}

resource "sym_target" "infra" {{
  type     = "github_repo"
  name     = "infra"
  settings = {{ repo_name = "infra", permission = "maintain" }}
}}

resource "sym_strategy" "github" {{
  type           = "github"
  name           = "github"
  integration_id = sym_integration.github.id
  targets        = [sym_target.app.id, sym_target.infra.id]
}}
''' + access_flow("github")


def lambda_config(endpoint: str, arn: str) -> str:
    """An ``access`` flow over an aws_lambda strategy with one function target, ``fn``."""
    return f'''
resource "sym_target" "fn" {{
  type     = "aws_lambda_function"
  name     = "fn"
  label    = "Access function"
  settings = {{ arn = "{arn}" }}
}}

resource "sym_strategy" "lambda" {{
  type     = "aws_lambda"
  name     = "lambda"
  targets  = [sym_target.fn.id]
  settings = {{ endpoint_url = "{endpoint}" }}
}}
''' + access_flow("lambda")


def tailscale_config(url: str, tailnet: str = "acme.example") -> str:
    """An ``access`` flow over a tailscale strategy with one group target, ``prod-db``."""
    return f'''
resource "sym_integration" "tailscale" {{
  type        = "tailscale"
  name        = "tailscale"
  external_id = "{tailnet}"
  settings = {{
    api_token = env("TAILSCALE_API_KEY")
    base_url  = "{url}"
  }}
}}

resource "sym_target" "prod_db" {{
  type     = "tailscale_group"
  name     = "prod-db"
  label    = "Production database"
  settings = {{ group_name = "group:prod-db" }}
}}

resource "sym_strategy" "tailscale" {{
  type           = "tailscale"
  name           = "tailscale"
  integration_id = sym_integration.tailscale.id
  targets        = [sym_target.prod_db.id]
}}
''' + access_flow("tailscale")


def onelogin_config(url: str, role_id: str = "254213") -> str:
    """An ``access`` flow over a onelogin strategy with one role target, ``ol-admins``."""
    return f'''
resource "sym_integration" "onelogin" {{
  type        = "onelogin"
  name        = "onelogin"
  external_id = "acme.onelogin.com"
  settings = {{
    client_id     = "ol-client-4d2e"
    client_secret = env("ONELOGIN_CLIENT_SECRET")
    base_url      = "{url}"
  }}
}}

resource "sym_target" "ol_admins" {{
  type     = "onelogin_role"
  name     = "ol-admins"
  label    = "OneLogin admins"
  settings = {{ role_id = "{role_id}" }}
}}

resource "sym_strategy" "onelogin" {{
  type           = "onelogin"
  name           = "onelogin"
  integration_id = sym_integration.onelogin.id
  targets        = [sym_target.ol_admins.id]
}}
''' + access_flow("onelogin")


def aptible_config(url: str, organization: str, role_id: str = "role-db-admins") -> str:
    """An ``access`` flow over an aptible strategy with one role target, ``db-admins``."""
    return f'''
resource "sym_integration" "aptible" {{
  type        = "aptible"
  name        = "aptible"
  external_id = "{organization}"
  settings = {{
    username = "symbox-robot@acme.example"
    password = env("APTIBLE_PASSWORD")
    base_url = "{url}"
  }}
}}

resource "sym_target" "db_admins" {{
  type     = "aptible_role"
  name     = "db-admins"
  label    = "Database admins"
  settings = {{ role_id = "{role_id}" }}
}}

resource "sym_strategy" "aptible" {{
  type           = "aptible"
  name           = "aptible"
  integration_id = sym_integration.aptible.id
  targets        = [sym_target.db_admins.id]
}}
''' + access_flow("aptible")


def google_config(url: str, admin: str = "admin@acme.example", role: str = "MANAGER") -> str:
    """An ``access`` flow over a google_group strategy with one group target, ``prod-db``.

    The service account key comes from ``env("GOOGLE_SERVICE_ACCOUNT_KEY")``.
    """
    return f'''
resource "sym_integration" "google" {{
  type        = "google"
  name        = "google"
  external_id = "acme.example"
  settings = {{
    service_account_key = env("GOOGLE_SERVICE_ACCOUNT_KEY")
    admin_email         = "{admin}"
    base_url            = "{url}"
  }}
}}

resource "sym_target" "prod_db" {{
  type     = "google_group"
  name     = "prod-db"
  label    = "Production database"
  settings = {{ group_email = "prod-db@acme.example", role = "{role}" }}
}}

resource "sym_strategy" "google" {{
  type           = "google_group"
  name           = "google"
  integration_id = sym_integration.google.id
  targets        = [sym_target.prod_db.id]
}}
''' + access_flow("google")
