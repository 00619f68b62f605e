//! The daemon's HTTP API (axum): canaryd's own API under `/api/v1` ([`v1`]), Kayenta's
//! REST dialect at the root ([`kayenta`]), `/metrics`, `/healthz` and `/readyz`.
//!
//! Rules every endpoint shares:
//! - one error envelope, `{"error": {"code", "message", "details"}}`; bad input is a 4xx
//!   that names the field, never a 500;
//! - bodies over the size limit are refused (413), requests over the time limit end in 503;
//! - when tokens are configured, GETs need a token with the `read` or `write` role and
//!   every other method one with `write` (`Authorization: Bearer …`); health, readiness,
//!   `/metrics` and the OpenAPI document stay open;
//! - the API reads the store and submits work to the runner; it never queries metric
//!   sources itself.

pub mod kayenta;
pub mod openapi;
pub mod pipelines;
pub mod ui;
pub mod v1;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::analysis::live::Runner;
use crate::secret::Secret;
use crate::store::blocking;
use crate::store::{Store, StoreError};
use crate::telemetry::{HttpLabels, Telemetry};

/// A token's permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Read,
    Write,
}

/// A configured API token.
#[derive(Debug, Clone)]
pub struct Token {
    pub name: String,
    pub role: Role,
    pub secret: Secret,
}

/// HTTP limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub body_bytes: usize,
    pub request_timeout: Duration,
    /// Requests handled at once; more are refused with 503 `overloaded` at once, so an
    /// overload costs neither memory nor latency for the requests already admitted.
    pub max_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes: 1 << 20,
            request_timeout: Duration::from_secs(30),
            max_in_flight: 256,
        }
    }
}

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub runner: Arc<Runner>,
    pub pipelines: Arc<crate::pipeline::runner::PipelineRunner>,
    pub telemetry: Arc<Telemetry>,
    pub tokens: Arc<Vec<Token>>,
    /// Scoring rules of Kayenta-dialect analyses whose config names none (`[kayenta]
    /// scoring` in the daemon config; canaryd's by default).
    pub kayenta_scoring: canary_judges::ScoringRules,
    /// Origins (`https://spinnaker.example.com`) whose pages may send mutating requests
    /// (`http.allowed_origins`); same-origin requests always may.
    pub allowed_origins: Arc<Vec<String>>,
    /// The key of CSRF values when no tokens are configured (random per start).
    pub ui_secret: Arc<String>,
    /// The web UI's sign-in sessions.
    pub sessions: Arc<ui::Sessions>,
    /// Mark the session cookie `Secure` (`http.secure_cookies`: behind a TLS proxy).
    pub secure_cookies: bool,
    /// What one request may make the daemon do (`[limits]` of the daemon config).
    pub limits: RequestLimits,
    /// Slots of `/api/v1/judge` (CPU and memory heavy): `limits.max_concurrent_judge`.
    pub judge_slots: Arc<tokio::sync::Semaphore>,
    /// The last `/readyz` probe of the store and when it ran: the store is written at most
    /// once per [`READY_PROBE_EVERY`], however often `/readyz` is called.
    pub ready_probe: Arc<tokio::sync::Mutex<Option<ReadyProbe>>>,
}

/// A `/readyz` probe of the store: when it ran and what it found.
pub type ReadyProbe = (std::time::Instant, Result<(), String>);

/// How long a `/readyz` probe of the store stands.
pub const READY_PROBE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// An error answer: status, machine-readable code, message and details.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Value::Null,
        }
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no {what} `{id}`"),
        )
        .details(json!({ "id": id }))
    }

    /// A 422 naming one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            format!("{field}: {message}"),
        )
        .details(json!({ "fields": [{ "field": field, "message": message }] }))
    }

    /// A 422 naming several fields.
    pub fn invalid_fields(fields: Vec<(String, String)>) -> Self {
        let message = fields
            .iter()
            .map(|(f, m)| format!("{f}: {m}"))
            .collect::<Vec<_>>()
            .join("; ");
        let list: Vec<Value> = fields
            .iter()
            .map(|(f, m)| json!({ "field": f, "message": m }))
            .collect();
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message)
            .details(json!({ "fields": list }))
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("not found: {what}"),
            ),
            StoreError::Conflict(what) => ApiError::new(StatusCode::CONFLICT, "conflict", what),
            StoreError::Backend(m) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                format!("the store failed: {m}"),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": {
            "code": self.code, "message": self.message, "details": self.details,
        }});
        let mut r = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Bounds on the work one request may cause (the daemon config's `[limits]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    pub max_metrics_per_config: usize,
    pub max_queries_per_read: usize,
    pub max_concurrent_judge: usize,
}

