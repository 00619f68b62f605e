//! canaryd's own API under `/api/v1` (described by `/api/v1/openapi.json`).

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use canary_judges::Thresholds;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ApiError, ApiQuery, ApiResult, AppState, Body, parse_json, raw_body};
use crate::analysis::live::{AnalysisRequest, WindowSpec, new_record};
use crate::collectors::inline::{InlineCollector, InlinePair};
use crate::collectors::{CollectError, Scope};
use crate::config::source::Format;
use crate::config::{CanaryConfig, ConfigError};
use crate::store::blocking;
use crate::store::{AnalysisQuery, AnalysisRecord, AnalysisStatus, ConfigRecord, IntervalRecord};
use crate::time::ms_rfc3339;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/configs", get(list_configs).post(create_config))
        .route(
            "/api/v1/configs/{name}",
            get(get_config).put(put_config).delete(delete_config),
        )
        .route("/api/v1/analyses", get(list_analyses).post(create_analysis))
        .route("/api/v1/analyses/{id}", get(get_analysis))
        .route(
            "/api/v1/analyses/{id}/report.html",
            get(super::ui::api_report),
        )
        .route("/api/v1/analyses/{id}/cancel", post(cancel_analysis))
        .route("/api/v1/judge", post(judge))
}

// ---------------------------------------------------------------- configs

/// Config problems as `(field, message)`, prefixed for where the config sat.
pub fn config_problems(e: &ConfigError, prefix: &str) -> Vec<(String, String)> {
    let issues = e.issues();
    if issues.is_empty() {
        return vec![(prefix.trim_end_matches('.').to_string(), e.to_string())];
    }
    issues
        .iter()
        .map(|i| {
            let at = i
                .pos
                .map(|p| format!(" (line {}, column {})", p.line, p.column))
                .unwrap_or_default();
            (format!("{prefix}{}", i.field), format!("{}{at}", i.message))
        })
        .collect()
}

/// The format of a config body from its Content-Type (JSON by default).
pub(super) fn body_format(headers: &HeaderMap) -> ApiResult<Format> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    Format::from_media_type(ct).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("bodies are JSON, TOML or YAML; got Content-Type `{ct}`"),
        )
    })
}

/// Parse and validate a config body; 422 naming every problem, and when it has more
/// metrics than `limits.max_metrics_per_config` (or would run more Prometheus queries per
/// read than `limits.max_queries_per_read`).
pub fn parse_config(
    state: &AppState,
    text: &str,
    format: Format,
    prefix: &str,
) -> ApiResult<CanaryConfig> {
    let config = CanaryConfig::parse(text, format, "config")
        .map_err(|e| ApiError::invalid_fields(config_problems(&e, prefix)))?;
    let l = &state.limits;
    let n = config.metrics.len();
    if n > l.max_metrics_per_config {
        return Err(ApiError::invalid(
            &format!("{prefix}metrics"),
            format!(
                "{n} metrics; this daemon takes at most {} per config (limits.max_metrics_per_config)",
                l.max_metrics_per_config
            ),
        ));
    }
    let queries: usize = config
        .metrics
        .iter()
        .map(|m| {
            if matches!(m.query, Some(crate::config::query::PromQuery::Ratio { .. })) {
                4
            } else {
                2
            }
        })
        .sum();
    if queries > l.max_queries_per_read {
        return Err(ApiError::invalid(
            &format!("{prefix}metrics"),
            format!(
                "{queries} Prometheus queries per read; this daemon runs at most {} (limits.max_queries_per_read)",
                l.max_queries_per_read
            ),
        ));
    }
    Ok(config)
}

#[derive(Serialize)]
struct ConfigView {
    id: String,
    name: String,
    applications: Vec<String>,
    format: String,
    created: String,
    updated: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<Value>,
}

fn config_view(r: &ConfigRecord, with_body: bool) -> ConfigView {
    ConfigView {
        id: r.id.clone(),
        name: r.name.clone(),
        applications: r.applications.clone(),
        format: r.format.clone(),
        created: ms_rfc3339(r.created_ms),
        updated: ms_rfc3339(r.updated_ms),
        config: with_body.then(|| body_value(r)),
    }
}

/// A stored config body as JSON when it is JSON, else as its text.
pub fn body_value(r: &ConfigRecord) -> Value {
    if r.format == "json" {
        serde_json::from_str(&r.body).unwrap_or_else(|_| Value::String(r.body.clone()))
    } else {
        Value::String(r.body.clone())
    }
}

