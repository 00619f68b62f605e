//! Kayenta's REST dialect, so that Spinnaker and Argo Rollouts' Kayenta provider can call
//! canaryd unchanged (shapes in docs/api.md and the Kayenta reference).
//!
//! Account query parameters (`configurationAccountName`, `metricsAccountName`,
//! `storageAccountName`, …) are accepted and ignored. Executions are canaryd analyses
//! over the request's window (retrospective) and read back in Kayenta's status shape.
//! Baseline and canary share one window; the scope named `default` (or the only one) is
//! used for every metric.

use std::collections::BTreeMap;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use canary_judges::Thresholds;
use serde::Deserialize;
use serde_json::{Value, json};

use super::v1::{body_value, find_config, parse_config, resolve_config, start_analysis};
use super::{ApiError, ApiQuery, ApiResult, AppState, Body, parse_json, raw_body};
use crate::analysis::live::{AnalysisRequest, WindowSpec};
use crate::collectors::Scope;
use crate::config::source::Format;
use crate::store::blocking;
use crate::store::{AnalysisStatus, ConfigRecord};
use crate::time::{Seconds, Timestamp};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/canaryConfig", get(list_configs).post(create_config))
        .route(
            "/canaryConfig/{id}",
            get(get_config).put(put_config).delete(delete_config),
        )
        .route("/canary", post(start_with_config))
        .route("/canary/{id}", post(start).get(status))
        .route("/judges", get(judges))
}

/// Query parameters: `application` is read, everything else is ignored.
#[derive(Deserialize)]
struct Params {
    application: Option<String>,
}

pub async fn health() -> Json<Value> {
    Json(json!({ "status": "UP" }))
}

async fn judges() -> Json<Value> {
    Json(json!([
        { "name": "NetflixACAJudge-v1.0", "description": "Mann-Whitney with Kayenta's rules (canaryd mann_whitney)" },
        { "name": "canaryd-sequential", "description": "anytime-valid sequential tests (canaryd sequential)" },
        { "name": "canaryd-threshold", "description": "threshold checks (canaryd threshold)" },
        { "name": "canaryd-band", "description": "short per-interval series against the baseline's robust band (canaryd band)" },
    ]))
}

fn summary(r: &ConfigRecord) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "updatedTimestamp": r.updated_ms,
        "updatedTimestampIso": Timestamp(r.updated_ms as f64 / 1000.0).rfc3339(),
        "applications": r.applications,
    })
}

async fn list_configs(
    State(state): State<AppState>,
    ApiQuery(p): ApiQuery<Params>,
) -> ApiResult<Json<Value>> {
    let list = blocking(&state.store, move |s| {
        s.list_configs(p.application.as_deref())
    })
    .await?;
    Ok(Json(Value::Array(list.iter().map(summary).collect())))
}

async fn get_config(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let rec = config_by_id(&state, &id).await?;
    let mut body = body_value(&rec);
    if let Value::Object(m) = &mut body {
        m.insert("id".into(), json!(rec.id));
    }
    Ok(Json(body))
}

async fn config_by_id(state: &AppState, id: &str) -> ApiResult<ConfigRecord> {
    let key = id.to_string();
    let by_id = blocking(&state.store, move |s| s.get_config(&key)).await?;
    match by_id {
        Some(r) => Ok(r),
        None => find_config(state, id)
            .await?
            .ok_or_else(|| ApiError::not_found("canary config", id)),
    }
}

