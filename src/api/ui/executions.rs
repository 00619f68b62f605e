//! Pipelines and executions: the lists, one execution with its timeline, event log, split and pending judgment.

use super::*;

pub(super) async fn pipelines(State(state): State<AppState>, headers: HeaderMap) -> Response {
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

pub(super) async fn pipeline(
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

pub(super) fn execution_table(execs: &[ExecutionRecord]) -> Markup {
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

pub(super) fn awaiting(state: Option<&Execution>) -> bool {
    matches!(
        state.map(|s| &s.phase),
        Some(Phase::AwaitingJudgment { .. })
    )
}

pub(super) fn split_text(s: &Execution) -> String {
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

pub(super) async fn executions(
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
pub(super) struct ExecutionQuery {
    pub(super) done: Option<String>,
}

pub(super) async fn execution(
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
pub(super) async fn execution_page(
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
    let judgment =
        pending_judgment(state, state_now.as_ref(), stage, last_analysis.as_deref()).await;
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
        @if let Some(j) = &judgment { (judgment_panel(j, v, &action("judgment"), &by)) }
        @if unfinished && v.may_write() { (actions_panel(v, &rec.id, &rec.status, &by)) }
        section {
            h2 { "Traffic" }
            figure #timeline { (PreEscaped(charts::execution_svg(&timeline))) }
        }
        (events_section(&events))
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

/// The judgment the execution waits for, if any: a manual-judgment stage's, or a person's
/// decision on an analysis that was not a pass (with that analysis, `last_analysis`).
async fn pending_judgment(
    state: &AppState,
    state_now: Option<&Execution>,
    stage: Option<&Stage>,
    last_analysis: Option<&str>,
) -> Option<Judgment> {
    match (state_now.map(|s| &s.phase), stage.map(|s| &s.kind)) {
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
            let analysis = match last_analysis {
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
    }
}

/// The judgment panel: what is asked, the analysis behind it, the deadline, and the
/// buttons for those who may decide.
fn judgment_panel(j: &Judgment, v: &Viewer, action: &str, by: &str) -> Markup {
    let csrf = &v.csrf;
    html! {
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
                form.inline method="post" action=(action) {
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
}

/// Roll back, pause or resume an unfinished execution.
fn actions_panel(v: &Viewer, id: &str, status: &str, by: &str) -> Markup {
    let csrf = &v.csrf;
    let action = |what: &str| format!("/ui/executions/{id}/{what}");
    html! {
        section.panel.actions {
            form.inline method="post" action=(action("rollback")) {
                input type="hidden" name="csrf" value=(csrf);
                label { "by " input type="text" name="by" value=(by) required; }
                label { "reason " input type="text" name="reason" size="30"; }
                button.rollback type="submit" id="rollback" { "Roll back now" }
            }
            @if status == "running" {
                form.inline method="post" action=(action("pause")) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="by" value=(if by.is_empty() { "ui" } else { by });
                    button type="submit" id="pause" { "Pause after this stage" }
                }
            } @else {
                form.inline method="post" action=(action("resume")) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="by" value=(if by.is_empty() { "ui" } else { by });
                    button type="submit" id="resume" { "Resume" }
                }
            }
        }
    }
}

/// Every event of the execution, oldest first.
fn events_section(events: &[ExecutionEvent]) -> Markup {
    html! {
    section {
        h2 { "Events (" (events.len()) ")" }
        table.list #events {
            thead { tr { th.n { "#" } th { "time" } th { "event" } th { "target" } th { "stage" } th { "detail" } th { "split" } } }
            tbody {
                @for e in events {
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
    }
}

/// A judgment an execution waits for.
pub(super) struct Judgment {
    pub(super) message: String,
    pub(super) approvers: Vec<String>,
    pub(super) deadline: f64,
    /// What happens at the deadline, as a clause: "the execution rolls back".
    pub(super) at_deadline: &'static str,
    pub(super) analysis: Option<HeldAnalysis>,
}

/// The analysis behind a judgment: what it could not decide and why.
pub(super) struct HeldAnalysis {
    pub(super) id: String,
    pub(super) verdict: String,
    /// Each pair that did not pass (worse, undecided, without data) with its judged
    /// numbers and checks.
    pub(super) undecided: Vec<String>,
    /// The holds that are missing evidence.
    pub(super) held: Vec<String>,
}

pub(super) async fn held_analysis(state: &AppState, id: &str) -> Option<HeldAnalysis> {
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

pub(super) fn split_of(v: &Value) -> String {
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

pub(super) fn phase_text(p: &Phase) -> String {
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

pub(super) fn done_text(code: &str) -> &'static str {
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

pub(super) async fn execution_chart(
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