/// A query string whose errors are answered in the error envelope (400 `bad_query`):
/// unknown or duplicate parameters, values of the wrong type.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(query)
            .map(ApiQuery)
            .map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_query",
                    format!("the query string is not valid here: {e}"),
                )
            })
    }
}

/// `s` as one path segment of a URL (`Location` headers, links): everything but
/// unreserved characters percent-encoded.
pub fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A JSON body whose errors name the field (`baseline.scope: missing field`).
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = raw_body(req, state).await?;
        parse_json(&bytes).map(Body)
    }
}

/// The request body, with a size-limit refusal as an envelope.
pub async fn raw_body<S: Send + Sync>(req: Request, state: &S) -> ApiResult<axum::body::Bytes> {
    axum::body::Bytes::from_request(req, state)
        .await
        .map_err(|e| {
            let status = e.status();
            let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "body_too_large"
            } else {
                "bad_body"
            };
            ApiError::new(status, code, e.body_text())
        })
}

/// Parse JSON, naming the failing field — every unknown field at once, each with the
/// closest known name when one is close, so a body with three typos is fixed in one round.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    if bytes.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_body",
            "the request needs a JSON body",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let first = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    if first.inner().is_syntax() || first.inner().is_eof() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            format!("the body is not valid JSON: {}", first.inner()),
        ));
    }
    let mut problems = vec![field_problem(&first)];
    // Unknown fields: drop each and read again, to name the next (at most 20 in all).
    if let Ok(mut doc) = serde_json::from_slice::<Value>(bytes) {
        let mut last = first;
        while problems.len() < 20 && remove_unknown(&mut doc, &last) {
            match serde_path_to_error::deserialize::<_, T>(doc.clone()) {
                Ok(_) => break,
                Err(e) => {
                    problems.push(field_problem(&e));
                    last = e;
                }
            }
        }
    }
    problems.dedup();
    // A field missing because it was misspelt is the typo's problem, already named with
    // its correction: `scop` (did you mean `scope`?) needs no "missing field `scope`".
    let suggested: Vec<String> = problems
        .iter()
        .filter_map(|(_, m)| m.rsplit_once("did you mean `"))
        .map(|(_, s)| s.trim_end_matches("`?").to_string())
        .collect();
    problems.retain(|(_, m)| {
        !m.strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
            .is_some_and(|f| suggested.iter().any(|s| s == f))
    });
    Err(ApiError::invalid_fields(problems))
}

/// The field an error belongs to and its message, with a did-you-mean for unknown fields.
fn field_problem<E: std::fmt::Display>(e: &serde_path_to_error::Error<E>) -> (String, String) {
    let field = e.path().to_string();
    let message = e.inner().to_string();
    // "missing field `x`" belongs to `x`, not to the object that lacks it.
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|m| m.split('`').next());
    let field = match (field.as_str(), missing) {
        (".", Some(m)) => m.to_string(),
        (".", None) => "body".to_string(),
        (p, Some(m)) => format!("{p}.{m}"),
        (p, None) => p.to_string(),
    };
    let hint = unknown_field(&message)
        .map(|(name, expected)| crate::suggest::hint(name, expected))
        .unwrap_or_default();
    (field, format!("{message}{hint}"))
}

/// `unknown field `x`, expected one of `a`, `b``: the field and the known names.
fn unknown_field(message: &str) -> Option<(&str, Vec<&str>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (name, rest) = rest.split_once('`')?;
    let expected = rest.split('`').skip(1).step_by(2).collect::<Vec<_>>();
    Some((name, expected))
}