/// A config by name, or else by id.
pub async fn find_config(state: &AppState, key: &str) -> ApiResult<Option<ConfigRecord>> {
    let k = key.to_string();
    Ok(
        blocking(&state.store, move |s| match s.get_config_by_name(&k)? {
            Some(c) => Ok(Some(c)),
            None => s.get_config(&k),
        })
        .await?,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppFilter {
    application: Option<String>,
}

async fn list_configs(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<AppFilter>,
) -> ApiResult<Json<Value>> {
    let list = blocking(&state.store, move |s| {
        s.list_configs(q.application.as_deref())
    })
    .await?;
    let items: Vec<ConfigView> = list.iter().map(|r| config_view(r, false)).collect();
    Ok(Json(json!({ "items": items })))
}

async fn create_config(State(state): State<AppState>, req: Request) -> ApiResult<Response> {
    let format = body_format(req.headers())?;
    let bytes = raw_body(req, &state).await?;
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "bad_body", "the body is not UTF-8"))?;
    let config = parse_config(&state, &text, format, "")?;
    let rec = ConfigRecord::written(
        None,
        &config.name,
        &config.applications,
        format.name(),
        text,
        state.runner.now_ms(),
    );
    let name = rec.name.clone();
    if find_config(&state, &name).await?.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("a config named `{name}` exists; PUT /api/v1/configs/{name} replaces it"),
        )
        .details(json!({ "field": "name" })));
    }
    let r = rec.clone();
    blocking(&state.store, move |s| s.put_config(&r)).await?;
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/api/v1/configs/{}", super::path_segment(&rec.name)),
        )],
        Json(config_view(&rec, false)),
    )
        .into_response())
}

async fn get_config(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<ConfigView>> {
    let rec = find_config(&state, &name)
        .await?
        .ok_or_else(|| ApiError::not_found("config", &name))?;
    Ok(Json(config_view(&rec, true)))
}

async fn put_config(
    State(state): State<AppState>,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let format = body_format(req.headers())?;
    let bytes = raw_body(req, &state).await?;
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "bad_body", "the body is not UTF-8"))?;
    let config = parse_config(&state, &text, format, "")?;
    let existing = find_config(&state, &name).await?;
    if existing.as_ref().is_none_or(|e| e.name != config.name) && config.name != name {
        return Err(ApiError::invalid(
            "name",
            format!(
                "the body names `{}` but the path names `{name}`",
                config.name
            ),
        ));
    }
    let created = existing.is_none();
    let rec = ConfigRecord::written(
        existing.as_ref(),
        &config.name,
        &config.applications,
        format.name(),
        text,
        state.runner.now_ms(),
    );
    let r = rec.clone();
    blocking(&state.store, move |s| s.put_config(&r)).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(config_view(&rec, false))).into_response())
}

