# The example symbox configuration: `scripts/symbox run --config config.hcl`.
# It uses Sym's Terraform shapes; symbox reads it directly (no Terraform run).

variable "approvers" {
  description = "Who may approve requests (comma-separated emails); SYMBOX_VAR_approvers overrides it."
  default     = "alice@example.com"
}

resource "sym_log_destination" "audit_file" {
  type = "file"
}

resource "sym_environment" "main" {
  name                = "main"
  log_destination_ids = [sym_log_destination.audit_file.id]
}

# hooks/example.py pre-approves whoever is on call. Uncomment this (and export
# PAGERDUTY_API_TOKEN) to ask PagerDuty; without it, a person approves every request.
# resource "sym_integration" "pagerduty" {
#   type        = "pagerduty"
#   name        = "pagerduty"
#   external_id = "your-subdomain"
#   settings = {
#     api_token = env("PAGERDUTY_API_TOKEN")
#   }
# }

# Approvers without Slack: uncomment these (and add
# `notify_ids = [sym_integration.approvers_chat.id, sym_integration.mail.id]` to a flow's
# params) to post each request to a Teams channel and email the approvers.
# resource "sym_integration" "approvers_chat" {
#   type        = "webhook"
#   name        = "approvers-chat"
#   external_id = "approvers-chat"
#   settings = {
#     url    = "https://example.webhook.office.com/webhookb2/..."
#     format = "teams"
#   }
# }
#
# resource "sym_integration" "mail" {
#   type        = "smtp"
#   name        = "mail"
#   external_id = "smtp.example.com"
#   settings = {
#     host     = "smtp.example.com"
#     port     = 587
#     username = "symbox"
#     password = env("SMTP_PASSWORD")
#     from     = "symbox@example.com"
#   }
# }

resource "sym_target" "staging_db" {
  type  = "custom"
  name  = "staging-db"
  label = "Staging database"
  settings = {
    identifier = "staging-db"
  }
}

resource "sym_target" "prod_db" {
  type  = "custom"
  name  = "prod-db"
  label = "Production database"
  settings = {
    identifier = "prod-db"
  }
}

# Grants and revokes are POSTed to this URL, signed with SYMBOX_GRANT_SECRET.
resource "sym_strategy" "grants" {
  type    = "http"
  name    = "grants"
  targets = [sym_target.staging_db.id, sym_target.prod_db.id]
  settings = {
    url            = "http://127.0.0.1:8090/grants"
    signing_secret = env("SYMBOX_GRANT_SECRET")
  }
}

resource "sym_flow" "db_access" {
  name           = "db-access"
  label          = "Database access"
  implementation = file("${path.module}/hooks/example.py")
  environment_id = sym_environment.main.id

  vars = {
    approvers      = var.approvers
    prod_approvers = var.approvers
  }

  params {
    strategy_id = sym_strategy.grants.id

    prompt_field "reason" {
      type     = "string"
      required = true
    }

    prompt_field "duration" {
      type           = "duration"
      allowed_values = ["1m", "10m", "1h"]
    }
  }
}

# Approval only: nothing is granted, the approval itself is the record.
resource "sym_flow" "deploy_freeze_exception" {
  name           = "deploy-freeze-exception"
  label          = "Deploy during a freeze"
  implementation = file("${path.module}/hooks/example.py")
  environment_id = sym_environment.main.id

  vars = {
    approvers = var.approvers
  }

  params {
    prompt_field "reason" {
      type     = "string"
      required = true
    }
  }
}
