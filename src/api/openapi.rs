//! The OpenAPI 3.1 document of `/api/v1`, served at `/api/v1/openapi.json`. A test checks
//! that it lists exactly the routes the router serves.

use axum::Json;
use serde_json::{Value, json};

/// Every `/api/v1` path and its methods, as the router serves them.
pub const V1_ROUTES: &[(&str, &[&str])] = &[
    ("/api/v1/configs", &["get", "post"]),
    ("/api/v1/configs/{name}", &["get", "put", "delete"]),
    ("/api/v1/analyses", &["get", "post"]),
    ("/api/v1/analyses/{id}", &["get"]),
    ("/api/v1/analyses/{id}/cancel", &["post"]),
    ("/api/v1/judge", &["post"]),
    ("/api/v1/pipelines", &["get", "post"]),
    ("/api/v1/pipelines/{name}", &["get", "put", "delete"]),
    ("/api/v1/pipelines/{name}/executions", &["post"]),
    ("/api/v1/executions", &["get"]),
    ("/api/v1/executions/{id}", &["get"]),
    ("/api/v1/executions/{id}/events", &["get"]),
    ("/api/v1/executions/{id}/judgment", &["post"]),
    ("/api/v1/executions/{id}/rollback", &["post"]),
    ("/api/v1/executions/{id}/pause", &["post"]),
    ("/api/v1/executions/{id}/resume", &["post"]),
];

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": {
        "schema": { "$ref": "#/components/schemas/Error" } } } })
}

