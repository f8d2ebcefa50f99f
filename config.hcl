resource "sym_environment" "e" {
  name = "e"
}
resource "sym_target" "t" {
  type = "custom"
  name = "t"
}
resource "sym_strategy" "s" {
  type     = "http"
  name     = "s"
  targets  = [sym_target.t.id]
  settings = { url = "http://localhost:1/x", signing_secret = env("S") }
}
resource "sym_flow" "f" {
  name           = "f"
  implementation = ""
  environment_id = sym_environment.e.id
  vars = {
    approvers = "a@x.com,b@x.com,c@x.com,s@x.com"
    security  = "s@x.com, A@x.com"
    empty     = ""
  }
  params {
    approvals = [{ from = "empty" }]
  }
}