async fn delete_config(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let rec = find_config(&state, &name)
        .await?
        .ok_or_else(|| ApiError::not_found("config", &name))?;
    blocking(&state.store, move |s| s.delete_config(&rec.id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- analyses

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateAnalysis {
    /// A stored config's name (or id), or a config inline (canaryd or Kayenta JSON).
    config: Value,
    #[serde(default)]
    application: Option<String>,
    baseline: Scope,
    canary: Scope,
    window: WindowSpec,
    #[serde(default)]
    thresholds: Option<Thresholds>,
    /// `canaryd` (default) or `kayenta`; overrides the config's `scoring`.
    #[serde(default)]
    scoring: Option<canary_judges::ScoringRules>,
}

/// A config for a new analysis: by reference or inline. (config, stored id, format, text)
pub async fn resolve_config(
    state: &AppState,
    config: &Value,
    field: &str,
) -> ApiResult<(CanaryConfig, Option<String>, Format, String)> {
    match config {
        Value::String(name) => {
            let rec = find_config(state, name).await?.ok_or_else(|| {
                ApiError::invalid(field, format!("no stored config named `{name}`"))
            })?;
            let format = Format::from_name(&rec.format).unwrap_or(Format::Json);
            let config = parse_config(state, &rec.body, format, &format!("{field}."))?;
            Ok((config, Some(rec.id), format, rec.body))
        }
        Value::Object(_) => {
            let text = config.to_string();
            let parsed = parse_config(state, &text, Format::Json, &format!("{field}."))?;
            Ok((parsed, None, Format::Json, text))
        }
        _ => Err(ApiError::invalid(
            field,
            "give a stored config's name or the config itself as an object",
        )),
    }
}

/// Validate, store and start an analysis; the stored record.
pub async fn start_analysis(
    state: &AppState,
    config: (CanaryConfig, Option<String>, Format, String),
    application: Option<String>,
    request: AnalysisRequest,
    dialect: &str,
) -> ApiResult<AnalysisRecord> {
    let (config, config_id, format, body) = config;
    for w in &config.warnings {
        tracing::warn!(config = %config.name, "{w}");
    }
    // Requests are checked by the runner's clock, the one their analyses run on.
    let now = state.runner.now_s();
    let request = AnalysisRequest {
        window: request.window.resolve(now),
        ..request
    };
    request.validate(&config, now).map_err(|problems| {
        ApiError::invalid_fields(problems.into_iter().map(|p| (p.field, p.message)).collect())
    })?;
    let rec = new_record(
        &config,
        config_id,
        format,
        body,
        application,
        &request,
        dialect,
    );
    let r = rec.clone();
    blocking(&state.store, move |s| s.insert_analysis(&r)).await?;
    state.runner.submit(rec.id.clone());
    Ok(rec)
}

async fn create_analysis(
    State(state): State<AppState>,
    Body(body): Body<CreateAnalysis>,
) -> ApiResult<Response> {
    let config = resolve_config(&state, &body.config, "config").await?;
    let request = AnalysisRequest {
        baseline: body.baseline,
        canary: body.canary,
        window: body.window,
        thresholds: body.thresholds,
        scoring: body.scoring,
    };
    let rec = start_analysis(&state, config, body.application, request, "canaryd").await?;
    let view = analysis_view(&rec, &[], false);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/analyses/{}", rec.id))],
        Json(view),
    )
        .into_response())
}

/// The queries an analysis ran, from its latest report.
fn queries_of(report: &Option<Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Some(ms) = report
        .as_ref()
        .and_then(|r| r.get("metrics"))
        .and_then(Value::as_array)
    {
        for m in ms {
            if let Some(q) = m.get("query").and_then(Value::as_str)
                && !out.iter().any(|x| x == q)
            {
                out.push(q.to_string());
            }
        }
    }
    out
}

/// An analysis as the API shows it.
pub fn analysis_view(rec: &AnalysisRecord, intervals: &[IntervalRecord], full: bool) -> Value {
    let planned = serde_json::from_value::<AnalysisRequest>(rec.request.clone())
        .map(|r| r.window.intervals().len())
        .unwrap_or(0);
    let intervals: Vec<Value> = intervals
        .iter()
        .map(|i| {
            let mut v = json!({
                "index": i.index, "at": ms_rfc3339(i.at_ms), "outcome": i.outcome,
                "verdict": i.verdict, "score": i.score, "error": i.error,
            });
            if full {
                v["report"] = i.report.clone().unwrap_or(Value::Null);
            }
            v
        })
        .collect();
    json!({
        "id": rec.id,
        "status": rec.status.as_str(),
        "verdict": rec.verdict,
        "score": rec.score,
        "config": rec.config_name,
        "config_id": rec.config_id,
        "application": rec.application,
        "dialect": rec.dialect,
        "created": ms_rfc3339(rec.created_ms),
        "updated": ms_rfc3339(rec.updated_ms),
        "error": rec.error,
        "request": rec.request,
        "planned_intervals": planned,
        // Intervals read so far (`next_interval`) include those the metric source was down
        // for: judged ones are only those with a verdict.
        "judged_intervals": intervals.iter().filter(|i| i["outcome"] == "judged").count(),
        "read_intervals": rec.next_interval,
        "queries": queries_of(&rec.report),
        "report": rec.report,
        "intervals": intervals,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    application: Option<String>,
    status: Option<String>,
    config: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

async fn list_analyses(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    let status = match &q.status {
        None => None,
        Some(s) => Some(s.parse::<AnalysisStatus>().map_err(|_| {
            ApiError::invalid(
                "status",
                format!("`{s}` is not one of running, succeeded, error, cancelled"),
            )
        })?),
    };
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let query = AnalysisQuery {
        application: q.application,
        status,
        config_name: q.config,
        limit,
        offset: q.offset.unwrap_or(0),
    };
    let offset = query.offset;
    let (items, total) = blocking(&state.store, move |s| s.list_analyses(&query)).await?;
    let items: Vec<Value> = items
        .iter()
        .map(|r| {
            json!({
                "id": r.id, "status": r.status.as_str(), "verdict": r.verdict, "score": r.score,
                "config": r.config_name, "application": r.application, "dialect": r.dialect,
                "created": ms_rfc3339(r.created_ms), "updated": ms_rfc3339(r.updated_ms),
                "error": r.error,
            })
        })
        .collect();
    Ok(Json(
        json!({ "items": items, "total": total, "limit": limit, "offset": offset }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GetQuery {
    /// `full`: every interval's report, not only the latest.
    intervals: Option<String>,
}

async fn get_analysis(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<GetQuery>,
) -> ApiResult<Json<Value>> {
    let full = match q.intervals.as_deref() {
        None | Some("summary") => false,
        Some("full") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "intervals",
                format!("`{other}` is not `summary` or `full`"),
            ));
        }
    };
    let key = id.clone();
    let (rec, intervals) = blocking(&state.store, move |s| {
        let rec = s.get_analysis(&key)?;
        let iv = match &rec {
            Some(_) if full => s.intervals(&key)?,
            Some(_) => s.interval_summaries(&key)?,
            None => Vec::new(),
        };
        Ok::<_, crate::store::StoreError>((rec, iv))
    })
    .await?;
    let rec = rec.ok_or_else(|| ApiError::not_found("analysis", &id))?;
    Ok(Json(analysis_view(&rec, &intervals, full)))
}

async fn cancel_analysis(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let key = id.clone();
    let rec = blocking(&state.store, move |s| s.get_analysis(&key))
        .await?
        .ok_or_else(|| ApiError::not_found("analysis", &id))?;
    if rec.status.is_final() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_final",
            format!("analysis `{id}` is already {}", rec.status.as_str()),
        ));
    }
    let mut rec = rec;
    rec.status = AnalysisStatus::Cancelled;
    rec.updated_ms = state.runner.now_ms();
    rec.error = Some("cancelled by request".into());
    let r = rec.clone();
    let changed = blocking(&state.store, move |s| s.finish_analysis(&r)).await?;
    state.runner.stop(&id);
    if !changed {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_final",
            format!("analysis `{id}` finished meanwhile"),
        ));
    }
    let key = id.clone();
    let intervals = blocking(&state.store, move |s| s.interval_summaries(&key)).await?;
    Ok(Json(analysis_view(&rec, &intervals, false)))
}