/// Remove the unknown field an error names from `doc`; false when it is not one.
fn remove_unknown<E: std::fmt::Display>(
    doc: &mut Value,
    e: &serde_path_to_error::Error<E>,
) -> bool {
    use serde_path_to_error::Segment;
    let Some(name) = unknown_field(&e.inner().to_string()).map(|(n, _)| n.to_string()) else {
        return false;
    };
    let mut segments: Vec<&Segment> = e.path().iter().collect();
    if matches!(segments.last(), Some(Segment::Map { key }) if *key == name) {
        segments.pop();
    }
    // A JSON pointer to the object holding the field (RFC 6901 escapes).
    let mut pointer = String::new();
    for seg in segments {
        match seg {
            Segment::Map { key } => {
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    match doc.pointer_mut(&pointer) {
        Some(Value::Object(o)) => o.remove(&name).is_some(),
        _ => false,
    }
}

/// Build the whole router.
pub fn router(state: AppState, limits: Limits) -> Router {
    let open = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/health", get(kayenta::health))
        .route("/api/v1/openapi.json", get(openapi::document))
        // The web UI checks the same tokens itself (a sign-in cookie instead of a header).
        .merge(ui::routes());
    let guarded = v1::routes()
        .merge(pipelines::routes())
        .merge(kayenta::routes())
        .route_layer(middleware::from_fn(body_type))
        .layer(middleware::from_fn_with_state(state.clone(), authorize));
    // A route layer runs after routing, so the matched route names the metric series.
    open.merge(guarded)
        .route_layer(middleware::from_fn_with_state(
            (
                state.clone(),
                limits.request_timeout,
                Arc::new(tokio::sync::Semaphore::new(limits.max_in_flight.max(1))),
            ),
            observe,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}

/// Admission (at most `max_in_flight` at once), time limit, request-duration metrics and
/// a log line per request.
async fn observe(
    State((state, timeout, in_flight)): State<(AppState, Duration, Arc<tokio::sync::Semaphore>)>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let path = req.uri().path().to_string();
    // Refusals are requests too: an operator must see the daemon shedding load, so they
    // are observed below like every answer.
    let response = match in_flight.try_acquire() {
        Err(_) => {
            let mut r = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "too many requests in flight; retry shortly",
            )
            .into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        Ok(_permit) => match tokio::time::timeout(timeout, next.run(req)).await {
            Ok(r) => r,
            Err(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                format!("the request took longer than {} s", timeout.as_secs_f64()),
            )
            .into_response(),
        },
    };
    let seconds = started.elapsed().as_secs_f64();
    state
        .telemetry
        .http_seconds
        .get_or_create(&HttpLabels {
            method: method.to_string(),
            route,
            status: response.status().as_u16().to_string(),
        })
        .observe(seconds);
    tracing::debug!(%method, path, status = response.status().as_u16(), ms = seconds * 1000.0, "request");
    response
}

/// Equal in constant time for equal lengths.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Is `host` (a `Host` header or an origin's authority, with or without a port) this
/// machine's loopback?
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, p)| {
            if p.chars().all(|c| c.is_ascii_digit()) {
                h
            } else {
                host
            }
        }),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The authority (`host[:port]`) of an origin such as `https://deploy.example.com:8443`.
fn origin_authority(origin: &str) -> &str {
    origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .trim_end_matches('/')
}

/// Cross-site and rebinding defences, before any handler runs (docs/security.md):
/// - with no tokens configured, only a loopback `Host` is served (a DNS-rebinding page
///   cannot reach an open daemon under its own name);
/// - a mutating request from a browser page must be same-origin (its `Origin` names the
///   `Host` it was sent to) or from a configured origin (`http.allowed_origins`);
/// - a mutating API call must say its body is JSON, TOML or YAML ([`body_type`], after
///   routing); the web UI's form posts carry a CSRF token instead.
async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if state.tokens.is_empty() && !is_loopback_host(host) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "host_not_allowed",
            format!(
                "no API tokens are configured, so canaryd answers only requests to a loopback \
                 address, not to `{host}`; configure [[tokens]] to serve other names"
            ),
        )
        .into_response();
    }
    let mutating = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !mutating {
        return next.run(req).await;
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if let Some(origin) = origin {
        let allowed = state.allowed_origins.iter().any(|o| {
            o.trim_end_matches('/')
                .eq_ignore_ascii_case(origin.trim_end_matches('/'))
        });
        let same_origin = origin_authority(origin).eq_ignore_ascii_case(host);
        if !allowed && !same_origin {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "cross_origin",
                format!(
                    "a request from the page at `{origin}` may not change anything here; \
                     list the origin in the daemon's http.allowed_origins if it should"
                ),
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// Whether a request carries no body: neither a length above 0 nor a chunked one.
fn bodiless(headers: &axum::http::HeaderMap) -> bool {
    headers.get(header::TRANSFER_ENCODING).is_none()
        && headers
            .get(header::CONTENT_LENGTH)
            .is_none_or(|v| v.as_bytes() == b"0")
}

/// A mutating API call with a body must say the body is JSON, TOML or YAML: a web page
/// can send `text/plain` or a form without asking (no CORS preflight), never those. A call
/// without a body (`…/cancel`) needs no Content-Type; a browser sending one cross-site is
/// stopped by the `Origin` check of [`guard`]. A route layer: it runs once the route and
/// method matched, so a method no route serves answers 405, not 415.
async fn body_type(req: Request, next: Next) -> Response {
    let headers = req.headers();
    if matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH) {
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let typed = crate::config::source::Format::from_media_type(ct).is_some();
        if !(typed || ct.is_empty() && bodiless(headers)) {
            return ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!(
                    "a {} needs a JSON, TOML or YAML body with its Content-Type (got `{}`)",
                    req.method(),
                    if ct.is_empty() { "none" } else { ct }
                ),
            )
            .into_response();
        }
    }
    next.run(req).await
}

async fn authorize(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if state.tokens.is_empty() {
        return next.run(req).await;
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(presented) = presented else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this endpoint needs `Authorization: Bearer <token>`",
        )
        .into_response();
    };
    let token = state
        .tokens
        .iter()
        .find(|t| same(t.secret.expose().as_bytes(), presented.as_bytes()));
    let Some(token) = token else {
        return ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "unknown token")
            .into_response();
    };
    let reading = matches!(*req.method(), Method::GET | Method::HEAD);
    if !reading && token.role != Role::Write {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("token `{}` may read but not write", token.name),
        )
        .into_response();
    }
    next.run(req).await
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Response {
    // One probe at a time, and at most one a second: callers in between get its answer
    // (an unauthenticated endpoint must not be a way to make the daemon write).
    let mut last = state.ready_probe.lock().await;
    let probe = match last.as_ref() {
        Some((at, result)) if at.elapsed() < READY_PROBE_EVERY => result.clone(),
        _ => {
            let now = crate::time::now_ms();
            let result = blocking(&state.store, move |s| {
                s.ping()
                    .map_err(|e| format!("the store is not reachable: {e}"))?;
                s.ping_write(now)
                    .map_err(|e| format!("the store cannot be written: {e}"))
            })
            .await;
            *last = Some((std::time::Instant::now(), result.clone()));
            result
        }
    };
    drop(last);
    match probe {
        Ok(()) => Json(json!({ "status": "ready" })).into_response(),
        Err(e) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", e).into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    match blocking(&state.store, |s| s.count_by_status()).await {
        Ok(counts) => {
            let counts: Vec<(String, Option<String>, u64)> = counts
                .into_iter()
                .map(|(s, v, n)| (s.as_str().to_string(), v, n))
                .collect();
            state.telemetry.set_analysis_counts(&counts);
        }
        Err(e) => tracing::warn!(error = %e, "cannot count analyses for /metrics"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.telemetry.encode(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Window {
        interval: String,
        max_duration: String,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        config: String,
        baseline: String,
        window: Window,
    }

    fn problems(body: &str) -> Vec<(String, String)> {
        let e = parse_json::<Body>(body.as_bytes()).expect_err("refused");
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{e:?}");
        e.details["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .map(|f| {
                (
                    f["field"].as_str().unwrap_or("").to_string(),
                    f["message"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn every_unknown_field_is_named_with_the_closest_known_name() {
        let p = problems(
            r#"{"config": "c", "baselin": "v1", "baseline": "v1",
                "window": {"intervall": "1m", "interval": "1m", "max_duration": "5m"}}"#,
        );
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].1.contains("`baselin`") && p[0].1.ends_with("did you mean `baseline`?"),
            "{p:?}"
        );
        assert_eq!(p[1].0, "window.intervall", "{p:?}");
        assert!(p[1].1.contains("did you mean `interval`?"), "{p:?}");
        // A body without unknown fields but a missing one names it.
        let p = problems(r#"{"config": "c", "window": {"interval": "1m", "max_duration": "5m"}}"#);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "baseline");
        assert!(p[0].1.starts_with("missing field `baseline`"), "{p:?}");
    }
}
