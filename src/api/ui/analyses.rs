//! Analyses: the filtered list, one analysis with its report, its charts and the report file.

use super::*;

#[derive(Deserialize, Default)]
pub(super) struct AnalysesQuery {
    pub(super) status: Option<String>,
    pub(super) application: Option<String>,
    pub(super) config: Option<String>,
    pub(super) page: Option<u32>,
}

pub(super) fn blank(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

pub(super) async fn analyses(
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
pub(super) fn scope(request: &Value, arm: &str) -> String {
    request[arm]["scope"]
        .as_str()
        .or_else(|| request["scopes"][arm].as_str())
        .unwrap_or("–")
        .to_string()
}

pub(super) fn facts(r: &AnalysisRecord) -> ReportMeta {
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
pub(super) async fn load_analysis(
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
            message_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Unreadable report",
                &e.to_string(),
            )
        })?),
        None => None,
    };
    let details: Vec<PairDetail> = details
        .and_then(|d| serde_json::from_str(&d).ok())
        .unwrap_or_default();
    Ok((rec, view, details))
}

pub(super) async fn analysis(
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

pub(super) async fn analysis_report(
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
        Ok((_, None, _)) => crate::api::ApiError::new(
            StatusCode::CONFLICT,
            "not_ready",
            "no interval of this analysis has been judged yet",
        )
        .into_response(),
        // The page-shaped error says which: a missing analysis, or a store that cannot be read.
        Err(r) if r.status() == StatusCode::NOT_FOUND => crate::api::ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no analysis `{id}`"),
        )
        .into_response(),
        Err(r) => crate::api::ApiError::new(
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

pub(super) async fn analysis_chart(
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
pub(super) fn svg_response(svg: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        svg,
    )
        .into_response()
}
