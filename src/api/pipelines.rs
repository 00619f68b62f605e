//! `/api/v1/pipelines` and `/api/v1/executions`: versioned pipeline specs, triggering
//! executions, their state and event log, and operators' decisions (judgment, rollback,
//! pause, resume), which go to the pipeline runner.

use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiQuery, ApiResult, AppState, Body, raw_body};
use crate::collectors::Scope;
use crate::pipeline::runner::{OperatorAction, StartError, Submitted, Trigger};
use crate::pipeline::spec::Pipeline;
use crate::store::blocking;
use crate::store::{ExecutionRecord, PipelineRecord};
use crate::time::Timestamp;
use crate::time::ms_rfc3339 as iso;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/pipelines", get(list).post(create))
        .route(
            "/api/v1/pipelines/{name}",
            get(one).put(replace).delete(remove),
        )
        .route("/api/v1/pipelines/{name}/executions", post(trigger))
        .route("/api/v1/executions", get(executions))
        .route("/api/v1/executions/{id}", get(execution))
        .route("/api/v1/executions/{id}/events", get(events))
        .route("/api/v1/executions/{id}/judgment", post(judgment))
        .route("/api/v1/executions/{id}/rollback", post(rollback))
        .route("/api/v1/executions/{id}/pause", post(pause))
        .route("/api/v1/executions/{id}/resume", post(resume))
}

fn pipeline_view(r: &PipelineRecord, with_body: bool) -> Value {
    let mut v = json!({ "name": r.name, "version": r.version, "created": iso(r.created_ms) });
    if with_body {
        v["spec"] = Value::String(crate::pipeline::spec::redacted_spec(&r.body));
    }
    v
}

fn execution_view(r: &ExecutionRecord) -> Value {
    json!({
        "id": r.id, "pipeline": r.pipeline, "version": r.version, "status": r.status,
        "trigger": r.trigger, "state": r.state, "transitions": r.seq,
        "created": iso(r.created_ms), "updated": iso(r.updated_ms),
    })
}

async fn store_spec(
    state: &AppState,
    name: Option<&str>,
    req: Request,
) -> ApiResult<PipelineRecord> {
    let format = super::v1::body_format(req.headers())?;
    let bytes = raw_body(req, state).await?;
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "bad_body", "the body is not UTF-8"))?;
    let spec = Pipeline::parse_as(&text, format, "pipeline").map_err(|problems| {
        ApiError::invalid_fields(
            problems
                .into_iter()
                .map(|p| {
                    // "pipeline:L:C: field: message" or "pipeline: field: message"
                    let rest = p.trim_start_matches("pipeline").trim_start_matches(':');
                    // A parse error carries `line:column:` before the field.
                    let (at, rest) = match rest.split_once(": ") {
                        Some((pos, r)) if pos.split(':').all(|n| n.parse::<u32>().is_ok()) => {
                            (format!(" (line:column {pos})"), r)
                        }
                        _ => (String::new(), rest),
                    };
                    match rest.trim().split_once(": ") {
                        Some((field, message)) => (field.to_string(), format!("{message}{at}")),
                        None => ("spec".to_string(), format!("{}{at}", rest.trim())),
                    }
                })
                .collect(),
        )
    })?;
    let refused = spec.disallowed_programs(state.pipelines.allowed_commands());
    if !refused.is_empty() {
        return Err(ApiError::invalid_fields(refused));
    }
    if let Some(n) = name
        && n != spec.name
    {
        return Err(ApiError::invalid(
            "name",
            format!("the spec names `{}` but the path names `{n}`", spec.name),
        ));
    }
    // Stored (and shown, and read by the runner) as TOML, whatever it was sent as.
    let text = crate::pipeline::spec::as_toml(&text, format).ok_or_else(|| {
        ApiError::invalid("spec", "the document has no TOML form (a null value?)")
    })?;
    let name = spec.name.clone();
    let at = state.pipelines.now_ms();
    Ok(blocking(&state.store, move |s| s.put_pipeline(&name, &text, at)).await?)
}

async fn create(State(state): State<AppState>, req: Request) -> ApiResult<Response> {
    let rec = store_spec(&state, None, req).await?;
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/api/v1/pipelines/{}", super::path_segment(&rec.name)),
        )],
        Json(pipeline_view(&rec, false)),
    )
        .into_response())
}

