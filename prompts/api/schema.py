"""The OpenAPI 3.1 description of the JSON API, served at /api/v1/openapi.json."""

ERROR = {"$ref": "#/components/schemas/Error"}
JOB_STATUSES = ["queued", "running", "waiting", "succeeded", "failed", "rejected", "cancelled"]


def _errors(*statuses: int) -> dict:
    descriptions = {
        400: "Malformed request or invalid field", 401: "Missing, unknown or revoked token",
        404: "No such object in your teams (a project's message names it), or no such page",
        413: "Request too large (body or input tokens)",
        422: "Refused: budget used up, consent missing, blocked term, invalid image, archived "
             "project, an image link to a private address (image_private_address), an "
             "Idempotency-Key sent before with another body (idempotency_key_reused)",
        429: "Rate limited; see the Retry-After header",
    }
    return {
        str(status): {"description": descriptions[status],
                      "content": {"application/json": {"schema": ERROR}}}
        for status in statuses
    }


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "Any unique string (a UUID) for this job, printable ASCII. Sending the same "
                   "key with the same body again within 24 hours returns the job it created "
                   "(200, nothing new queued or billed); the same key with a different body "
                   "is refused (422, idempotency_key_reused). Keys are per user.",
}


def _json(schema_name: str, description: str) -> dict:
    return {"description": description, "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}}


SCHEMAS = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string"}, "message": {"type": "string"}}}},
    },
    "JobRequest": {
        "type": "object", "required": ["project", "brief"],
        "properties": {
            "project": {"oneOf": [{"type": "integer"}, {"type": "string"}],
                        "description": "project id, or its name when unambiguous"},
            "brief": {"type": "string"},
            "task_type": {"type": "string", "enum": ["strict", "balanced", "creative"],
                          "default": "balanced"},
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
            "max_tokens": {"type": "integer", "minimum": 1, "maximum": 32768},
            "images": {"type": "array", "maxItems": 8, "items": {
                "type": "string",
                "description": "data:image/...;base64,... (JPEG, PNG, WebP) or an https URL, "
                               "which GrokWeb downloads (public addresses only) and stores as "
                               "a reference of the project"}},
        },
    },
    "JobAccepted": {
        "type": "object", "required": ["id", "status"],
        "properties": {"id": {"type": "integer"}, "status": {"type": "string"}},
    },
    "Job": {
        "type": "object", "required": ["id", "status", "attempts"],
        "properties": {
            "id": {"type": "integer"},
            "status": {"type": "string", "enum": JOB_STATUSES},
            "wait_reason": {"type": ["string", "null"]},
            "attempts": {"type": "integer"},
            "task_type": {"type": "string"},
            "temperature": {"type": "number"},
            "max_tokens": {"type": "integer"},
            "model": {"type": "string"},
            "estimated_input_tokens": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"},
            "finished_at": {"type": ["string", "null"], "format": "date-time"},
            "error": {"type": ["object", "null"]},
            "record": {"type": ["object", "null"],
                       "description": "the prompt record when the job succeeded"},
            "usage": {"$ref": "#/components/schemas/JobUsage"},
        },
    },
    "JobSummary": {
        "type": "object",
        "required": ["id", "status", "attempts", "project", "created_at"],
        "properties": {
            "id": {"type": "integer"},
            "status": {"type": "string", "enum": JOB_STATUSES},
            "wait_reason": {"type": ["string", "null"]},
            "attempts": {"type": "integer"},
            "project": {"type": "object", "properties": {"id": {"type": "integer"},
                                                         "name": {"type": "string"}}},
            "batch": {"type": ["integer", "null"]},
            "task_type": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "finished_at": {"type": ["string", "null"], "format": "date-time"},
            "error": {"type": ["object", "null"]},
        },
    },
    "JobList": {
        "type": "object", "required": ["count", "page", "pages", "next", "previous", "results"],
        "properties": {
            "count": {"type": "integer", "description": "jobs matching, on all pages"},
            "page": {"type": "integer"},
            "pages": {"type": "integer"},
            "next": {"type": ["string", "null"], "format": "uri"},
            "previous": {"type": ["string", "null"], "format": "uri"},
            "results": {"type": "array", "maxItems": 50,
                        "items": {"$ref": "#/components/schemas/JobSummary"}},
        },
    },
    "JobUsage": {
        "type": "object",
        "properties": {
            "calls": {"type": "integer"},
            "prompt_tokens": {"type": "integer"},
            "completion_tokens": {"type": "integer"},
            "cost_rmb": {"type": "string", "description": "exact decimal ¥ (6 places)"},
            "cost_display": {"type": "string",
                             "description": "¥ as pages show it: ¥0.0053, ¥12.40"},
            "unpriced_calls": {"type": "integer"},
        },
    },
    "Usage": {
        "type": "object",
        "required": ["since", "until", "calls", "prompt_tokens", "completion_tokens",
                     "cost_rmb", "unpriced_calls", "unconfirmed_calls",
                     "unconfirmed_at_most_rmb"],
        "properties": {
            "since": {"type": "string", "format": "date"},
            "until": {"type": "string", "format": "date"},
            "calls": {"type": "integer"},
            "prompt_tokens": {"type": "integer"},
            "completion_tokens": {"type": "integer"},
            "cost_rmb": {"type": "string",
                         "description": "exact decimal ¥ (6 places), priced calls only"},
            "cost_display": {"type": "string",
                             "description": "¥ as pages show it: ¥0.0053, ¥12.40"},
            "unpriced_calls": {"type": "integer"},
            "unconfirmed_calls": {
                "type": "integer",
                "description": "calls whose answer was lost with their worker: in no figure "
                               "above until reconciliation with the gateway's log settles them"},
            "unconfirmed_at_most_rmb": {
                "type": "string",
                "description": "decimal ¥: the most the unconfirmed calls can have cost"},
        },
    },
}


