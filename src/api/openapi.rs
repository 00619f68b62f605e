//! The OpenAPI 3.1 document of `/api/v1`, served at `/api/v1/openapi.json`.
//!
//! Every request body is described with its content types and an example that the real
//! validators accept (a test parses each one), request schemas are as strict as the
//! validation behind them where JSON Schema can say it (names, scopes, ranges, unknown
//! fields), and responses carry the shapes the handlers build. `scripts/schemathesis.sh`
//! holds the daemon to this document; a test checks that it lists exactly the routes the
//! router serves.

use axum::Json;
use serde_json::{Map, Value, json};

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

/// The example canary config of the document, in TOML (also sent as JSON and YAML).
pub const CONFIG_EXAMPLE_TOML: &str = r#"name = "checkout"
applications = ["checkout"]

[[metrics]]
name = "latency"
series = "latency_ms"
direction = "increase"
query = { kind = "promql", template = 'avg(rate(http_request_duration_seconds_sum{version="${scope}"}[1m]))' }

[[metrics]]
name = "error_rate"
events = "http_errors"
total = "http_requests"
direction = "increase"
critical = true
query = { kind = "ratio", errors = 'http_requests_total{version="${scope}", code=~"5.."}', total = 'http_requests_total{version="${scope}"}' }
"#;

/// The example pipeline spec of the document (TOML).
pub const PIPELINE_EXAMPLE_TOML: &str = r#"name = "shop-web"

[[targets]]
name = "eu-west-1"
router = { kind = "webhook", url = "http://127.0.0.1:9/weights", secret = "change-me" }

[strategy]
kind = "canary"
steps = [5, 100]
analysis = { config = "checkout", duration = "10m", interval = "5m" }
"#;

/// No control characters (Unicode Cc), as `suggest::name_problem` demands of every name.
/// The classes are spelled out (no `\\s`, which regex dialects read differently).
const NO_CONTROL: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$";

/// Somewhere a character that is not white space (Rust's `char::is_whitespace`, which
/// `str::trim` uses), as a blank scope is refused.
const NOT_BLANK: &str = "[^\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";

/// A person or system named by `by`: not blank, no control characters.
const WHO: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000-\\u001f\\u007f-\\u009f]*$";

/// `schema` or `null`: an optional field the server reads `null` in as absent.
fn or_null(schema: Value) -> Value {
    json!({ "oneOf": [schema, { "type": "null" }] })
}

fn name_schema(description: &str) -> Value {
    json!({ "type": "string", "minLength": 1, "maxLength": 200, "pattern": NO_CONTROL,
            "description": description })
}

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": {
        "schema": { "$ref": "#/components/schemas/Error" } } } })
}

