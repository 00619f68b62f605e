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
use crate::pipeline::runner::{OPERATOR_WAIT, Submitted};
use crate::pipeline::spec::{OnDeadline, Pipeline, StageKind};
use crate::pipeline::state::{Event, Execution, Phase};
use crate::pipeline::timeline::execution_timeline;
use crate::report::charts;
use crate::report::html::{
    ChartMode, ReportMeta, ReportView, page, pair_chart, report_body, report_page,
};
use crate::store::blocking;
use crate::store::{AnalysisQuery, AnalysisRecord, AnalysisStatus, ExecutionRecord};
use crate::time::ms_rfc3339 as iso;
use crate::time::now_s;

/// The session cookie's name.
const COOKIE: &str = "canaryd_session";
/// How long a sign-in lasts, seconds.
const SESSION_S: u64 = 12 * 3600;

/// Sessions one token may hold at once; a new sign-in beyond it ends that token's oldest.
const MAX_SESSIONS_PER_TOKEN: usize = 1_000;

/// Sign-in sessions, kept by the daemon: a session ends at logout, after 12 hours, or
/// when the daemon restarts (sign in again). The cookie holds only a random id.
#[derive(Default)]
pub struct Sessions {
    map: std::sync::Mutex<std::collections::HashMap<String, Session>>,
}

#[derive(Clone)]
struct Session {
    token: String,
    csrf: String,
    expires_ms: i64,
}

