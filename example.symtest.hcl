# Policy tests for the example flows (config.hcl, hooks/example.py): `symbox test`.
# Each case requests a flow, optionally has people approve or deny it, and states what
# must happen. Nothing is granted and nothing outside symbox is called.

case "staging_is_pre_approved" {
  flow      = "db-access"
  requester = "carol@example.com"
  fields    = { reason = "deploy", duration = "10m", target = "staging-db" }

  expect {
    outcome    = "approved"
    decided_by = "on_request"
    reason     = "staging access is pre-approved"
    target     = "staging-db"
    identity   = "carol@example.com"
    duration   = "10m"
  }
}

case "production_waits_for_an_approver" {
  flow      = "db-access"
  requester = "carol@example.com"
  fields    = { reason = "incident 42", duration = "1h", target = "prod-db" }

  expect {
    outcome   = "pending"
    approvers = ["alice@example.com"]
    granted   = false
  }
}

case "an_approver_grants_production" {
  flow      = "db-access"
  requester = "carol@example.com"
  fields    = { reason = "incident 42", duration = "1h", target = "prod-db" }

  approve {
    by     = "alice@example.com"
    expect = "allowed"
  }

  expect {
    outcome    = "approved"
    decided_by = "alice@example.com"
    target     = "prod-db"
    duration   = "1h"
  }
}

case "others_cannot_approve_production" {
  flow      = "db-access"
  requester = "carol@example.com"
  fields    = { reason = "incident 42", duration = "1h", target = "prod-db" }

  approve {
    by               = "bob@example.com"
    expect           = "refused"
    message_contains = "hidden"
  }
  approve {
    by               = "bot:deployer"
    expect           = "refused"
  }

  expect {
    outcome = "pending"
    granted = false
  }
}

case "approvers_cannot_approve_their_own_request" {
  flow      = "db-access"
  requester = "alice@example.com"
  fields    = { reason = "incident 42", duration = "1h", target = "prod-db" }

  approve {
    by               = "alice@example.com"
    expect           = "refused"
    message_contains = "may not decide their own request"
  }

  expect {
    outcome = "pending"
  }
}

case "a_denied_request_grants_nothing" {
  flow      = "db-access"
  requester = "carol@example.com"
  fields    = { reason = "incident 42", duration = "1h", target = "prod-db" }

  deny {
    by     = "alice@example.com"
    reason = "use staging"
  }

  expect {
    outcome    = "denied"
    decided_by = "alice@example.com"
    reason     = "use staging"
    granted    = false
  }
}

case "durations_outside_the_list_are_refused" {
  flow      = "db-access"
  requester = "carol@example.com"
  fields    = { reason = "incident 42", duration = "2d", target = "prod-db" }

  expect {
    outcome        = "refused"
    error_contains = "duration"
  }
}

case "a_freeze_exception_is_approved_without_a_grant" {
  flow      = "deploy-freeze-exception"
  requester = "carol@example.com"
  fields    = { reason = "hotfix" }

  approve {
    by = "alice@example.com"
  }

  expect {
    outcome    = "approved"
    decided_by = "alice@example.com"
    granted    = false
  }
}
