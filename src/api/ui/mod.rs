//! The web UI of `canaryd serve`: server-rendered HTML pages under `/ui`, no scripts, no
//! external assets. Analyses (list with filters, the report of each), pipelines, executions
//! with their timeline, event log and current split, and — for a pending manual judgment —
//! approve / reject buttons, plus rollback, pause and resume.
//!
//! Access follows the API's tokens: with none configured the pages are open; otherwise a
//! person signs in at `/ui/login` with a token, and the daemon sets an HttpOnly, SameSite
//! Strict cookie holding the token's name and an HMAC of it keyed by the token (the token
//! itself never goes into the cookie). Pages need the `read` role, buttons `write`. Every
//! form carries a CSRF value (an HMAC keyed by the token as well) that the daemon checks.
//! Decisions go through the same runner calls as the API and are recorded with who made
//! them and their comment.

// Helpers answer with the page to show instead (`Err(Response)`); it is built once and
// moved out at once, so its size does not matter.
#![allow(clippy::result_large_err)]

use axum::Router;
use axum::extract::{Form, FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use hmac::{Hmac, Mac};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

use super::{AppState, Role, same};
use crate::analysis::detail::PairDetail;
use crate::pipeline::runner::{OperatorAction, Submitted};
use crate::pipeline::spec::{OnDeadline, Pipeline, Stage, StageKind};
use crate::pipeline::state::{Execution, Phase};
use crate::pipeline::timeline::execution_timeline;
use crate::report::charts;
use crate::report::html::{
    ChartMode, ReportMeta, ReportView, page, pair_chart, report_body, report_page,
};
use crate::store::blocking;
use crate::store::{
    AnalysisQuery, AnalysisRecord, AnalysisStatus, ExecutionEvent, ExecutionRecord,
};
use crate::time::ms_rfc3339 as iso;
use crate::time::now_s;

mod actions;
mod analyses;
mod executions;
mod layout;
mod session;

use actions::*;
use analyses::*;
pub use analyses::{api_report, report_file};
use executions::*;
use layout::*;
pub use session::Sessions;
use session::*;

/// Rows per list page.
const PAGE: u32 = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/analyses") }))
        .route("/ui", get(|| async { Redirect::to("/ui/analyses") }))
        .route("/ui/", get(|| async { Redirect::to("/ui/analyses") }))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/analyses", get(analyses))
        .route("/ui/analyses/{id}", get(analysis))
        .route("/ui/analyses/{id}/report.html", get(analysis_report))
        .route(
            "/ui/analyses/{id}/charts/{pair}/{chart}",
            get(analysis_chart),
        )
        .route("/ui/pipelines", get(pipelines))
        .route("/ui/pipelines/{name}", get(pipeline))
        .route("/ui/executions", get(executions))
        .route("/ui/executions/{id}", get(execution))
        .route("/ui/executions/{id}/timeline.svg", get(execution_chart))
        .route("/ui/executions/{id}/judgment", post(judgment))
        .route("/ui/executions/{id}/rollback", post(rollback))
        .route("/ui/executions/{id}/pause", post(pause))
        .route("/ui/executions/{id}/resume", post(resume))
}