fn random_hex() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Sessions {
    fn start(&self, token: &str) -> String {
        let now = crate::time::now_ms();
        let id = random_hex();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| s.expires_ms > now);
        // Each token has its own sessions and its own cap: signing in again and again
        // with one token (a read token) ends only that token's oldest sessions, never
        // another operator's. Tokens are configured, so the total is bounded too.
        loop {
            let mine = map.iter().filter(|(_, s)| s.token == token);
            if mine.clone().count() < MAX_SESSIONS_PER_TOKEN {
                break;
            }
            let Some(oldest) = mine
                .min_by_key(|(_, s)| s.expires_ms)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            map.remove(&oldest);
        }
        map.insert(
            id.clone(),
            Session {
                token: token.to_string(),
                csrf: random_hex(),
                expires_ms: now + (SESSION_S as i64) * 1000,
            },
        );
        id
    }

    fn get(&self, id: &str) -> Option<Session> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(id) {
            Some(s) if s.expires_ms > crate::time::now_ms() => Some(s.clone()),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    fn end(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}
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

// ------------------------------------------------------------------ sessions

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &str, purpose: &str, name: &str) -> String {
    let mut m = HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    m.update(purpose.as_bytes());
    m.update(&[0]);
    m.update(name.as_bytes());
    hex(&m.finalize().into_bytes())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Who is looking: the token's name and role, and the CSRF value of their forms.
#[derive(Debug, Clone)]
struct Viewer {
    name: Option<String>,
    role: Role,
    csrf: String,
}

impl Viewer {
    fn may_write(&self) -> bool {
        self.role == Role::Write
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(name)?.strip_prefix('='))
}

/// The viewer, or the answer to give instead: a redirect to the sign-in page.
fn viewer(state: &AppState, headers: &HeaderMap, path: &str) -> Result<Viewer, Response> {
    if state.tokens.is_empty() {
        // No sign-in, but forms still carry a CSRF value only this daemon's pages know: a
        // page elsewhere cannot post a judgment or a rollback in the operator's name.
        return Ok(Viewer {
            name: None,
            role: Role::Write,
            csrf: mac(&state.ui_secret, "canaryd ui csrf", ""),
        });
    }
    let session = cookie(headers, COOKIE).and_then(|id| {
        let s = state.sessions.get(id)?;
        let t = state.tokens.iter().find(|t| t.name == s.token)?;
        Some((t, s))
    });
    match session {
        Some((t, s)) => Ok(Viewer {
            name: Some(t.name.clone()),
            role: t.role,
            csrf: s.csrf,
        }),
        None => Err(Redirect::to(&format!("/ui/login?next={}", encode(path))).into_response()),
    }
}

/// The viewer of a form post: signed in, allowed to write, and the form's CSRF value right.
fn writer(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
    csrf: &str,
) -> Result<Viewer, Response> {
    let v = viewer(state, headers, path)?;
    if !v.may_write() {
        return Err(message_page(
            StatusCode::FORBIDDEN,
            "Not allowed",
            &format!(
                "Token `{}` may read but not act. Sign in with a write token.",
                v.name.as_deref().unwrap_or("")
            ),
        ));
    }
    if csrf.is_empty() || !same(v.csrf.as_bytes(), csrf.as_bytes()) {
        return Err(message_page(
            StatusCode::FORBIDDEN,
            "Form expired",
            "This form is not from your current session. Reload the page and try again.",
        ));
    }
    Ok(v)
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Only paths of this UI are followed after a sign-in.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/ui")
                && !n.contains("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_string()
        }
        _ => "/ui/analyses".to_string(),
    }
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_form(State(state): State<AppState>, Query(q): Query<NextQuery>) -> Response {
    login_page(&state, q.next.as_deref(), None, StatusCode::OK)
}

fn login_page(
    state: &AppState,
    next: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let body = html! {
        h1 { "Sign in" }
        @if state.tokens.is_empty() {
            p { "This daemon has no tokens configured: every page is open." }
            p { a href="/ui/analyses" { "Go to the analyses" } }
        } @else {
            @if let Some(e) = error { p.flash.error { (e) } }
            p { "Sign in with an API token of this daemon (" code { "[[tokens]]" } " in its config). "
                "A read token shows the pages; a write token can also approve, reject and roll back." }
            form.panel method="post" action="/ui/login" {
                input type="hidden" name="next" value=(safe_next(next));
                label { "Token " input type="password" name="token" id="token" autocomplete="current-password" required; }
                " " button type="submit" id="sign-in" { "Sign in" }
            }
        }
    };
    (
        status,
        axum::response::Html(page("Sign in — canaryd", &[], body)),
    )
        .into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    next: Option<String>,
}

async fn login(State(state): State<AppState>, UiForm(f): UiForm<LoginForm>) -> Response {
    let presented = f.token.trim();
    let Some(t) = state
        .tokens
        .iter()
        .find(|t| same(t.secret.expose().as_bytes(), presented.as_bytes()))
    else {
        return login_page(
            &state,
            f.next.as_deref(),
            Some("Unknown token."),
            StatusCode::UNAUTHORIZED,
        );
    };
    let mut r = Redirect::to(&safe_next(f.next.as_deref())).into_response();
    let cookie = format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_S}{}",
        state.sessions.start(&t.name),
        if state.secure_cookies { "; Secure" } else { "" }
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    // The session ends here, not only the cookie: a copy of it is worthless from now on.
    if let Some(id) = cookie(&headers, COOKIE) {
        state.sessions.end(id);
    }
    let mut r = Redirect::to("/ui/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("canaryd_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

/// A posted form whose refusals (too large, not a form, a missing field) are pages like
/// every other answer of the UI, with the status, not plain text.
struct UiForm<T>(T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for UiForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Form::<T>::from_request(req, state).await {
            Ok(Form(v)) => Ok(UiForm(v)),
            Err(e) => Err(message_page(
                e.status(),
                "The form could not be read",
                &e.body_text(),
            )),
        }
    }
}

// ------------------------------------------------------------------ page frame

const NAV: &[(&str, &str)] = &[
    ("/ui/analyses", "Analyses"),
    ("/ui/pipelines", "Pipelines"),
    ("/ui/executions", "Executions"),
];

/// A page of the UI; `refresh` reloads it every 5 s at that address (running things, without
/// a script; pages with a form being filled in never do).
fn frame(title: &str, viewer: &Viewer, refresh: Option<&str>, body: Markup) -> Response {
    let body = html! {
        @if let Some(url) = refresh {
            meta http-equiv="refresh" content={ "5; url=" (url) };
        }
        @if let Some(name) = &viewer.name {
            form.inline.session method="post" action="/ui/logout" {
                input type="hidden" name="csrf" value=(viewer.csrf);
                "signed in as " strong { (name) } " (" (role_name(viewer.role)) ") "
                button type="submit" { "Sign out" }
            }
        }
        (body)
    };
    let mut r =
        axum::response::Html(page(&format!("{title} — canaryd"), NAV, body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Read => "read",
        Role::Write => "write",
    }
}

fn message_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = html! { h1 { (title) } p { (message) } p { a href="/ui/analyses" { "Back to the analyses" } } };
    (
        status,
        axum::response::Html(page(&format!("{title} — canaryd"), NAV, body)),
    )
        .into_response()
}

fn not_found(what: &str) -> Response {
    message_page(
        StatusCode::NOT_FOUND,
        "Not found",
        &format!("There is no {what}."),
    )
}

fn store_error(e: impl std::fmt::Display) -> Response {
    message_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Store unavailable",
        &format!("The store could not be read: {e}"),
    )
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn when(ms: i64) -> String {
    iso(ms).replace('T', " ").trim_end_matches('Z').to_string() + " UTC"
}

/// A text of several lines (a reason: one line per worse pair) as a list.
fn lines(text: &str) -> Markup {
    let mut it = text.lines();
    let first = it.next().unwrap_or("");
    let rest: Vec<&str> = it.collect();
    html! {
        (first)
        @if !rest.is_empty() { ul.lines { @for l in &rest { li { (l) } } } }
    }
}

/// A long detail: its short form, the whole text one click away (no script needed).
fn long_text(text: &str) -> Markup {
    let short = crate::report::short_detail(text);
    if short == text {
        return html! { (text) };
    }
    // The summary holds the whole first line when only later lines were left out.
    let first = text.lines().next().unwrap_or("");
    if short == format!("{first} …") {
        let rest: Vec<&str> = text.lines().skip(1).collect();
        return html! { details.detail { summary { (first) } ul.lines { @for l in &rest { li { (l) } } } } };
    }
    html! { details.detail { summary { (short) } (lines(text)) } }
}

fn badge(class: &str) -> Markup {
    html! { span class={ "badge " (class) } { (class.replace('_', " ")) } }
}

/// An analysis' run status, in words that cannot pass for a verdict: a run that ended
/// normally is `finished` (grey) whatever its verdict, which has its own badge.
fn run_status(s: AnalysisStatus) -> &'static str {
    match s {
        AnalysisStatus::Running => "running",
        AnalysisStatus::Succeeded => "finished",
        AnalysisStatus::Error => "run error",
        AnalysisStatus::Cancelled => "cancelled",
    }
}

