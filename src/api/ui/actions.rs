//! What an operator does on an execution's page: approve or reject a judgment, roll back, pause, resume — the same runner calls as the API.

use super::*;

#[derive(Deserialize)]
pub(super) struct JudgmentForm {
    pub(super) decision: String,
    #[serde(default)]
    pub(super) by: String,
    #[serde(default)]
    pub(super) comment: String,
    #[serde(default)]
    pub(super) csrf: String,
}

#[derive(Deserialize)]
pub(super) struct ByForm {
    #[serde(default)]
    pub(super) by: String,
    #[serde(default)]
    pub(super) reason: String,
    #[serde(default)]
    pub(super) csrf: String,
}

/// Who the decision is recorded under: the form's name, else the token's.
pub(super) fn author(v: &Viewer, by: &str) -> Option<String> {
    let by = by.trim();
    if !by.is_empty() {
        Some(by.to_string())
    } else {
        v.name.clone()
    }
}

/// Submit an operator's event; on success back to the page (303), else the page with why.
pub(super) async fn act(
    state: &AppState,
    v: &Viewer,
    id: &str,
    action: OperatorAction,
    done: &str,
) -> Response {
    let submitted = state.pipelines.act(id, action).await;
    match submitted {
        Ok(s) => {
            tracing::info!(execution = %id, action = done, by = ?v.name, outcome = ?s,
                "ui: operator action");
            let done = match s {
                Submitted::Applied => done.to_string(),
                Submitted::Queued => format!("{done}-queued"),
            };
            Redirect::to(&format!("/ui/executions/{id}?done={done}")).into_response()
        }
        Err(e) => execution_page(state, v, id, None, Some(&format!("Not done: {e}"))).await,
    }
}

pub(super) async fn judgment(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    UiForm(f): UiForm<JudgmentForm>,
) -> Response {
    let v = match writer(&state, &headers, &format!("/ui/executions/{id}"), &f.csrf) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let approve = match f.decision.as_str() {
        "approve" => true,
        "reject" => false,
        other => {
            return message_page(
                StatusCode::BAD_REQUEST,
                "Bad decision",
                &format!("`{other}` is neither approve nor reject"),
            );
        }
    };
    let Some(by) = author(&v, &f.by) else {
        return execution_page(
            &state,
            &v,
            &id,
            None,
            Some("Say who decides (the “by” field)."),
        )
        .await;
    };
    let event = OperatorAction::Judgment {
        approve,
        by,
        comment: f.comment,
    };
    act(
        &state,
        &v,
        &id,
        event,
        if approve { "approved" } else { "rejected" },
    )
    .await
}

pub(super) async fn rollback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    UiForm(f): UiForm<ByForm>,
) -> Response {
    let v = match writer(&state, &headers, &format!("/ui/executions/{id}"), &f.csrf) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(by) = author(&v, &f.by) else {
        return execution_page(
            &state,
            &v,
            &id,
            None,
            Some("Say who rolls back (the “by” field)."),
        )
        .await;
    };
    let event = OperatorAction::Rollback {
        by,
        reason: f.reason,
    };
    act(&state, &v, &id, event, "rollback").await
}

pub(super) async fn pause(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    UiForm(f): UiForm<ByForm>,
) -> Response {
    let v = match writer(&state, &headers, &format!("/ui/executions/{id}"), &f.csrf) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let by = author(&v, &f.by).unwrap_or_else(|| "ui".into());
    act(&state, &v, &id, OperatorAction::Pause { by }, "paused").await
}

pub(super) async fn resume(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    UiForm(f): UiForm<ByForm>,
) -> Response {
    let v = match writer(&state, &headers, &format!("/ui/executions/{id}"), &f.csrf) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let by = author(&v, &f.by).unwrap_or_else(|| "ui".into());
    act(&state, &v, &id, OperatorAction::Resume { by }, "resumed").await
}