def openapi_document(*, server_url: str) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "GrokWeb API", "version": "1.0.0",
                 "description": "Submit prompt-generation jobs and read usage with a personal "
                                "API token (create one on the API tokens page)."},
        "servers": [{"url": server_url}],
        "security": [{"bearerAuth": []}],
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
        },
        "paths": {
            "/jobs": {
                "get": {
                    "operationId": "listJobs",
                    "summary": "Your jobs, newest first, 50 a page",
                    "parameters": [
                        {"name": "status", "in": "query", "required": False,
                         "schema": {"type": "string", "enum": JOB_STATUSES}},
                        {"name": "project", "in": "query", "required": False,
                         "description": "project id, or its name when unambiguous",
                         "schema": {"type": "string"}},
                        {"name": "since", "in": "query", "required": False,
                         "description": "jobs created on this local day or later",
                         "schema": {"type": "string", "format": "date"}},
                        {"name": "page", "in": "query", "required": False,
                         "schema": {"type": "integer", "minimum": 1, "default": 1}},
                    ],
                    "responses": {"200": _json("JobList", "A page of jobs"),
                                  **_errors(400, 401, 404, 429)},
                },
                "post": {
                    "operationId": "createJob", "summary": "Queue one job",
                    "parameters": [IDEMPOTENCY_KEY],
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/JobRequest"}}}},
                    "responses": {
                        "202": {**_json("JobAccepted", "Queued"), "headers": {"Location": {
                            "description": "the job's URL (GET it for status and record)",
                            "schema": {"type": "string", "format": "uri"}}}},
                        "200": _json("JobAccepted", "The job this Idempotency-Key created "
                                                    "before (nothing new was queued or billed)"),
                        **_errors(400, 401, 404, 413, 422, 429)},
                },
            },
            "/jobs/{id}": {"get": {
                "operationId": "getJob", "summary": "A job with its status, attempts and record",
                "parameters": [{"name": "id", "in": "path", "required": True,
                                "schema": {"type": "integer"}}],
                "responses": {"200": _json("Job", "The job"), **_errors(401, 404, 429)},
            }},
            "/usage": {"get": {
                "operationId": "getUsage", "summary": "Your tokens and ¥ cost in a period",
                "parameters": [
                    {"name": name, "in": "query", "required": False,
                     "schema": {"type": "string", "format": "date"}}
                    for name in ("since", "until")
                ],
                "responses": {"200": _json("Usage", "Totals"), **_errors(400, 401, 429)},
            }},
            "/openapi.json": {"get": {
                "operationId": "getOpenApi", "summary": "This document", "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1 document",
                                      "content": {"application/json": {}}}},
            }},
        },
    }