/// Store a Kayenta config; its id and the warnings about fields canaryd ignored.
async fn store_config(
    state: &AppState,
    id: Option<String>,
    req: Request,
) -> ApiResult<(String, Vec<String>)> {
    let bytes = raw_body(req, state).await?;
    let mut doc: Value = parse_json(&bytes)?;
    // Kayenta's own bookkeeping fields are not part of the config.
    if let Value::Object(m) = &mut doc {
        for k in [
            "id",
            "createdTimestamp",
            "updatedTimestamp",
            "createdTimestampIso",
            "updatedTimestampIso",
        ] {
            m.remove(k);
        }
    }
    let text = doc.to_string();
    let config = parse_config(state, &text, Format::Json, "")?;
    let existing = match &id {
        Some(id) => Some(config_by_id(state, id).await?),
        None => None,
    };
    let name = config.name.clone();
    if let Some(other) = find_config(state, &name).await?
        && existing.as_ref().is_none_or(|e| e.id != other.id)
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("a canary config named `{name}` exists (id {})", other.id),
        ));
    }
    let rec = ConfigRecord::written(
        existing.as_ref(),
        &name,
        &config.applications,
        "json",
        text,
        state.runner.now_ms(),
    );
    let id = rec.id.clone();
    blocking(&state.store, move |s| s.put_config(&rec)).await?;
    for w in &config.warnings {
        tracing::warn!(config = %name, "{w}");
    }
    Ok((id, config.warnings))
}

async fn create_config(State(state): State<AppState>, req: Request) -> ApiResult<Json<Value>> {
    let (id, warnings) = store_config(&state, None, req).await?;
    Ok(Json(json!({ "canaryConfigId": id, "warnings": warnings })))
}

