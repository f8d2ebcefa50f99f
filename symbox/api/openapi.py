"""The OpenAPI 3.1 description of the Events API."""

from __future__ import annotations

from typing import Any

from symbox import __version__


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    str(code): _json(_ref("Error"), text)
    for code, text in (
        (400, "Malformed body or invalid inputs"),
        (401, "Missing, unknown, expired or revoked token"),
        (403, "The token's identity may not do this"),
        (404, "No such run, event or flow"),
        (409, "The run is not in a state where this applies"),
        (413, "Body larger than 64 KiB"),
        (429, "Too many failed authentications from this address; see Retry-After"),
    )
}

_DECISION_BODY = {
    "type": "object",
    "required": ["run_id"],
    "properties": {"run_id": {"type": "string"}, "reason": {"type": "string"}},
}


_EXTEND_BODY = {
    "type": "object",
    "required": ["run_id", "duration"],
    "properties": {
        "run_id": {"type": "string"},
        "duration": {
            "type": ["string", "integer"],
            "description": "How much longer: 30m, 1h, 2d or a number of seconds",
        },
        "reason": {"type": "string"},
    },
}


def _post(summary: str, body: dict[str, Any], ok: str, ok_schema: dict[str, Any]) -> Any:
    return {
        "post": {
            "summary": summary,
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {ok: _json(ok_schema, summary), **_ERRORS},
        }
    }


def openapi_document() -> dict[str, Any]:
    """Return the document served at ``/openapi.json``."""
    request_body = {
        "type": "object",
        "properties": {
            "flow": {"type": "string", "description": "The flow's name"},
            "flow_srn": {"type": "string", "description": "Sym's form: ORG:flow:NAME:VERSION"},
            "user_email": {"type": "string", "description": "Requester (bot tokens only)"},
            "flow_inputs": {"type": "object", "description": "Prompt field values"},
            "context": {"type": "object"},
            "break_glass": {
                "type": "boolean",
                "description": "Grant it to yourself now, without an approver (user tokens, flows"
                " with a break_glass block); reviewed afterwards",
            },
            "reason": {
                "type": "string",
                "description": "Why break-glass (default: flow_inputs.reason)",
            },
        },
    }
    created = {
        "type": "object",
        "properties": {
            "run_id": {"type": "string"},
            "event_id": {"type": "string"},
            "status": {"type": "string"},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "symbox Events API", "version": __version__},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message", "code", "status_code"],
                    "properties": {
                        "error": {"type": "string"},
                        "message": {"type": "string"},
                        "code": {"type": "string"},
                        "status_code": {"type": "integer"},
                    },
                },
                "Run": {
                    "type": "object",
                    "properties": {
                        "run_id": {"type": "string"},
                        "status": {
                            "enum": [
                                "requested",
                                "approved",
                                "denied",
                                "escalated",
                                "deescalated",
                                "expired",
                                "errored",
                                "withdrawn",
                            ]
                        },
                        "flow": {"type": "string"},
                        "requester": {"type": "string"},
                        "target": {"type": ["string", "null"]},
                        "fields": {"type": "object"},
                        "decisions": {"type": "array", "items": {"type": "object"}},
                        "escalated_at": {"type": ["string", "null"]},
                        "expires_at": {"type": ["string", "null"]},
                        "errors": {"type": "array", "items": {"type": "string"}},
                        "notifications": {"type": "array", "items": {"type": "object"}},
                        "grant": {"type": ["object", "null"]},
                        "extension": {
                            "type": ["object", "null"],
                            "description": "The latest request for more time",
                            "properties": {
                                "duration": {"type": "integer", "description": "Seconds"},
                                "requested_at": {"type": "string"},
                                "requested_by": {"type": "object"},
                                "reason": {"type": ["string", "null"]},
                                "status": {"enum": ["pending", "approved", "denied", "lapsed"]},
                                "decided_by": {"type": ["object", "null"]},
                                "decided_at": {"type": ["string", "null"]},
                                "decision_reason": {"type": ["string", "null"]},
                            },
                        },
                        "break_glass": {"type": "boolean"},
                        "review": {
                            "type": ["object", "null"],
                            "description": "A break-glass run's review after the fact",
                            "properties": {
                                "state": {"enum": ["needs_review", "reviewed"]},
                                "by": {"type": ["object", "null"]},
                                "at": {"type": ["string", "null"]},
                                "reason": {"type": ["string", "null"]},
                            },
                        },
                        "events": {"type": "array", "items": _ref("Event")},
                    },
                },
                "Event": {
                    "type": "object",
                    "properties": {
                        "event_id": {"type": "string"},
                        "run_id": {"type": "string"},
                        "name": {"type": "string"},
                        "timestamp": {"type": "string"},
                        "status": {"type": "string"},
                        "error": {"type": "string"},
                    },
                },
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/events/request": _post("Request access", request_body, "201", created),
            "/api/v1/events/approve": _post("Approve a run", _DECISION_BODY, "200", _ref("Run")),
            "/api/v1/events/deny": _post("Deny a run", _DECISION_BODY, "200", _ref("Run")),
            "/api/v1/events/deescalate": _post(
                "End an escalated run's access now", _DECISION_BODY, "200", _ref("Run")
            ),
            "/api/v1/events/withdraw": _post(
                "Withdraw an undecided request (its requester)", _DECISION_BODY, "200", _ref("Run")
            ),
            "/api/v1/whoami": {
                "get": {
                    "summary": "Who the token acts as",
                    "responses": {"200": _json({"type": "object"}, "kind and id"), **_ERRORS},
                }
            },
            "/api/v1/events/extend": _post(
                "Extend an escalated run's access (at once, or once an approver approves)",
                _EXTEND_BODY,
                "200",
                _ref("Run"),
            ),
            "/api/v1/events/review": _post(
                "Review a break-glass run after the fact (an approver of its flow, not its"
                " requester); 409 if it is no break-glass run or was reviewed already",
                _DECISION_BODY,
                "200",
                _ref("Run"),
            ),
            "/api/v1/flows": {
                "get": {
                    "summary": "The flows this token may request, with their fields and targets",
                    "responses": {"200": _json({"type": "object"}, "The flows"), **_ERRORS},
                }
            },
            "/api/v1/runs": {
                "get": {
                    "summary": "List runs, newest first; mine=true: the token user's own; all=true:"
                    " every run (403 unless the token may read them all); decidable=true: the"
                    " pending requests the token may approve or deny now",
                    "parameters": [
                        {"name": name, "in": "query", "schema": {"type": kind}}
                        for name, kind in (
                            ("status", "string"),
                            ("flow", "string"),
                            ("limit", "integer"),
                            ("cursor", "string"),
                            ("mine", "boolean"),
                            ("all", "boolean"),
                            ("decidable", "boolean"),
                        )
                    ],
                    "responses": {"200": _json({"type": "object"}, "A page of runs"), **_ERRORS},
                }
            },
            "/api/v1/runs/{run_id}": {
                "get": {
                    "summary": "One run with its events",
                    "parameters": [
                        {
                            "name": "run_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {"200": _json(_ref("Run"), "The run"), **_ERRORS},
                }
            },
            "/api/v1/events/{event_id}": {
                "get": {
                    "summary": "One event",
                    "parameters": [
                        {
                            "name": "event_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {"200": _json(_ref("Event"), "The event"), **_ERRORS},
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness",
                    "security": [],
                    "responses": {"200": {"description": "ok"}},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "security": [],
                    "responses": {"200": {"description": "text"}},
                }
            },
        },
    }