fn run_badge(s: AnalysisStatus) -> Markup {
    let class = match s {
        AnalysisStatus::Running => "running",
        _ => "run",
    };
    html! { span class={ "badge " (class) } title="run status (not the verdict)" { (run_status(s)) } }
}

// ------------------------------------------------------------------ analyses

#[derive(Deserialize, Default)]
struct AnalysesQuery {
    status: Option<String>,
    application: Option<String>,
    config: Option<String>,
    page: Option<u32>,
}

fn blank(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

async fn analyses(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<AnalysesQuery>,
) -> Response {
    let v = match viewer(&state, &headers, "/ui/analyses") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let status = match blank(&q.status).map(|s| s.parse::<AnalysisStatus>()) {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => return message_page(StatusCode::BAD_REQUEST, "Bad filter", &e.to_string()),
        None => None,
    };
    let page_no = q.page.unwrap_or(0);
    let query = AnalysisQuery {
        application: blank(&q.application),
        status,
        config_name: blank(&q.config),
        limit: PAGE,
        offset: page_no * PAGE,
    };
    let (rows, total) = match blocking(&state.store, move |s| s.list_analyses(&query)).await {
        Ok(x) => x,
        Err(e) => return store_error(e),
    };
    let filter = |k: &str, v: &Option<String>| {
        blank(v)
            .map(|v| format!("&{k}={}", encode(&v)))
            .unwrap_or_default()
    };
    let keep = format!(
        "{}{}{}",
        filter("status", &q.status),
        filter("application", &q.application),
        filter("config", &q.config)
    );
    let running = rows.iter().any(|r| r.status == AnalysisStatus::Running);
    let body = html! {
        h1 { "Analyses" }
        form.inline method="get" action="/ui/analyses" {
            label { "status " select name="status" {
                option value="" { "any" }
                @for s in AnalysisStatus::ALL {
                    option value=(s.as_str()) selected[q.status.as_deref() == Some(s.as_str())] { (s.as_str()) }
                }
            } }
            label { "application " input type="text" name="application" value=(q.application.as_deref().unwrap_or("")); }
            label { "config " input type="text" name="config" value=(q.config.as_deref().unwrap_or("")); }
            button type="submit" { "Filter" }
        }
        p { (plural(total, "analysis", "analyses")) @if total > 0 { ", newest first" } }
        table.list #analyses {
            thead { tr { th { "created" } th { "config" } th { "application" } th { "canary" } th { "run" } th { "verdict" } th.n { "score" } } }
            tbody {
                @for r in &rows {
                    tr data-id=(r.id) {
                        td { a href={ "/ui/analyses/" (r.id) } { (when(r.created_ms)) } }
                        td { (r.config_name) }
                        td { (r.application.as_deref().unwrap_or("–")) }
                        td { (scope(&r.request, "canary")) }
                        td { (run_badge(r.status)) }
                        td { @if let Some(verdict) = &r.verdict { (badge(verdict)) } @else { "–" } }
                        td.n { (r.score.map_or("–".into(), crate::report::score_num)) }
                    }
                }
            }
        }
        div.pager {
            @if page_no > 0 { a href={ "/ui/analyses?page=" (page_no - 1) (keep) } { "← newer" } }
            @if u64::from((page_no + 1) * PAGE) < total { a href={ "/ui/analyses?page=" (page_no + 1) (keep) } { "older →" } }
        }
    };
    let here = format!("/ui/analyses?page={page_no}{keep}");
    frame("Analyses", &v, running.then_some(here.as_str()), body)
}

/// `request.canary.scope` (or baseline) of a stored request.
fn scope(request: &Value, arm: &str) -> String {
    request[arm]["scope"]
        .as_str()
        .or_else(|| request["scopes"][arm].as_str())
        .unwrap_or("–")
        .to_string()
}

fn facts(r: &AnalysisRecord) -> ReportMeta {
    let mut facts = vec![
        ("analysis".to_string(), r.id.clone()),
        ("run".into(), run_status(r.status).into()),
        ("config".into(), r.config_name.clone()),
    ];
    if let Some(a) = &r.application {
        facts.push(("application".into(), a.clone()));
    }
    facts.push(("baseline".into(), scope(&r.request, "baseline")));
    facts.push(("canary".into(), scope(&r.request, "canary")));
    if let Some(mode) = r.request["window"]["mode"].as_str() {
        facts.push(("window".into(), mode.to_string()));
    }
    facts.push(("created".into(), when(r.created_ms)));
    facts.push(("updated".into(), when(r.updated_ms)));
    if let Some(e) = &r.error {
        facts.push(("note".into(), e.clone()));
    }
    ReportMeta {
        facts,
        interim: r.status == AnalysisStatus::Running,
    }
}

