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

/// The signed-in writer posting a form of execution `id`'s page (its CSRF value checked),
/// or the answer refusing.
fn page_writer(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    csrf: &str,
) -> Result<Viewer, Response> {
    writer(state, headers, &format!("/ui/executions/{id}"), csrf)
}

/// Who the decision is recorded under ([`author`]), or the page asking who `does` it.
async fn required_author(
    state: &AppState,
    v: &Viewer,
    id: &str,
    by: &str,
    does: &str,
) -> Result<String, Response> {
    match author(v, by) {
        Some(by) => Ok(by),
        None => {
            let ask = format!("Say who {does} (the “by” field).");
            Err(execution_page(state, v, id, None, Some(&ask)).await)
        }
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
    let v = match page_writer(&state, &headers, &id, &f.csrf) {
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
    let by = match required_author(&state, &v, &id, &f.by, "decides").await {
        Ok(by) => by,
        Err(r) => return r,
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
    let v = match page_writer(&state, &headers, &id, &f.csrf) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let by = match required_author(&state, &v, &id, &f.by, "rolls back").await {
        Ok(by) => by,
        Err(r) => return r,
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
    let make = |by| OperatorAction::Pause { by };
    pause_or_resume(&state, &headers, &id, &f, make, "paused").await
}

pub(super) async fn resume(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    UiForm(f): UiForm<ByForm>,
) -> Response {
    let make = |by| OperatorAction::Resume { by };
    pause_or_resume(&state, &headers, &id, &f, make, "resumed").await
}

/// Pause or resume: recorded under the form's or the token's name, else `ui`.
async fn pause_or_resume(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    f: &ByForm,
    make: impl FnOnce(String) -> OperatorAction,
    done: &str,
) -> Response {
    let v = match page_writer(state, headers, id, &f.csrf) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let by = author(&v, &f.by).unwrap_or_else(|| "ui".into());
    act(state, &v, id, make(by), done).await
}