fn ok(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

/// The document.
pub fn spec() -> Value {
    let errors = json!({
        "400": error_response("malformed body"),
        "401": error_response("missing or unknown token"),
        "403": error_response("the token may not write"),
        "404": error_response("not found"),
        "413": error_response("body over the size limit"),
        "422": error_response("a field is invalid; details.fields names each"),
        "503": error_response("timeout or store unavailable"),
    });
    let with = |mut responses: Value| {
        if let (Value::Object(r), Value::Object(e)) = (&mut responses, &errors) {
            for (k, v) in e {
                r.entry(k.clone()).or_insert(v.clone());
            }
        }
        responses
    };
    let config_body = json!({ "required": true, "content": {
        "application/json": { "schema": { "$ref": "#/components/schemas/CanaryConfig" } },
        "application/toml": { "schema": { "type": "string" } },
        "application/yaml": { "schema": { "type": "string" } } } });
    let name = json!({ "name": "name", "in": "path", "required": true,
        "description": "config name (or id)", "schema": { "type": "string" } });
    let id =
        json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "canaryd API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Canary analyses with their verdicts and every number behind them. \
                Errors share one envelope: {\"error\": {\"code\", \"message\", \"details\"}}. \
                Kayenta's dialect (/canaryConfig, /canary, /judges, /health) is served beside this API; see docs/api.md."
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": { "type": "object", "required": ["error"], "properties": { "error": {
                    "type": "object", "required": ["code", "message"], "properties": {
                        "code": { "type": "string" }, "message": { "type": "string" },
                        "details": {} } } } },
                "CanaryConfig": { "type": "object", "description": "canaryd canary config (docs/config.md) or a Kayenta canary config" },
                "Scope": { "type": "object", "required": ["scope"], "additionalProperties": false, "properties": {
                    "scope": { "type": "string", "description": "${scope} in query templates" },
                    "location": { "type": "string" }, "api": { "type": "string" },
                    "params": { "type": "object", "additionalProperties": { "type": "string" } } } },
                "Duration": { "oneOf": [ { "type": "number", "description": "seconds" },
                    { "type": "string", "examples": ["30s", "5m", "1h 30m"] } ] },
                "Time": { "oneOf": [ { "type": "string", "format": "date-time" }, { "type": "number", "description": "unix seconds" } ] },
                "Window": { "oneOf": [
                    { "type": "object", "required": ["mode", "start", "end"], "properties": {
                        "mode": { "const": "retrospective" },
                        "start": { "$ref": "#/components/schemas/Time" }, "end": { "$ref": "#/components/schemas/Time" },
                        "step": { "$ref": "#/components/schemas/Duration" } } },
                    { "type": "object", "required": ["mode", "interval", "max_duration"], "properties": {
                        "mode": { "const": "live" }, "start": { "$ref": "#/components/schemas/Time" },
                        "interval": { "$ref": "#/components/schemas/Duration" },
                        "max_duration": { "$ref": "#/components/schemas/Duration" },
                        "warmup": { "$ref": "#/components/schemas/Duration" },
                        "step": { "$ref": "#/components/schemas/Duration" },
                        "lag": { "$ref": "#/components/schemas/Duration" },
                        "fail_fast": { "type": "boolean" } } } ] },
                "Thresholds": { "type": "object", "required": ["pass", "marginal"], "properties": {
                    "pass": { "type": "number" }, "marginal": { "type": "number" } } },
                "CreateAnalysis": { "type": "object", "required": ["config", "baseline", "canary", "window"],
                    "additionalProperties": false, "properties": {
                    "config": { "oneOf": [ { "type": "string", "description": "stored config name or id" },
                                           { "$ref": "#/components/schemas/CanaryConfig" } ] },
                    "application": { "type": "string" },
                    "baseline": { "$ref": "#/components/schemas/Scope" },
                    "canary": { "$ref": "#/components/schemas/Scope" },
                    "window": { "$ref": "#/components/schemas/Window" },
                    "thresholds": { "$ref": "#/components/schemas/Thresholds" },
                    "scoring": { "enum": ["canaryd", "kayenta"] } } },
                "Analysis": { "type": "object", "properties": {
                    "id": { "type": "string" },
                    "status": { "enum": ["running", "succeeded", "error", "cancelled"] },
                    "verdict": { "enum": ["pass", "marginal", "inconclusive", "fail", null] },
                    "score": { "type": ["number", "null"] },
                    "error": { "type": ["string", "null"] },
                    "queries": { "type": "array", "items": { "type": "string" } },
                    "report": { "description": "the latest report (canaryd.analysis.v1, docs/output.md)" },
                    "planned_intervals": { "type": "integer" }, "judged_intervals": { "type": "integer" },
                    "read_intervals": { "type": "integer", "description": "judged plus those the metric source was down for" },
                    "intervals": { "type": "array", "items": { "type": "object", "properties": {
                        "index": { "type": "integer" }, "at": { "type": "string" },
                        "outcome": { "enum": ["judged", "outage"] },
                        "verdict": {}, "score": {}, "error": {}, "report": {} } } } } },
                "JudgeRequest": { "type": "object", "required": ["config", "pairs"], "properties": {
                    "config": { "oneOf": [ { "type": "string" }, { "$ref": "#/components/schemas/CanaryConfig" } ] },
                    "thresholds": { "$ref": "#/components/schemas/Thresholds" },
                    "scoring": { "enum": ["canaryd", "kayenta"] },
                    "pairs": { "type": "array", "items": { "type": "object", "required": ["metric", "baseline", "canary"],
                        "properties": { "metric": { "type": "string" },
                            "labels": { "type": "object", "additionalProperties": { "type": "string" } },
                            "baseline": { "$ref": "#/components/schemas/InlineSample" },
                            "canary": { "$ref": "#/components/schemas/InlineSample" } } } } } },
                "InlineSample": { "oneOf": [
                    { "type": "array", "items": { "type": ["number", "null"] } },
                    { "type": "object", "required": ["events", "totals"] },
                    { "type": "object", "required": ["bounds", "counts"] } ] },
            }
        },
        "security": [ { "bearer": [] }, {} ],
        "paths": {
            "/api/v1/configs": {
                "get": { "summary": "List configs", "parameters": [ { "name": "application", "in": "query", "schema": { "type": "string" } } ],
                         "responses": with(json!({ "200": ok("configs", json!({ "type": "object" })) })) },
                "post": { "summary": "Store a config (validated; 422 names every problem with line and column)",
                          "requestBody": config_body.clone(),
                          "responses": with(json!({ "201": ok("stored", json!({ "type": "object" })), "409": error_response("name taken") })) } },
            "/api/v1/configs/{name}": {
                "parameters": [name],
                "get": { "summary": "One config with its text", "responses": with(json!({ "200": ok("config", json!({ "type": "object" })) })) },
                "put": { "summary": "Create or replace a config", "requestBody": config_body,
                         "responses": with(json!({ "200": ok("replaced", json!({ "type": "object" })), "201": ok("created", json!({ "type": "object" })) })) },
                "delete": { "summary": "Delete a config", "responses": with(json!({ "204": { "description": "deleted" } })) } },
            "/api/v1/analyses": {
                "get": { "summary": "List analyses, newest first", "parameters": [
                    { "name": "application", "in": "query", "schema": { "type": "string" } },
                    { "name": "status", "in": "query", "schema": { "enum": ["running", "succeeded", "error", "cancelled"] } },
                    { "name": "config", "in": "query", "schema": { "type": "string" } },
                    { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 50 } },
                    { "name": "offset", "in": "query", "schema": { "type": "integer", "minimum": 0, "default": 0 } } ],
                    "responses": with(json!({ "200": ok("a page", json!({ "type": "object", "properties": {
                        "items": { "type": "array" }, "total": { "type": "integer" } } })) })) },
                "post": { "summary": "Start an analysis (retrospective window or live canary)",
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/CreateAnalysis" } } } },
                    "responses": with(json!({ "201": ok("started; Location names it", json!({ "$ref": "#/components/schemas/Analysis" })) })) } },
            "/api/v1/analyses/{id}": {
                "parameters": [id.clone()],
                "get": { "summary": "One analysis: status, verdict, score, per-metric numbers, queries and every interval",
                    "parameters": [ { "name": "intervals", "in": "query", "schema": { "enum": ["summary", "full"] } } ],
                    "responses": with(json!({ "200": ok("the analysis", json!({ "$ref": "#/components/schemas/Analysis" })) })) } },
            "/api/v1/analyses/{id}/cancel": {
                "parameters": [id.clone()],
                "post": { "summary": "Cancel a running analysis",
                    "responses": with(json!({ "200": ok("cancelled", json!({ "$ref": "#/components/schemas/Analysis" })), "409": error_response("already finished") })) } },
            "/api/v1/pipelines": {
                "get": { "summary": "List pipelines (latest versions)", "responses": with(json!({ "200": ok("pipelines", json!({ "type": "object" })) })) },
                "post": { "summary": "Store a pipeline spec (TOML, docs/pipelines.md); every write is a new version",
                    "requestBody": { "required": true, "content": { "application/toml": { "schema": { "type": "string" } } } },
                    "responses": with(json!({ "201": ok("stored", json!({ "type": "object" })) })) } },
            "/api/v1/pipelines/{name}": {
                "parameters": [ { "name": "name", "in": "path", "required": true, "schema": { "type": "string" } } ],
                "get": { "summary": "A pipeline's spec (latest, or ?version=N)",
                    "parameters": [ { "name": "version", "in": "query", "schema": { "type": "integer" } } ],
                    "responses": with(json!({ "200": ok("the spec", json!({ "type": "object" })) })) },
                "put": { "summary": "A new version of the pipeline", "requestBody": { "required": true, "content": { "application/toml": { "schema": { "type": "string" } } } },
                    "responses": with(json!({ "200": ok("stored", json!({ "type": "object" })) })) },
                "delete": { "summary": "Delete every version (refused while an execution runs)",
                    "responses": with(json!({ "204": { "description": "deleted" }, "409": error_response("an execution is running") })) } },
            "/api/v1/pipelines/{name}/executions": {
                "parameters": [ { "name": "name", "in": "path", "required": true, "schema": { "type": "string" } } ],
                "post": { "summary": "Start an execution with the canary's scopes; `not_before` schedules it",
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object",
                        "required": ["baseline", "canary"], "properties": {
                            "baseline": { "$ref": "#/components/schemas/Scope" }, "canary": { "$ref": "#/components/schemas/Scope" },
                            "by": { "type": "string", "minLength": 1 }, "not_before": { "$ref": "#/components/schemas/Time" } } } } } },
                    "responses": with(json!({ "201": ok("started; Location names it", json!({ "type": "object" })) })) } },
            "/api/v1/executions": {
                "get": { "summary": "Executions, newest first", "parameters": [
                    { "name": "pipeline", "in": "query", "schema": { "type": "string" } },
                    { "name": "limit", "in": "query", "schema": { "type": "integer" } },
                    { "name": "offset", "in": "query", "schema": { "type": "integer" } } ],
                    "responses": with(json!({ "200": ok("a page", json!({ "type": "object" })) })) } },
            "/api/v1/executions/{id}": {
                "parameters": [id.clone()],
                "get": { "summary": "An execution: status, state (target, stage, phase, split)", "responses": with(json!({ "200": ok("the execution", json!({ "type": "object" })) })) } },
            "/api/v1/executions/{id}/events": {
                "parameters": [id.clone()],
                "get": { "summary": "Every step: time, target, stage, what, details, split", "responses": with(json!({ "200": ok("events", json!({ "type": "object" })) })) } },
            "/api/v1/executions/{id}/judgment": {
                "parameters": [id.clone()],
                "post": { "summary": "Approve or reject a stage awaiting judgment",
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object",
                        "required": ["decision", "by"], "properties": { "decision": { "enum": ["approve", "reject"] },
                        "by": { "type": "string", "minLength": 1 }, "comment": { "type": "string" } } } } } },
                    "responses": with(json!({ "200": ok("accepted", json!({ "type": "object" })), "409": error_response("no judgment awaited, or not an approver") })) } },
            "/api/v1/executions/{id}/rollback": {
                "parameters": [id.clone()],
                "post": { "summary": "Roll back now", "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["by"], "additionalProperties": false, "properties": { "by": { "type": "string", "minLength": 1 }, "reason": { "type": "string" } } } } } },
                    "responses": with(json!({ "200": ok("rolling back", json!({ "type": "object" })), "409": error_response("not applicable") })) } },
            "/api/v1/executions/{id}/pause": {
                "parameters": [id.clone()],
                "post": { "summary": "Finish the current stage, then wait", "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["by"], "additionalProperties": false, "properties": { "by": { "type": "string", "minLength": 1 }, "reason": { "type": "string" } } } } } },
                    "responses": with(json!({ "200": ok("paused", json!({ "type": "object" })), "409": error_response("not applicable") })) } },
            "/api/v1/executions/{id}/resume": {
                "parameters": [id.clone()],
                "post": { "summary": "Resume a paused execution", "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["by"], "additionalProperties": false, "properties": { "by": { "type": "string", "minLength": 1 }, "reason": { "type": "string" } } } } } },
                    "responses": with(json!({ "200": ok("resumed", json!({ "type": "object" })), "409": error_response("not applicable") })) } },
            "/api/v1/judge": {
                "post": { "summary": "Judge inline data now; the same JSON as `canaryd analyze --format json`",
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/JudgeRequest" } } } },
                    "responses": with(json!({ "200": ok("the report", json!({ "type": "object" })) })) } },
        }
    })
}

pub async fn document() -> Json<Value> {
    Json(spec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_every_route() {
        let doc = spec();
        let paths = doc["paths"].as_object().unwrap();
        assert_eq!(paths.len(), V1_ROUTES.len());
        for (path, methods) in V1_ROUTES {
            let p = paths.get(*path).unwrap_or_else(|| panic!("{path} missing"));
            for m in *methods {
                assert!(p.get(*m).is_some(), "{m} {path} missing");
            }
        }
    }
}