// ---------------------------------------------------------------- judge

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JudgeRequest {
    config: Value,
    #[serde(default)]
    thresholds: Option<Thresholds>,
    /// `canaryd` (default) or `kayenta`; overrides the config's `scoring`.
    #[serde(default)]
    scoring: Option<canary_judges::ScoringRules>,
    pairs: Vec<InlinePair>,
}

/// Request thresholds usable for a verdict (422 naming each problem otherwise).
fn thresholds_ok(t: &Thresholds) -> ApiResult<()> {
    let problems = t.problems();
    if problems.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid_fields(
        problems
            .into_iter()
            .map(|(f, m)| (format!("thresholds.{f}"), m))
            .collect(),
    ))
}

async fn judge(
    State(state): State<AppState>,
    Body(body): Body<JudgeRequest>,
) -> ApiResult<Json<Value>> {
    // Judging is CPU and memory heavy: a few at once, the rest refused at once.
    let Ok(_slot) = state.judge_slots.clone().try_acquire_owned() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            format!(
                "{} judge calls are running (limits.max_concurrent_judge); retry shortly",
                state.limits.max_concurrent_judge
            ),
        ));
    };
    if let Some(t) = body.thresholds {
        thresholds_ok(&t)?;
    }
    let (mut config, ..) = resolve_config(&state, &body.config, "config").await?;
    if let Some(rules) = body.scoring {
        config.scoring = Some(rules);
    }
    let pairs = InlineCollector { pairs: body.pairs }
        .read(&config)
        .map_err(|e| match e {
            CollectError::Inline { field, message } => ApiError::invalid(&field, message),
            other => ApiError::internal(other.to_string()),
        })?;
    let thresholds = body.thresholds;
    // The slot goes with the computation, not with the request: a caller that gave up (a
    // request timeout drops this handler) no longer waits, but its judging still counts
    // against the cap until it has stopped — and it stops at the next pair, cancelled by
    // the guard this handler drops.
    let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let _cancel_on_drop = CancelOnDrop(cancel.clone());
    let (slots, all) = (
        state.judge_slots.clone(),
        state.limits.max_concurrent_judge.max(1),
    );
    let answer = tokio::task::spawn_blocking(move || {
        let report = crate::analysis::analyze_unless(&config, &pairs, thresholds, &cancel);
        let value = report.as_ref().map(serde_json::to_value);
        drop((report, pairs));
        drop(_slot);
        // The last heavy call out hands the memory it used back to the system: the
        // allocator would otherwise keep the peak of a burst resident for good.
        if slots.available_permits() == all {
            crate::telemetry::release_free_memory();
        }
        value
    })
    .await
    .map_err(|e| ApiError::internal(format!("judging failed: {e}")))?
    .ok_or_else(|| ApiError::internal("judging was cancelled"))?
    .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Json(answer))
}

/// Sets its flag when dropped: a handler's computations see that the caller is gone.
struct CancelOnDrop(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Parse a JSON body (for handlers that read the body themselves).
pub fn json_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    parse_json(bytes)
}