fn ok(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The answers every operation may give besides its own: 400/401/403/404/413/422/431/503,
/// and 415 where it takes a body.
fn with_errors(own: Value, takes_body: bool) -> Value {
    let mut r = match own {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut common = vec![
        ("400", "malformed body or query string"),
        ("401", "missing or unknown token"),
        ("403", "the token may not write, or a cross-site request"),
        ("404", "not found"),
        ("422", "a field is invalid; details.fields names each"),
        ("503", "timeout, overloaded or store unavailable"),
    ];
    if takes_body {
        common.push(("413", "body over the size limit"));
        common.push((
            "415",
            "a body without a JSON, TOML or YAML Content-Type (a bodiless call needs none)",
        ));
    }
    for (code, description) in common {
        r.entry(code.to_string())
            .or_insert_with(|| error_response(description));
    }
    // Answered by the HTTP layer before any handler, without a body: a request line and
    // headers over the 8 KiB header buffer (a query string that long).
    r.entry("431".to_string()).or_insert_with(|| {
        json!({ "description": "request line and headers over 8 KiB (a query string that long)" })
    });
    Value::Object(r)
}

fn json_body(schema: Value, example: Value) -> Value {
    json!({ "required": true, "content": { "application/json": {
        "schema": schema, "examples": { "example": { "value": example } } } } })
}

/// The example config as a JSON value.
fn config_example() -> Value {
    let table: toml::Value = toml::from_str(CONFIG_EXAMPLE_TOML).expect("the example parses");
    serde_json::to_value(table).expect("TOML is JSON")
}

fn pipeline_example() -> Value {
    let table: toml::Value = toml::from_str(PIPELINE_EXAMPLE_TOML).expect("the example parses");
    serde_json::to_value(table).expect("TOML is JSON")
}

/// A structured body sent as JSON, TOML or YAML (the same object in each).
fn document_body(schema: Value, example: Value, formats: &[&str]) -> Value {
    let mut content = Map::new();
    for f in formats {
        content.insert(
            (*f).to_string(),
            json!({ "schema": schema, "examples": { "example": { "value": example } } }),
        );
    }
    json!({ "required": true, "content": content })
}

fn decision_body(required: &[&str], properties: Value, example: Value) -> Value {
    json_body(
        json!({ "type": "object", "required": required, "additionalProperties": false,
                "properties": properties }),
        example,
    )
}

fn components() -> Value {
    let router_kinds: Vec<&str> = crate::routers::ROUTER_KINDS
        .iter()
        .map(|(k, _)| *k)
        .collect();
    json!({
        "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
        "schemas": {
            "Error": { "type": "object", "required": ["error"], "properties": { "error": {
                "type": "object", "required": ["code", "message"], "properties": {
                    "code": { "type": "string" }, "message": { "type": "string" },
                    "details": {} } } } },
            "Name": name_schema("a name: 1 to 200 characters, no control characters"),
            "CanaryConfig": {
                "type": "object", "required": ["name", "metrics"],
                "description": "a canaryd canary config (docs/config.md), or a Kayenta canary config (its `metrics` carry `query` and `analysisConfigurations`). JSON Schema cannot state every rule (templates must parse as PromQL, groups must add up, judges must know their settings); 422 names each problem",
                "properties": {
                    "name": schema_ref("Name"),
                    "metrics": { "type": "array", "minItems": 1, "items": {
                        "type": "object", "required": ["name"],
                        "properties": { "name": schema_ref("Name") } } } } },
            "PipelineSpec": {
                "type": "object", "required": ["name", "targets"],
                "description": "a pipeline spec (docs/pipelines.md); 422 names each problem JSON Schema cannot state (stages, windows, router settings, [commands] allow)",
                "properties": {
                    "name": schema_ref("Name"),
                    "targets": { "type": "array", "minItems": 1, "items": {
                        "type": "object", "required": ["name", "router"], "properties": {
                            "name": schema_ref("Name"),
                            "router": { "type": "object", "required": ["kind"], "properties": {
                                "kind": { "enum": router_kinds } } } } } },
                    "strategy": { "type": "object", "required": ["kind"], "properties": {
                        "kind": { "enum": ["canary", "red_black", "rolling_red_black"] } } },
                    "stages": { "type": "array", "items": { "type": "object", "required": ["kind"] } },
                    "on_conflict": { "enum": ["refuse", "queue"] } } },
            "Scope": { "type": "object", "required": ["scope"], "additionalProperties": false, "properties": {
                "scope": { "type": "string", "description": "${scope} in query templates" },
                "location": { "type": ["string", "null"] }, "api": { "type": ["string", "null"] },
                "params": { "type": "object", "additionalProperties": { "type": "string" } } } },
            "ExecutionScope": { "type": "object", "required": ["scope"], "additionalProperties": false, "properties": {
                "scope": { "type": "string", "pattern": NOT_BLANK, "description": "${scope} in query templates; not blank" },
                "location": { "type": ["string", "null"] }, "api": { "type": ["string", "null"] },
                "params": { "type": "object", "additionalProperties": { "type": "string" } } } },
            "Duration": { "oneOf": [
                { "type": "number", "minimum": 0, "maximum": crate::time::MAX_DURATION_S, "description": "seconds" },
                { "type": "string", "examples": ["30s", "5m", "1h 30m"] } ] },
            "Time": { "oneOf": [ { "type": "string", "format": "date-time" },
                { "type": "number", "minimum": crate::time::MIN_TIME_S, "maximum": crate::time::MAX_TIME_S,
                    "description": "unix seconds (a live start at most 31 days ahead)" } ] },
            "Window": { "oneOf": [
                { "type": "object", "required": ["mode", "start", "end"], "additionalProperties": false, "properties": {
                    "mode": { "const": "retrospective" },
                    "start": schema_ref("Time"), "end": schema_ref("Time"),
                    "step": or_null(schema_ref("Duration")) } },
                { "type": "object", "required": ["mode", "interval", "max_duration"], "additionalProperties": false, "properties": {
                    "mode": { "const": "live" }, "start": or_null(schema_ref("Time")),
                    "interval": schema_ref("Duration"), "max_duration": schema_ref("Duration"),
                    "warmup": or_null(schema_ref("Duration")), "step": or_null(schema_ref("Duration")),
                    "lag": or_null(schema_ref("Duration")), "fail_fast": { "type": "boolean" } } } ] },
            "Thresholds": { "type": "object", "required": ["pass", "marginal"], "additionalProperties": false, "properties": {
                "pass": { "type": "number", "minimum": 0, "maximum": 100 },
                "marginal": { "type": "number", "minimum": 0, "maximum": 100 } } },
            "CreateAnalysis": { "type": "object", "required": ["config", "baseline", "canary", "window"],
                "additionalProperties": false, "properties": {
                "config": { "oneOf": [ { "type": "string", "description": "stored config name or id" },
                                       schema_ref("CanaryConfig") ] },
                "application": { "type": ["string", "null"] },
                "baseline": schema_ref("Scope"), "canary": schema_ref("Scope"),
                "window": schema_ref("Window"), "thresholds": or_null(schema_ref("Thresholds")),
                "scoring": { "enum": ["canaryd", "kayenta", null] } } },
            "Analysis": { "type": "object", "required": ["id", "status"], "properties": {
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
            "Config": { "type": "object", "required": ["id", "name", "applications", "format", "created", "updated"], "properties": {
                "id": { "type": "string" }, "name": { "type": "string" },
                "applications": { "type": "array", "items": { "type": "string" } },
                "format": { "enum": ["toml", "json", "yaml"] },
                "created": { "type": "string" }, "updated": { "type": "string" },
                "config": { "description": "the stored config (GET of one config only)" } } },
            "Pipeline": { "type": "object", "required": ["name", "version", "created"], "properties": {
                "name": { "type": "string" }, "version": { "type": "integer", "minimum": 1 },
                "created": { "type": "string" },
                "spec": { "type": "string", "description": "the spec as TOML, secrets shown as ***" } } },
            "Execution": { "type": "object", "required": ["id", "pipeline", "version", "status", "state"], "properties": {
                "id": { "type": "string" }, "pipeline": { "type": "string" },
                "queued": { "type": "string", "description": "present on a 202: why the action waits" },
                "version": { "type": "integer" }, "status": { "type": "string" },
                "trigger": {}, "state": { "type": "object" }, "transitions": { "type": "integer" },
                "created": { "type": "string" }, "updated": { "type": "string" } } },
            "JudgeRequest": { "type": "object", "required": ["config", "pairs"], "additionalProperties": false, "properties": {
                "config": { "oneOf": [ { "type": "string" }, schema_ref("CanaryConfig") ] },
                "thresholds": or_null(schema_ref("Thresholds")),
                "scoring": { "enum": ["canaryd", "kayenta", null] },
                "pairs": { "type": "array", "items": { "type": "object", "required": ["metric", "baseline", "canary"],
                    "additionalProperties": false,
                    "properties": { "metric": { "type": "string" },
                        "labels": { "type": "object", "additionalProperties": { "type": "string" } },
                        "baseline": schema_ref("InlineSample"),
                        "canary": schema_ref("InlineSample") } } } } },
            "InlineSample": { "oneOf": [
                { "type": "array", "items": { "type": ["number", "null"] } },
                { "type": "object", "required": ["events", "totals"], "additionalProperties": false,
                    "description": "per-interval event and total counts, as long as each other; events never above totals",
                    "properties": {
                    "events": { "type": "array", "items": { "type": "number", "minimum": 0 } },
                    "totals": { "type": "array", "items": { "type": "number", "minimum": 0 } } } },
                { "type": "object", "required": ["bounds", "counts"], "additionalProperties": false,
                    "description": "bucket upper bounds in increasing order and the count of each bucket",
                    "properties": {
                    "bounds": { "type": "array", "items": { "type": "number" } },
                    "counts": { "type": "array", "items": { "type": "number", "minimum": 0 } } } } ] },
        }
    })
}

fn id_param() -> Value {
    json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string", "minLength": 1 } })
}

fn name_param(description: &str) -> Value {
    json!({ "name": "name", "in": "path", "required": true, "description": description,
            "schema": { "type": "string", "minLength": 1 } })
}

fn page_params() -> Vec<Value> {
    vec![
        json!({ "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 50 } }),
        json!({ "name": "offset", "in": "query", "schema": { "type": "integer", "minimum": 0, "maximum": 4_294_967_295_u64, "default": 0 } }),
    ]
}

/// Links from an operation's answer to the operations that read what it made (for the
/// stateful phase of API fuzzers, and for readers): `(link, operationId, parameter, from)`.
fn links(list: &[(&str, &str, &str, &str)]) -> Value {
    let mut m = Map::new();
    for (link, op, param, from) in list {
        m.insert(
            (*link).to_string(),
            json!({ "operationId": op, "parameters": { *param: from } }),
        );
    }
    Value::Object(m)
}

fn created(description: &str, schema: Value, links: Value) -> Value {
    let mut r = ok(description, schema);
    r["links"] = links;
    r
}

fn config_paths() -> Value {
    let config_body = document_body(
        schema_ref("CanaryConfig"),
        config_example(),
        &["application/json", "application/toml", "application/yaml"],
    );
    let config_links = links(&[
        ("read", "getConfig", "name", "$response.body#/name"),
        ("replace", "putConfig", "name", "$response.body#/name"),
        ("delete", "deleteConfig", "name", "$response.body#/name"),
    ]);
    json!({
        "/api/v1/configs": {
            "get": { "operationId": "listConfigs", "summary": "List configs",
                "parameters": [ { "name": "application", "in": "query", "schema": { "type": "string" } } ],
                "responses": with_errors(json!({ "200": ok("configs", json!({ "type": "object", "required": ["items"],
                    "properties": { "items": { "type": "array", "items": schema_ref("Config") } } })) }), false) },
            "post": { "operationId": "createConfig",
                "summary": "Store a config (validated; 422 names every problem with line and column)",
                "requestBody": config_body.clone(),
                "responses": with_errors(json!({ "201": created("stored; Location names it", schema_ref("Config"), config_links.clone()),
                    "409": error_response("name taken") }), true) } },
        "/api/v1/configs/{name}": {
            "parameters": [name_param("config name (or id)")],
            "get": { "operationId": "getConfig", "summary": "One config with its text",
                "responses": with_errors(json!({ "200": ok("config", schema_ref("Config")) }), false) },
            "put": { "operationId": "putConfig", "summary": "Create or replace a config", "requestBody": config_body,
                "responses": with_errors(json!({ "200": ok("replaced", schema_ref("Config")),
                    "201": created("created", schema_ref("Config"), config_links) }), true) },
            "delete": { "operationId": "deleteConfig", "summary": "Delete a config",
                "responses": with_errors(json!({ "204": { "description": "deleted" } }), false) } },
    })
}

fn analysis_paths() -> Value {
    let mut list_params = vec![
        json!({ "name": "application", "in": "query", "schema": { "type": "string" } }),
        json!({ "name": "status", "in": "query", "schema": { "enum": ["running", "succeeded", "error", "cancelled"] } }),
        json!({ "name": "config", "in": "query", "schema": { "type": "string" } }),
    ];
    list_params.extend(page_params());
    let example = json!({
        "config": config_example(),
        "baseline": { "scope": "v1" }, "canary": { "scope": "v2" },
        "window": { "mode": "retrospective", "start": "2026-12-01T10:00:00Z",
                    "end": "2026-12-01T10:30:00Z", "step": "1m" } });
    json!({
        "/api/v1/analyses": {
            "get": { "operationId": "listAnalyses", "summary": "List analyses, newest first", "parameters": list_params,
                "responses": with_errors(json!({ "200": ok("a page", json!({ "type": "object",
                    "required": ["items", "total", "limit", "offset"], "properties": {
                    "items": { "type": "array", "items": { "type": "object", "required": ["id", "status"] } },
                    "total": { "type": "integer" }, "limit": { "type": "integer" }, "offset": { "type": "integer" } } })) }), false) },
            "post": { "operationId": "createAnalysis",
                "summary": "Start an analysis (retrospective window or live canary)",
                "requestBody": json_body(schema_ref("CreateAnalysis"), example),
                "responses": with_errors(json!({ "201": created("started; Location names it", schema_ref("Analysis"),
                    links(&[("read", "getAnalysis", "id", "$response.body#/id"),
                            ("cancel", "cancelAnalysis", "id", "$response.body#/id")])) }), true) } },
        "/api/v1/analyses/{id}": {
            "parameters": [id_param()],
            "get": { "operationId": "getAnalysis",
                "summary": "One analysis: status, verdict, score, per-metric numbers, queries and every interval",
                "parameters": [ { "name": "intervals", "in": "query", "schema": { "enum": ["summary", "full"] } } ],
                "responses": with_errors(json!({ "200": ok("the analysis", schema_ref("Analysis")) }), false) } },
        "/api/v1/analyses/{id}/cancel": {
            "parameters": [id_param()],
            "post": { "operationId": "cancelAnalysis", "summary": "Cancel a running analysis (no body)",
                "responses": with_errors(json!({ "200": ok("cancelled", schema_ref("Analysis")),
                    "409": error_response("already finished") }), true) } },
        "/api/v1/judge": {
            "post": { "operationId": "judge",
                "summary": "Judge inline data now; the same JSON as `canaryd analyze --format json`",
                "requestBody": json_body(schema_ref("JudgeRequest"), json!({
                    "config": config_example(),
                    "pairs": [
                        { "metric": "latency", "baseline": [101.0, 99.5, 100.2, 98.7, 100.9, 99.1, 100.4, 101.3],
                          "canary": [100.8, 99.9, 101.1, 98.9, 100.1, 99.6, 100.7, 100.2] },
                        { "metric": "error_rate", "baseline": { "events": [12, 9, 11, 10], "totals": [10000, 9600, 9900, 10100] },
                          "canary": { "events": [11, 10, 9, 12], "totals": [9800, 9700, 10050, 9950] } } ] })),
                "responses": with_errors(json!({ "200": ok("the report", json!({ "type": "object" })) }), true) } },
    })
}

fn pipeline_paths() -> Value {
    let spec_body = document_body(
        schema_ref("PipelineSpec"),
        pipeline_example(),
        &["application/toml", "application/json", "application/yaml"],
    );
    let pipeline_links = links(&[
        ("read", "getPipeline", "name", "$response.body#/name"),
        ("start", "startExecution", "name", "$response.body#/name"),
        ("delete", "deletePipeline", "name", "$response.body#/name"),
    ]);
    let mut exec_params =
        vec![json!({ "name": "pipeline", "in": "query", "schema": { "type": "string" } })];
    exec_params.extend(page_params());
    json!({
        "/api/v1/pipelines": {
            "get": { "operationId": "listPipelines", "summary": "List pipelines (latest versions)",
                "responses": with_errors(json!({ "200": ok("pipelines", json!({ "type": "object", "required": ["items"],
                    "properties": { "items": { "type": "array", "items": schema_ref("Pipeline") } } })) }), false) },
            "post": { "operationId": "storePipeline",
                "summary": "Store a pipeline spec (docs/pipelines.md; TOML, or the same document as JSON or YAML, stored as TOML); every write is a new version",
                "requestBody": spec_body.clone(),
                "responses": with_errors(json!({ "201": created("stored; Location names it", schema_ref("Pipeline"), pipeline_links.clone()) }), true) } },
        "/api/v1/pipelines/{name}": {
            "parameters": [name_param("pipeline name")],
            "get": { "operationId": "getPipeline", "summary": "A pipeline's spec (latest, or ?version=N)",
                "parameters": [ { "name": "version", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 9_223_372_036_854_775_807_i64 } } ],
                "responses": with_errors(json!({ "200": ok("the spec", schema_ref("Pipeline")) }), false) },
            "put": { "operationId": "putPipeline", "summary": "A new version of the pipeline", "requestBody": spec_body,
                "responses": with_errors(json!({ "200": created("stored", schema_ref("Pipeline"), pipeline_links) }), true) },
            "delete": { "operationId": "deletePipeline", "summary": "Delete every version (refused while an execution runs)",
                "responses": with_errors(json!({ "204": { "description": "deleted" },
                    "409": error_response("an execution is running") }), false) } },
        "/api/v1/pipelines/{name}/executions": {
            "parameters": [name_param("pipeline name")],
            "post": { "operationId": "startExecution",
                "summary": "Start an execution with the canary's scopes (two different, not blank); `not_before` schedules it (at most 31 days ahead)",
                "requestBody": json_body(json!({ "type": "object", "additionalProperties": false,
                    "required": ["baseline", "canary"], "properties": {
                        "baseline": schema_ref("ExecutionScope"), "canary": schema_ref("ExecutionScope"),
                        "by": { "oneOf": [ { "type": "string", "maxLength": 200, "pattern": WHO }, { "type": "null" } ] },
                        "not_before": or_null(schema_ref("Time")) } }),
                    json!({ "baseline": { "scope": "v1" }, "canary": { "scope": "v2" }, "by": "ci" })),
                "responses": with_errors(json!({
                    "201": created("started; Location names it", schema_ref("Execution"), links(&[
                        ("read", "getExecution", "id", "$response.body#/id"),
                        ("events", "getExecutionEvents", "id", "$response.body#/id"),
                        ("judge", "judgeExecution", "id", "$response.body#/id"),
                        ("rollback", "rollbackExecution", "id", "$response.body#/id"),
                        ("pause", "pauseExecution", "id", "$response.body#/id"),
                        ("resume", "resumeExecution", "id", "$response.body#/id")])),
                    "409": error_response("a router target is busy (target_busy)") }), true) } },
    })
}

/// The answer of an operator action while the execution is in the middle of a step.
fn queued() -> Value {
    ok(
        "queued: the execution is in the middle of a step (a router retrying, a smoke test); \
         the action applies when the step ends",
        schema_ref("Execution"),
    )
}

fn execution_paths() -> Value {
    let by = json!({ "type": "string", "maxLength": 200, "pattern": WHO });
    let action = |id: &str, summary: &str, done: &str| {
        json!({ "parameters": [id_param()], "post": { "operationId": id, "summary": summary,
            "requestBody": decision_body(&["by"], json!({ "by": by, "reason": { "type": "string" } }),
                json!({ "by": "alice", "reason": "dashboards look wrong" })),
            "responses": with_errors(json!({ "200": ok(done, schema_ref("Execution")),
                "202": queued(),
                "409": error_response("not applicable in the execution's state") }), true) } })
    };
    let mut params =
        vec![json!({ "name": "pipeline", "in": "query", "schema": { "type": "string" } })];
    params.extend(page_params());
    json!({
        "/api/v1/executions": {
            "get": { "operationId": "listExecutions", "summary": "Executions, newest first", "parameters": params,
                "responses": with_errors(json!({ "200": ok("a page", json!({ "type": "object", "required": ["items"],
                    "properties": { "items": { "type": "array", "items": schema_ref("Execution") } } })) }), false) } },
        "/api/v1/executions/{id}": {
            "parameters": [id_param()],
            "get": { "operationId": "getExecution", "summary": "An execution: status, state (target, stage, phase, split)",
                "responses": with_errors(json!({ "200": ok("the execution", schema_ref("Execution")) }), false) } },
        "/api/v1/executions/{id}/events": {
            "parameters": [id_param()],
            "get": { "operationId": "getExecutionEvents", "summary": "Every step: time, target, stage, what, details, split",
                "responses": with_errors(json!({ "200": ok("events", json!({ "type": "object", "required": ["items"],
                    "properties": { "items": { "type": "array" } } })) }), false) } },
        "/api/v1/executions/{id}/judgment": {
            "parameters": [id_param()],
            "post": { "operationId": "judgeExecution", "summary": "Approve or reject a stage awaiting judgment",
                "requestBody": decision_body(&["decision", "by"], json!({ "decision": { "enum": ["approve", "reject"] },
                    "by": by, "comment": { "type": "string" } }),
                    json!({ "decision": "approve", "by": "alice", "comment": "dashboards are fine" })),
                "responses": with_errors(json!({ "200": ok("accepted", schema_ref("Execution")),
                    "202": queued(),
                    "409": error_response("no judgment awaited, or not an approver") }), true) } },
        "/api/v1/executions/{id}/rollback": action("rollbackExecution", "Roll back now", "rolling back"),
        "/api/v1/executions/{id}/pause": action("pauseExecution", "Finish the current stage, then wait", "paused"),
        "/api/v1/executions/{id}/resume": action("resumeExecution", "Resume a paused execution", "resumed"),
    })
}

/// The document.
pub fn spec() -> Value {
    let mut paths = Map::new();
    for part in [
        config_paths(),
        analysis_paths(),
        pipeline_paths(),
        execution_paths(),
    ] {
        if let Value::Object(m) = part {
            paths.extend(m);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "canaryd API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Canary analyses with their verdicts and every number behind them. \
                Errors share one envelope: {\"error\": {\"code\", \"message\", \"details\"}}. \
                A call with a body needs a JSON, TOML or YAML Content-Type (415 otherwise). \
                Kayenta's dialect (/canaryConfig, /canary, /judges, /health) is served beside this API; see docs/api.md."
        },
        "components": components(),
        "security": [ { "bearer": [] }, {} ],
        "paths": paths,
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

    /// Characters the patterns must judge as the server does: every one up to U+3100 (all
    /// of Unicode's white space and the C0/C1 controls lie below) and a few far ones.
    fn chars() -> impl Iterator<Item = char> {
        (0u32..0x3100)
            .chain([0xfeff, 0xfffd, 0x1f600, 0x10ffff])
            .filter_map(char::from_u32)
    }

    #[test]
    fn name_and_by_patterns_agree_with_the_server_checks() {
        let no_control = regex::Regex::new(NO_CONTROL).unwrap();
        let not_blank = regex::Regex::new(NOT_BLANK).unwrap();
        let who = regex::Regex::new(WHO).unwrap();
        let server_takes_by = |s: &str| super::super::pipelines::who(s).is_ok();
        for c in chars() {
            let one = c.to_string();
            assert_eq!(
                no_control.is_match(&one),
                crate::suggest::name_problem(&one).is_none(),
                "NO_CONTROL on U+{:04X}",
                c as u32
            );
            assert_eq!(
                not_blank.is_match(&one),
                !one.trim().is_empty(),
                "NOT_BLANK on U+{:04X}",
                c as u32
            );
            for s in [
                one.clone(),
                format!(" {c} "),
                format!("al{c}ce"),
                format!("{c}{c}"),
            ] {
                assert_eq!(
                    who.is_match(&s),
                    server_takes_by(&s),
                    "WHO on {s:?} (U+{:04X})",
                    c as u32
                );
            }
        }
    }
}