/// The stored analysis, its report view and chart data.
async fn load_analysis(
    state: &AppState,
    id: &str,
) -> Result<(AnalysisRecord, Option<ReportView>, Vec<PairDetail>), Response> {
    let key = id.to_string();
    let (rec, details) = blocking(&state.store, move |s| {
        Ok::<_, crate::store::StoreError>((s.get_analysis(&key)?, s.get_details(&key)?))
    })
    .await
    .map_err(store_error)?;
    let Some(rec) = rec else {
        return Err(not_found(&format!("analysis `{id}`")));
    };
    let view = match &rec.report {
        Some(r) => Some(ReportView::from_json(r).map_err(|e| {
            message_page(StatusCode::INTERNAL_SERVER_ERROR, "Unreadable report", &e)
        })?),
        None => None,
    };
    let details: Vec<PairDetail> = details
        .and_then(|d| serde_json::from_str(&d).ok())
        .unwrap_or_default();
    Ok((rec, view, details))
}

async fn analysis(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let v = match viewer(&state, &headers, &format!("/ui/analyses/{id}")) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (rec, view, details) = match load_analysis(&state, &id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let key = id.clone();
    let intervals = blocking(&state.store, move |s| s.interval_summaries(&key))
        .await
        .unwrap_or_default();
    let meta = facts(&rec);
    let base = format!("/ui/analyses/{id}/charts");
    let body = html! {
        @match &view {
            Some(view) => {
                (report_body(view, &details, &meta, ChartMode::Lazy { base: &base }))
                p { a href={ "/ui/analyses/" (id) "/report.html" } download { "Download this report (one self-contained HTML file)" } }
            }
            None => {
                h1 { "Analysis " code { (rec.config_name) } " " (run_badge(rec.status)) }
                dl.facts { @for (k, val) in &meta.facts { dt { (k) } dd { (val) } } }
                p { "No interval has been judged yet." }
            }
        }
        @if !intervals.is_empty() {
            section {
                h2 { "Intervals (" (intervals.len()) ")" }
                table.list {
                    thead { tr { th.n { "#" } th { "end" } th { "outcome" } th { "verdict" } th.n { "score" } th { "note" } } }
                    tbody {
                        @for iv in &intervals {
                            tr {
                                td.n { (iv.index) }
                                td { (when(iv.at_ms)) }
                                td { (iv.outcome) }
                                td { @if let Some(verdict) = &iv.verdict { (badge(verdict)) } @else { "–" } }
                                td.n { (iv.score.map_or("–".into(), crate::report::score_num)) }
                                td { (iv.error.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
    };
    let here = format!("/ui/analyses/{id}");
    frame(
        &format!("Analysis {}", rec.config_name),
        &v,
        (rec.status == AnalysisStatus::Running).then_some(here.as_str()),
        body,
    )
}

async fn analysis_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = viewer(&state, &headers, &format!("/ui/analyses/{id}")) {
        return r;
    }
    match load_analysis(&state, &id).await {
        Ok((rec, Some(view), details)) => report_file(&rec, &view, &details),
        Ok((_, None, _)) => message_page(
            StatusCode::CONFLICT,
            "No report yet",
            "No interval has been judged yet.",
        ),
        Err(r) => r,
    }
}

/// `GET /api/v1/analyses/{id}/report.html`: the self-contained report, behind the API's
/// bearer tokens (for scripts and CD systems that archive it).
pub async fn api_report(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match load_analysis(&state, &id).await {
        Ok((rec, Some(view), details)) => report_file(&rec, &view, &details),
        Ok((_, None, _)) => super::ApiError::new(
            StatusCode::CONFLICT,
            "not_ready",
            "no interval of this analysis has been judged yet",
        )
        .into_response(),
        // The page-shaped error says which: a missing analysis, or a store that cannot be read.
        Err(r) if r.status() == StatusCode::NOT_FOUND => super::ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no analysis `{id}`"),
        )
        .into_response(),
        Err(r) => super::ApiError::new(
            r.status(),
            "unavailable",
            "the analysis or its report cannot be read; see the daemon's log",
        )
        .into_response(),
    }
}

/// The self-contained report of a stored analysis, as a download.
pub fn report_file(rec: &AnalysisRecord, view: &ReportView, details: &[PairDetail]) -> Response {
    let html = report_page(view, details, &facts(rec));
    let mut r = axum::response::Html(html).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "inline; filename=\"canaryd-analysis-{}.html\"",
        rec.id.replace(['"', '\\'], "")
    )) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

async fn analysis_chart(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, pair, chart)): Path<(String, usize, String)>,
) -> Response {
    if let Err(r) = viewer(&state, &headers, &format!("/ui/analyses/{id}")) {
        return r;
    }
    let (_, view, details) = match load_analysis(&state, &id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let kind = chart.strip_suffix(".svg").unwrap_or("");
    let svg = view.as_ref().zip(details.get(pair)).and_then(|(view, d)| {
        let m = view.metrics.iter().find(|m| m.display_name() == d.name)?;
        pair_chart(m, d, kind)
    });
    match svg {
        Some(svg) => svg_response(svg),
        None => not_found("such chart"),
    }
}

/// A chart as an image: the charts already name the SVG namespace a standalone file needs.
fn svg_response(svg: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        svg,
    )
        .into_response()
}

// ------------------------------------------------------------------ pipelines

async fn pipelines(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let v = match viewer(&state, &headers, "/ui/pipelines") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let list = match blocking(&state.store, |s| s.list_pipelines()).await {
        Ok(l) => l,
        Err(e) => return store_error(e),
    };
    let body = html! {
        h1 { "Pipelines" }
        @if list.is_empty() {
            p { "No pipeline yet. Store one with " code { "canaryd pipeline apply FILE" } " or " code { "POST /api/v1/pipelines" } "." }
        }
        table.list #pipelines {
            thead { tr { th { "name" } th.n { "version" } th { "stored" } th { "description" } th { "stages" } } }
            tbody {
                @for p in &list {
                    @let spec = Pipeline::parse(&p.body, &p.name).ok();
                    tr {
                        td { a href={ "/ui/pipelines/" (encode(&p.name)) } { (p.name) } }
                        td.n { (p.version) }
                        td { (when(p.created_ms)) }
                        td { (spec.as_ref().and_then(|s| s.description.clone()).unwrap_or_default()) }
                        td { (spec.as_ref().map(|s| s.stages.iter().map(|st| st.name.as_str()).collect::<Vec<_>>().join(" → ")).unwrap_or_default()) }
                    }
                }
            }
        }
    };
    frame("Pipelines", &v, None, body)
}

async fn pipeline(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let v = match viewer(
        &state,
        &headers,
        &format!("/ui/pipelines/{}", encode(&name)),
    ) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let key = name.clone();
    let found = blocking(&state.store, move |s| {
        Ok::<_, crate::store::StoreError>((
            s.get_pipeline(&key, None)?,
            s.list_executions(Some(&key), PAGE, 0)?,
        ))
    })
    .await;
    let (rec, (execs, total)) = match found {
        Ok((Some(p), e)) => (p, e),
        Ok((None, _)) => return not_found(&format!("pipeline `{name}`")),
        Err(e) => return store_error(e),
    };
    let body = html! {
        h1 { "Pipeline " code { (rec.name) } " version " (rec.version) }
        p { "stored " (when(rec.created_ms)) }
        h2 { "Executions (" (total) ")" }
        (execution_table(&execs))
        h2 { "Spec" }
        pre.spec { code { (crate::pipeline::spec::redacted_spec(&rec.body)) } }
    };
    let running = execs.iter().any(|e| e.status == "running");
    let here = format!("/ui/pipelines/{}", encode(&rec.name));
    frame(
        &format!("Pipeline {}", rec.name),
        &v,
        running.then_some(here.as_str()),
        body,
    )
}

fn execution_table(execs: &[ExecutionRecord]) -> Markup {
    html! {
        table.list #executions {
            thead { tr { th { "started" } th { "pipeline" } th { "canary" } th { "status" } th { "stage" } th { "split" } } }
            tbody {
                @for e in execs {
                    @let state: Option<Execution> = serde_json::from_value(e.state.clone()).ok();
                    tr data-id=(e.id) {
                        td { a href={ "/ui/executions/" (e.id) } { (when(e.created_ms)) } }
                        td { (e.pipeline) " version " (e.version) }
                        td { (scope(&e.trigger, "canary")) }
                        td { (badge(&e.status)) @if awaiting(state.as_ref()) { " " (badge("waiting")) } }
                        td { (state.as_ref().map_or(String::new(), |s| format!("{}", s.stage + 1))) }
                        td { (state.as_ref().map_or("–".into(), split_text)) }
                    }
                }
            }
        }
    }
}

fn awaiting(state: Option<&Execution>) -> bool {
    matches!(
        state.map(|s| &s.phase),
        Some(Phase::AwaitingJudgment { .. })
    )
}

fn split_text(s: &Execution) -> String {
    s.split
        .iter()
        .map(|p| {
            p.map_or("–".into(), |p| {
                format!("{}%", crate::report::num(Some(p)))
            })
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

async fn executions(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<AnalysesQuery>,
) -> Response {
    let v = match viewer(&state, &headers, "/ui/executions") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let page_no = q.page.unwrap_or(0);
    let (execs, total) = match blocking(&state.store, move |s| {
        s.list_executions(None, PAGE, page_no * PAGE)
    })
    .await
    {
        Ok(x) => x,
        Err(e) => return store_error(e),
    };
    let running = execs.iter().any(|e| e.status == "running");
    let body = html! {
        h1 { "Executions" }
        p { (plural(total, "execution", "executions")) @if total > 0 { ", newest first" } }
        (execution_table(&execs))
        div.pager {
            @if page_no > 0 { a href={ "/ui/executions?page=" (page_no - 1) } { "← newer" } }
            @if u64::from((page_no + 1) * PAGE) < total { a href={ "/ui/executions?page=" (page_no + 1) } { "older →" } }
        }
    };
    frame("Executions", &v, running.then_some("/ui/executions"), body)
}

#[derive(Deserialize, Default)]
struct ExecutionQuery {
    done: Option<String>,
}

async fn execution(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ExecutionQuery>,
) -> Response {
    let v = match viewer(&state, &headers, &format!("/ui/executions/{id}")) {
        Ok(v) => v,
        Err(r) => return r,
    };
    execution_page(&state, &v, &id, q.done.as_deref(), None).await
}

/// The execution page, with a flash line: what was just done, or why it was refused.
async fn execution_page(
    state: &AppState,
    v: &Viewer,
    id: &str,
    done: Option<&str>,
    error: Option<&str>,
) -> Response {
    let key = id.to_string();
    let found = blocking(&state.store, move |s| {
        let rec = s.get_execution(&key)?;
        let events = s.execution_events(&key, None)?;
        let spec = match &rec {
            Some(r) => s.get_pipeline(&r.pipeline, Some(r.version))?,
            None => None,
        };
        Ok::<_, crate::store::StoreError>((rec, events, spec))
    })
    .await;
    let (rec, events, spec) = match found {
        Ok((Some(r), ev, spec)) => (r, ev, spec),
        Ok((None, ..)) => return not_found(&format!("execution `{id}`")),
        Err(e) => return store_error(e),
    };
    let spec = spec.and_then(|p| Pipeline::parse(&p.body, &p.name).ok());
    let state_now: Option<Execution> = serde_json::from_value(rec.state.clone()).ok();
    let stage = state_now
        .as_ref()
        .and_then(|s| spec.as_ref().and_then(|p| p.stages.get(s.stage)));
    let target = state_now
        .as_ref()
        .and_then(|s| spec.as_ref().and_then(|p| p.targets.get(s.target)));
    // The analysis behind the latest verdict, rollback or hold: linked from the page, and
    // shown in a judgment it asks for.
    let last_analysis: Option<String> = events
        .iter()
        .rev()
        .find_map(|e| e.detail["analysis"].as_str().map(str::to_string));
    let judgment = match (state_now.as_ref().map(|s| &s.phase), stage.map(|s| &s.kind)) {
        (
            Some(Phase::AwaitingJudgment { deadline, .. }),
            Some(StageKind::ManualJudgment {
                message,
                approvers,
                on_timeout,
                ..
            }),
        ) => Some(Judgment {
            message: message.clone(),
            approvers: approvers.clone(),
            deadline: *deadline,
            at_deadline: match on_timeout {
                OnDeadline::Rollback => "the execution rolls back",
                OnDeadline::Proceed => "the execution proceeds to the next stage",
            },
            analysis: None,
        }),
        (Some(Phase::AwaitingJudgment { deadline, .. }), _) => {
            let analysis = match &last_analysis {
                Some(a) => held_analysis(state, a).await,
                None => None,
            };
            let verdict = analysis
                .as_ref()
                .map_or("inconclusive", |a| a.verdict.as_str());
            Some(Judgment {
                message: format!(
                    "The analysis was {verdict}, not a pass: a person decides whether to go on."
                ),
                approvers: Vec::new(),
                deadline: *deadline,
                at_deadline: "the execution rolls back",
                analysis,
            })
        }
        _ => None,
    };
    let unfinished = rec.status == "running" || rec.status == "paused";
    let timeline = execution_timeline(
        &events,
        if unfinished {
            now_s()
        } else {
            rec.updated_ms as f64 / 1000.0
        },
    );
    let by = v.name.clone().unwrap_or_default();
    let csrf = v.csrf.clone();
    let action = |what: &str| format!("/ui/executions/{}/{what}", rec.id);
    let body = html! {
        h1 { "Execution of " a href={ "/ui/pipelines/" (encode(&rec.pipeline)) } { code { (rec.pipeline) } } " version " (rec.version) " " (badge(&rec.status)) }
        @if let Some(d) = done { p.flash #flash { (done_text(d)) } }
        @if let Some(e) = error { p.flash.error #flash { (e) } }
        dl.facts {
            dt { "execution" } dd { code { (rec.id) } }
            dt { "canary" } dd { (scope(&rec.trigger, "canary")) }
            dt { "baseline" } dd { (scope(&rec.trigger, "baseline")) }
            @if let Some(by) = rec.trigger["by"].as_str() { dt { "started by" } dd { (by) } }
            dt { "target" } dd { (target.map_or("–".into(), |t| t.name.clone())) }
            dt { "stage" } dd #stage { (stage.map_or("–".into(), |s| format!("{} ({})", s.name, s.kind.kind()))) }
            dt { "phase" } dd { (state_now.as_ref().map_or("–".into(), |s| phase_text(&s.phase))) }
            dt { "canary traffic" } dd #split { (state_now.as_ref().map_or("–".into(), split_text)) }
            @if let Some(reason) = state_now.as_ref().and_then(|s| s.reason.clone()) { dt { "reason" } dd #reason { (lines(&reason)) } }
            @if let Some(a) = &last_analysis {
                dt { "latest analysis" } dd { a #last-analysis href={ "/ui/analyses/" (a) } { code { (a) } } }
            }
            dt { "started" } dd { (when(rec.created_ms)) }
            dt { "updated" } dd { (when(rec.updated_ms)) }
        }
        @if let Some(j) = &judgment {
            section.panel.judgment #judgment {
                h2 { "Judgment needed" }
                p { (j.message) }
                @if let Some(a) = &j.analysis {
                    div #judgment-analysis {
                        p { "The analysis behind it: " a href={ "/ui/analyses/" (a.id) } { code { (a.id) } } " — verdict "
                            span class={ "badge " (a.verdict) } { (a.verdict.to_uppercase()) } "." }
                        @if !a.undecided.is_empty() {
                            p { "Not passing, and why:" }
                            ul.undecided { @for u in &a.undecided { li { (u) } } }
                        }
                        @if !a.held.is_empty() {
                            p { "Missing evidence:" }
                            ul.held { @for h in &a.held { li { (h) } } }
                        }
                    }
                }
                p { @if j.approvers.is_empty() { "Anyone with a write token may decide." } @else { "May decide: " (j.approvers.join(", ")) "." } }
                p #deadline { "Deadline " strong { (when((j.deadline * 1000.0) as i64)) } ": if nobody decides by then, " (j.at_deadline) "." }
                @if v.may_write() {
                    form.inline method="post" action=(action("judgment")) {
                        input type="hidden" name="csrf" value=(csrf);
                        label { "by " input type="text" name="by" value=(by) required; }
                        label { "comment " input type="text" name="comment" size="40"; }
                        button.approve type="submit" name="decision" value="approve" id="approve" { "Approve" }
                        button.reject type="submit" name="decision" value="reject" id="reject" { "Reject" }
                    }
                } @else {
                    p { "Sign in with a write token to decide." }
                }
            }
        }
        @if unfinished && v.may_write() {
            section.panel.actions {
                form.inline method="post" action=(action("rollback")) {
                    input type="hidden" name="csrf" value=(csrf);
                    label { "by " input type="text" name="by" value=(by) required; }
                    label { "reason " input type="text" name="reason" size="30"; }
                    button.rollback type="submit" id="rollback" { "Roll back now" }
                }
                @if rec.status == "running" {
                    form.inline method="post" action=(action("pause")) {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="by" value=(if by.is_empty() { "ui" } else { &by });
                        button type="submit" id="pause" { "Pause after this stage" }
                    }
                } @else {
                    form.inline method="post" action=(action("resume")) {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="by" value=(if by.is_empty() { "ui" } else { &by });
                        button type="submit" id="resume" { "Resume" }
                    }
                }
            }
        }
        section {
            h2 { "Traffic" }
            figure #timeline { (PreEscaped(charts::execution_svg(&timeline))) }
        }
        section {
            h2 { "Events (" (events.len()) ")" }
            table.list #events {
                thead { tr { th.n { "#" } th { "time" } th { "event" } th { "target" } th { "stage" } th { "detail" } th { "split" } } }
                tbody {
                    @for e in &events {
                        tr data-kind=(e.kind) {
                            td.n { (e.seq) }
                            td { (when(e.at_ms)) }
                            td { (e.kind) }
                            td { (e.detail["target"].as_str().unwrap_or("")) }
                            td { (e.detail["stage"].as_str().unwrap_or("")) }
                            td {
                                (long_text(e.detail["detail"].as_str().unwrap_or("")))
                                @if let Some(a) = e.detail["analysis"].as_str() {
                                    " " a.analysis href={ "/ui/analyses/" (a) } { "open the analysis" }
                                }
                            }
                            td { (split_of(&e.detail["split"])) }
                        }
                    }
                }
            }
        }
    };
    let status = if error.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    // Refreshes to the plain address, so a "done" line does not stay for good.
    let here = format!("/ui/executions/{}", rec.id);
    let mut r = frame(
        &format!("Execution {}", rec.pipeline),
        v,
        (unfinished && judgment.is_none()).then_some(here.as_str()),
        body,
    );
    *r.status_mut() = status;
    r
}

/// A judgment an execution waits for.
struct Judgment {
    message: String,
    approvers: Vec<String>,
    deadline: f64,
    /// What happens at the deadline, as a clause: "the execution rolls back".
    at_deadline: &'static str,
    analysis: Option<HeldAnalysis>,
}

/// The analysis behind a judgment: what it could not decide and why.
struct HeldAnalysis {
    id: String,
    verdict: String,
    /// Each pair that did not pass (worse, undecided, without data) with its judged
    /// numbers and checks.
    undecided: Vec<String>,
    /// The holds that are missing evidence.
    held: Vec<String>,
}

async fn held_analysis(state: &AppState, id: &str) -> Option<HeldAnalysis> {
    let key = id.to_string();
    let rec = blocking(&state.store, move |s| s.get_analysis(&key))
        .await
        .ok()??;
    let view = ReportView::from_json(rec.report.as_ref()?).ok()?;
    let undecided = view
        .metrics
        .iter()
        .filter(|m| !m.muted && m.classification != canary_judges::Classification::Pass)
        .map(|m| {
            let unit = m.unit.as_deref();
            format!(
                "{} {}: {} — {}",
                m.display_name(),
                m.classification.as_str().to_uppercase(),
                crate::report::judged_text(m.judged.as_ref(), unit),
                if m.judged.as_ref().is_some_and(|j| !j.checks.is_empty()) {
                    crate::report::checks_text(m.judged.as_ref(), unit)
                } else {
                    m.reason.clone()
                }
            )
        })
        .collect();
    let held = view
        .holds
        .iter()
        .filter(|h| h.kind != "undecided")
        .map(|h| h.message.clone())
        .collect();
    Some(HeldAnalysis {
        id: rec.id,
        verdict: view.verdict,
        undecided,
        held,
    })
}

fn split_of(v: &Value) -> String {
    match v {
        Value::Array(a) => a
            .iter()
            .map(|p| {
                p.as_f64().map_or("–".into(), |p| {
                    format!("{}%", crate::report::num(Some(p)))
                })
            })
            .collect::<Vec<_>>()
            .join(" · "),
        _ => String::new(),
    }
}

fn phase_text(p: &Phase) -> String {
    let at = |t: f64| when((t * 1000.0) as i64);
    match p {
        Phase::Entering => "entering the stage".into(),
        Phase::WaitingWindow { until } => format!("waiting for its window (until {})", at(*until)),
        Phase::Applying { percent } => format!("setting canary traffic to {percent}%"),
        Phase::Disabling => "taking the baseline out of service".into(),
        Phase::Analysing {
            deadline, analysis, ..
        } => match analysis {
            Some(a) => format!("analysing ({a}), deadline {}", at(*deadline)),
            None => format!("starting an analysis, deadline {}", at(*deadline)),
        },
        Phase::SmokeTesting { attempt } => format!("smoke test, attempt {attempt}"),
        Phase::AwaitingJudgment { deadline, .. } => {
            format!("awaiting judgment until {}", at(*deadline))
        }
        Phase::Waiting { until } => format!("waiting until {}", at(*until)),
        Phase::RollingBack { reason } => format!("rolling back: {reason}"),
        Phase::Done => "done".into(),
    }
}

fn done_text(code: &str) -> &'static str {
    match code {
        "approved" => "Approved: the execution proceeds.",
        "rejected" => "Rejected: the execution rolls back.",
        "rollback" => "Rollback requested: traffic goes back to the baseline.",
        "paused" => "Paused: the current stage finishes, then the execution waits.",
        "resumed" => "Resumed.",
        c if c.ends_with("-queued") => {
            "Queued: the execution is in the middle of a step (a router or smoke test); \
             your action applies when the step ends. This page refreshes."
        }
        _ => "Done.",
    }
}

async fn execution_chart(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = viewer(&state, &headers, &format!("/ui/executions/{id}")) {
        return r;
    }
    let key = id.clone();
    let found = blocking(&state.store, move |s| {
        Ok::<_, crate::store::StoreError>((s.get_execution(&key)?, s.execution_events(&key, None)?))
    })
    .await;
    match found {
        Ok((Some(rec), events)) => {
            let unfinished = rec.status == "running" || rec.status == "paused";
            let end = if unfinished {
                now_s()
            } else {
                rec.updated_ms as f64 / 1000.0
            };
            svg_response(charts::execution_svg(&execution_timeline(&events, end)))
        }
        Ok((None, _)) => not_found(&format!("execution `{id}`")),
        Err(e) => store_error(e),
    }
}

// ------------------------------------------------------------------ actions

#[derive(Deserialize)]
struct JudgmentForm {
    decision: String,
    #[serde(default)]
    by: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    csrf: String,
}

#[derive(Deserialize)]
struct ByForm {
    #[serde(default)]
    by: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    csrf: String,
}

/// Who the decision is recorded under: the form's name, else the token's.
fn author(v: &Viewer, by: &str) -> Option<String> {
    let by = by.trim();
    if !by.is_empty() {
        Some(by.to_string())
    } else {
        v.name.clone()
    }
}

/// Submit an operator's event; on success back to the page (303), else the page with why.
async fn act(state: &AppState, v: &Viewer, id: &str, event: Event, done: &str) -> Response {
    let submitted = state
        .pipelines
        .submit_within(id, event, OPERATOR_WAIT)
        .await;
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

async fn judgment(
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
    let event = Event::Judgment {
        now: now_s(),
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

async fn rollback(
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
    let event = Event::Rollback {
        now: now_s(),
        by,
        reason: f.reason,
    };
    act(&state, &v, &id, event, "rollback").await
}

async fn pause(
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
    act(&state, &v, &id, Event::Pause { now: now_s(), by }, "paused").await
}

async fn resume(
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
    act(
        &state,
        &v,
        &id,
        Event::Resume { now: now_s(), by },
        "resumed",
    )
    .await
}

#[cfg(test)]
mod session_tests {
    use super::*;

    /// Sign-ins with one token never end another token's session.
    #[test]
    fn sessions_are_capped_per_token() {
        let sessions = Sessions::default();
        let operator = sessions.start("write-token");
        for _ in 0..(MAX_SESSIONS_PER_TOKEN + 500) {
            sessions.start("read-token");
        }
        assert!(
            sessions.get(&operator).is_some(),
            "the operator is still signed in"
        );
        let map = sessions.map.lock().unwrap();
        let reads = map.values().filter(|s| s.token == "read-token").count();
        assert_eq!(reads, MAX_SESSIONS_PER_TOKEN);
    }
}