async fn replace(
    State(state): State<AppState>,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<Json<Value>> {
    let rec = store_spec(&state, Some(&name), req).await?;
    Ok(Json(pipeline_view(&rec, false)))
}

async fn list(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let all = blocking(&state.store, |s| s.list_pipelines()).await?;
    Ok(Json(
        json!({ "items": all.iter().map(|r| pipeline_view(r, false)).collect::<Vec<_>>() }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionQuery {
    version: Option<i64>,
}

async fn one(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<VersionQuery>,
) -> ApiResult<Json<Value>> {
    let key = name.clone();
    let rec = blocking(&state.store, move |s| s.get_pipeline(&key, q.version))
        .await?
        .ok_or_else(|| ApiError::not_found("pipeline", &name))?;
    Ok(Json(pipeline_view(&rec, true)))
}

async fn remove(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<StatusCode> {
    let key = name.clone();
    if blocking(&state.store, move |s| s.delete_pipeline(&key)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("pipeline", &name))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TriggerBody {
    baseline: Scope,
    canary: Scope,
    #[serde(default)]
    by: Option<String>,
    /// Scheduled start.
    #[serde(default)]
    not_before: Option<Timestamp>,
}

async fn trigger(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<TriggerBody>,
) -> ApiResult<Response> {
    // An execution moves real traffic: it must say what it compares and who started it.
    for (side, scope) in [("baseline", &body.baseline), ("canary", &body.canary)] {
        if scope.scope.trim().is_empty() {
            return Err(ApiError::invalid(
                &format!("{side}.scope"),
                "name the scope (the version or server group) the analyses read",
            ));
        }
    }
    if body.baseline == body.canary {
        return Err(ApiError::invalid(
            "canary",
            "the canary and the baseline are the same scope: nothing would be compared",
        ));
    }
    if let Some(by) = &body.by {
        who(by)?;
    }
    if let Some(t) = body.not_before
        && t.0 > state.pipelines.now_s() + crate::time::MAX_AHEAD_S
    {
        return Err(ApiError::invalid(
            "not_before",
            format!(
                "may be at most {} days ahead, got {}",
                crate::time::MAX_AHEAD_S / 86_400.0,
                t.rfc3339()
            ),
        ));
    }
    let t = Trigger {
        baseline: body.baseline,
        canary: body.canary,
        by: body.by,
        not_before: body.not_before.map(|t| t.0),
    };
    let rec = state
        .pipelines
        .start_execution(&name, t)
        .await
        .map_err(|e| match e {
            StartError::NoPipeline(_) => ApiError::not_found("pipeline", &name),
            StartError::Invalid(m) => ApiError::invalid("pipeline", m),
            StartError::Conflict {
                ref target,
                ref router,
                ref execution,
                ref pipeline,
            } => {
                let mut err = ApiError::new(StatusCode::CONFLICT, "target_busy", e.to_string());
                err.details = json!({
                    "target": target, "router": router,
                    "execution": execution, "pipeline": pipeline,
                });
                err
            }
            // A full or read-only store is the documented 503, not a bug.
            StartError::Store(m) => crate::store::StoreError::Backend(m).into(),
        })?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/executions/{}", rec.id))],
        Json(execution_view(&rec)),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecutionsQuery {
    pipeline: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

async fn executions(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ExecutionsQuery>,
) -> ApiResult<Json<Value>> {
    let (limit, offset) = (q.limit.unwrap_or(50), q.offset.unwrap_or(0));
    if limit == 0 || limit > 1000 {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let (items, total) = blocking(&state.store, move |s| {
        s.list_executions(q.pipeline.as_deref(), limit, offset)
    })
    .await?;
    Ok(Json(json!({
        "items": items.iter().map(execution_view).collect::<Vec<_>>(),
        "total": total, "limit": limit, "offset": offset,
    })))
}

async fn find(state: &AppState, id: &str) -> ApiResult<ExecutionRecord> {
    let key = id.to_string();
    blocking(&state.store, move |s| s.get_execution(&key))
        .await?
        .ok_or_else(|| ApiError::not_found("execution", id))
}

async fn execution(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(execution_view(&find(&state, &id).await?)))
}

async fn events(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    find(&state, &id).await?;
    let key = id.clone();
    let list = blocking(&state.store, move |s| s.execution_events(&key, None)).await?;
    let items: Vec<Value> = list
        .iter()
        .map(|e| json!({ "seq": e.seq, "at": iso(e.at_ms), "kind": e.kind, "detail": e.detail }))
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// Send an operator's event to the execution's task; 409 when the state refuses it.
/// Deliver an operator's event: 200 with the execution once applied, 202 with it while
/// the execution is busy with a step and the event waits its turn (`queued`).
async fn decide(state: &AppState, id: &str, action: OperatorAction) -> ApiResult<Response> {
    find(state, id).await?;
    let submitted = state
        .pipelines
        .act(id, action)
        .await
        .map_err(|e| ApiError::new(StatusCode::CONFLICT, "not_applicable", e.to_string()))?;
    let mut view = execution_view(&find(state, id).await?);
    Ok(match submitted {
        Submitted::Applied => Json(view).into_response(),
        Submitted::Queued => {
            view["queued"] = json!(
                "the execution is in the middle of a step (a router or smoke test); \
                 the event applies when the step ends"
            );
            (StatusCode::ACCEPTED, Json(view)).into_response()
        }
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Decision {
    Approve,
    Reject,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JudgmentBody {
    decision: Decision,
    by: String,
    #[serde(default)]
    comment: String,
}

async fn judgment(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(b): Body<JudgmentBody>,
) -> ApiResult<Response> {
    who(&b.by)?;
    let action = OperatorAction::Judgment {
        approve: matches!(b.decision, Decision::Approve),
        by: b.by,
        comment: b.comment,
    };
    decide(&state, &id, action).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ByBody {
    by: String,
    #[serde(default)]
    reason: String,
}

/// `by` must name someone: the event log records who acted.
pub(super) fn who(by: &str) -> ApiResult<()> {
    if by.trim().is_empty() {
        return Err(ApiError::invalid("by", "say who acts (a name, not empty)"));
    }
    if let Some(p) = crate::suggest::name_problem(by) {
        return Err(ApiError::invalid("by", p));
    }
    Ok(())
}

async fn rollback(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(b): Body<ByBody>,
) -> ApiResult<Response> {
    who(&b.by)?;
    decide(
        &state,
        &id,
        OperatorAction::Rollback {
            by: b.by,
            reason: b.reason,
        },
    )
    .await
}

async fn pause(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(b): Body<ByBody>,
) -> ApiResult<Response> {
    who(&b.by)?;
    decide(&state, &id, OperatorAction::Pause { by: b.by }).await
}

async fn resume(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(b): Body<ByBody>,
) -> ApiResult<Response> {
    who(&b.by)?;
    decide(&state, &id, OperatorAction::Resume { by: b.by }).await
}