async fn put_config(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<Json<Value>> {
    let (id, warnings) = store_config(&state, Some(id), req).await?;
    Ok(Json(json!({ "canaryConfigId": id, "warnings": warnings })))
}

async fn delete_config(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let rec = config_by_id(&state, &id).await?;
    blocking(&state.store, move |s| s.delete_config(&rec.id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct KayentaScope {
    #[serde(default)]
    scope: String,
    #[serde(default)]
    location: Option<String>,
    start: Timestamp,
    end: Timestamp,
    #[serde(default)]
    step: Option<f64>,
    #[serde(default)]
    extended_scope_params: BTreeMap<String, String>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct ScopePair {
    control_scope: KayentaScope,
    experiment_scope: KayentaScope,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct ExecutionRequest {
    scopes: BTreeMap<String, ScopePair>,
    thresholds: Thresholds,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigAndRequest {
    canary_config: Value,
    execution_request: ExecutionRequest,
}

fn to_request(req: &ExecutionRequest) -> ApiResult<AnalysisRequest> {
    let (name, pair) = match req.scopes.get("default") {
        Some(p) => ("default", p),
        None if req.scopes.len() == 1 => {
            let (k, v) = req.scopes.iter().next().expect("one scope");
            (k.as_str(), v)
        }
        None => {
            return Err(ApiError::invalid(
                "scopes",
                "give one scope pair, named `default` (canaryd judges every metric in one scope)",
            ));
        }
    };
    let (c, e) = (&pair.control_scope, &pair.experiment_scope);
    if c.start != e.start || c.end != e.end {
        return Err(ApiError::invalid(
            &format!("scopes.{name}.controlScope"),
            "canaryd compares baseline and canary over the same window: give both scopes the same start and end",
        ));
    }
    let step = e.step.or(c.step).unwrap_or(60.0);
    let scope = |s: &KayentaScope| {
        let mut params = s.extended_scope_params.clone();
        let api = params.remove("api");
        Scope {
            scope: s.scope.clone(),
            location: s.location.clone().filter(|l| !l.is_empty()),
            api,
            params,
        }
    };
    Ok(AnalysisRequest {
        baseline: scope(c),
        canary: scope(e),
        window: WindowSpec::Retrospective {
            start: e.start,
            end: e.end,
            step: Seconds(step),
        },
        thresholds: Some(req.thresholds),
        scoring: None,
    })
}

async fn start(
    State(state): State<AppState>,
    Path(config_id): Path<String>,
    ApiQuery(p): ApiQuery<Params>,
    Body(req): Body<ExecutionRequest>,
) -> ApiResult<Json<Value>> {
    let rec = config_by_id(&state, &config_id).await?;
    let config = resolve_config(&state, &Value::String(rec.name.clone()), "canaryConfigId").await?;
    let mut request = to_request(&req)?;
    request.scoring = Some(config.0.scoring.unwrap_or(state.kayenta_scoring));
    let a = start_analysis(&state, config, p.application, request, "kayenta").await?;
    Ok(Json(json!({ "canaryExecutionId": a.id })))
}

async fn start_with_config(
    State(state): State<AppState>,
    ApiQuery(p): ApiQuery<Params>,
    Body(body): Body<ConfigAndRequest>,
) -> ApiResult<Json<Value>> {
    let config = resolve_config(&state, &body.canary_config, "canaryConfig").await?;
    let mut request = to_request(&body.execution_request)?;
    request.scoring = Some(config.0.scoring.unwrap_or(state.kayenta_scoring));
    let a = start_analysis(&state, config, p.application, request, "kayenta").await?;
    Ok(Json(json!({ "canaryExecutionId": a.id })))
}

/// A number, or `"NaN"` as Kayenta writes non-finite values.
fn num(v: Option<f64>) -> Value {
    match v {
        Some(x) if x.is_finite() => json!(x),
        _ => json!("NaN"),
    }
}

fn classification(c: &str) -> &'static str {
    match c {
        "pass" => "Pass",
        "high" => "High",
        "low" => "Low",
        "nodata_fail" => "NodataFailMetric",
        "error" => "Error",
        // Kayenta has no "inconclusive": an undecided sequential test is reported as no data.
        _ => "Nodata",
    }
}

fn stats(s: &Value) -> Value {
    json!({ "stats": {
        "count": s.get("count").cloned().unwrap_or(json!(0)),
        "mean": num(s.get("mean").and_then(Value::as_f64)),
        "min": num(s.get("min").and_then(Value::as_f64)),
        "max": num(s.get("max").and_then(Value::as_f64)),
        "std": num(s.get("std").and_then(Value::as_f64)),
    }})
}

/// canaryd's report in Kayenta's `judgeResult` shape.
fn judge_result(report: &Value) -> Value {
    let results: Vec<Value> = report
        .get("metrics")
        .and_then(Value::as_array)
        .map(|ms| {
            ms.iter()
                .enumerate()
                .map(|(i, m)| {
                    let class = m.get("classification").and_then(Value::as_str).unwrap_or("");
                    json!({
                        "name": m.get("metric"),
                        "id": format!("{i}"),
                        "tags": m.get("labels").cloned().unwrap_or(json!({})),
                        "classification": classification(class),
                        "classificationReason": m.get("reason"),
                        "groups": m.get("groups"),
                        "critical": m.get("critical"),
                        "muted": m.get("muted"),
                        "experimentMetadata": stats(m.get("canary").unwrap_or(&Value::Null)),
                        "controlMetadata": stats(m.get("baseline").unwrap_or(&Value::Null)),
                        "resultMetadata": { "ratio": num(m.get("mean_ratio").and_then(Value::as_f64)) },
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let groups: Vec<Value> = report
        .get("groups")
        .and_then(Value::as_array)
        .map(|gs| {
            gs.iter()
                .map(|g| {
                    json!({
                        "name": g.get("name"), "score": num(g.get("score").and_then(Value::as_f64)),
                        "classification": "", "classificationReason": "",
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let verdict = match report.get("verdict").and_then(Value::as_str) {
        Some("pass") => "Pass",
        // Held (capped at the marginal threshold): never a Kayenta "Pass".
        Some("marginal" | "inconclusive") => "Marginal",
        _ => "Fail",
    };
    json!({
        "judgeName": "NetflixACAJudge-v1.0",
        "results": results,
        "groupScores": groups,
        "score": {
            "score": num(report.get("score").and_then(Value::as_f64)),
            "classification": verdict,
            "classificationReason": report.get("reason").cloned().unwrap_or(json!("")),
        },
    })
}

/// ISO 8601 duration of whole seconds.
fn iso_duration(seconds: f64) -> String {
    format!("PT{}S", seconds.round().max(0.0) as i64)
}

async fn status(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let key = id.clone();
    let rec = blocking(&state.store, move |s| s.get_analysis(&key))
        .await?
        .ok_or_else(|| ApiError::not_found("canary execution", &id))?;
    let request: Option<AnalysisRequest> = serde_json::from_value(rec.request.clone()).ok();
    let (start, end) = match request.as_ref().map(|r| &r.window) {
        Some(WindowSpec::Retrospective { start, end, .. }) => (Some(*start), Some(*end)),
        _ => (None, None),
    };
    let (complete, status) = match rec.status {
        AnalysisStatus::Running => (false, "running"),
        AnalysisStatus::Succeeded => (true, "succeeded"),
        AnalysisStatus::Error => (true, "terminal"),
        AnalysisStatus::Cancelled => (true, "canceled"),
    };
    let config = {
        let format = Format::from_name(&rec.config_format).unwrap_or(Format::Json);
        if format == Format::Json {
            serde_json::from_str(&rec.config_body).unwrap_or(Value::Null)
        } else {
            Value::String(rec.config_body.clone())
        }
    };
    let mut body = json!({
        "pipelineId": rec.id,
        "complete": complete,
        "status": status,
        "exception": rec.error.as_ref().filter(|_| rec.status == AnalysisStatus::Error)
            .map(|e| json!({ "message": e, "details": { "error": e } })),
        "config": config,
        "canaryConfigId": rec.config_id,
        "canaryExecutionRequest": rec.request,
        "application": rec.application,
        "startTimeIso": start.map(|t| t.rfc3339()),
        "endTimeIso": end.map(|t| t.rfc3339()),
    });
    if rec.status == AnalysisStatus::Succeeded
        && let Some(report) = &rec.report
    {
        body["result"] = json!({
            "judgeResult": judge_result(report),
            "canaryDuration": start.zip(end).map(|(s, e)| iso_duration(e.0 - s.0)),
        });
        // canaryd's additions: what held the verdict and what in the config was ignored.
        body["warnings"] = report.get("warnings").cloned().unwrap_or(json!([]));
        body["holds"] = report.get("holds").cloned().unwrap_or(json!([]));
        body["scoring"] = report.get("scoring").cloned().unwrap_or(Value::Null);
    }
    Ok(Json(body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_map_onto_judge_results() {
        let report = json!({
            "verdict": "fail", "score": 50.0, "reason": "",
            "groups": [{"name": "latency", "score": 0.0}],
            "metrics": [{"metric": "lat", "labels": {"route": "/a"}, "classification": "high",
                         "reason": "canary slower", "groups": ["latency"], "critical": false,
                         "muted": false, "mean_ratio": null,
                         "baseline": {"count": 3, "mean": 1.0, "std": 0.0, "min": 1.0, "max": 1.0},
                         "canary": {"count": 3, "mean": 2.0, "std": 0.0, "min": 2.0, "max": 2.0}}]
        });
        let r = judge_result(&report);
        assert_eq!(r["score"]["score"], json!(50.0));
        assert_eq!(r["score"]["classification"], "Fail");
        assert_eq!(r["results"][0]["classification"], "High");
        assert_eq!(r["results"][0]["tags"]["route"], "/a");
        assert_eq!(r["results"][0]["resultMetadata"]["ratio"], "NaN");
        assert_eq!(
            r["results"][0]["experimentMetadata"]["stats"]["mean"],
            json!(2.0)
        );
        assert_eq!(iso_duration(1800.0), "PT1800S");
        assert_eq!(classification("inconclusive"), "Nodata");
        assert_eq!(classification("nodata_fail"), "NodataFailMetric");
    }
}
