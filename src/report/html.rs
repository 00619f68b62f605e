//! The HTML report of an analysis: one self-contained page (inline CSS and SVG, no scripts,
//! no external assets) with the verdict, the score, the groups, and a row per metric pair
//! with its numbers, reason, query and charts, failing pairs first.
//!
//! `canaryd analyze --report FILE.html` writes it; `canaryd serve` shows the same page for
//! every stored analysis. Both render from a [`ReportView`], the report's JSON schema
//! (docs/output.md) read back, so a stored report and a fresh one look the same.

use std::collections::{BTreeMap, HashMap};

use canary_judges::{Classification, Judged};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use rayon::prelude::*;
use serde::Deserialize;

use super::charts::{self, EstimateMarks, MarkScale};
use super::{rank, score_num};
use crate::analysis::AnalysisReport;
use crate::analysis::detail::PairDetail;
use crate::collectors::display_name;

/// An analysis report as its JSON schema has it (`canaryd.analysis.v1`); numbers that were
/// not finite are `null`, so every number is optional here.
#[derive(Debug, Clone, Deserialize)]
pub struct ReportView {
    pub config: String,
    pub verdict: String,
    pub score: Option<f64>,
    #[serde(default)]
    pub reason: String,
    pub thresholds: ThresholdsView,
    #[serde(default)]
    pub groups: Vec<GroupView>,
    #[serde(default)]
    pub metrics: Vec<MetricView>,
    /// What held the verdict back (missing or undecided evidence).
    #[serde(default)]
    pub holds: Vec<HoldView>,
    #[serde(default)]
    pub warnings: Vec<String>,
    #[serde(default)]
    pub scoring: Option<String>,
    /// Hosts pooled or hosts as the unit (reports stored before it have none).
    #[serde(default)]
    pub replicates: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HoldView {
    pub kind: String,
    #[serde(default)]
    pub subject: String,
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ThresholdsView {
    pub pass: f64,
    pub marginal: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GroupView {
    pub name: String,
    pub score: Option<f64>,
    #[serde(default)]
    pub no_data: bool,
    pub weight: Option<f64>,
    #[serde(default)]
    pub pass: usize,
    #[serde(default)]
    pub high: usize,
    #[serde(default)]
    pub low: usize,
    #[serde(default)]
    pub nodata_fail: usize,
    #[serde(default)]
    pub nodata: usize,
    #[serde(default)]
    pub error: usize,
    #[serde(default)]
    pub inconclusive: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MetricView {
    pub metric: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub classification: Classification,
    #[serde(default)]
    pub critical: bool,
    #[serde(default)]
    pub muted: bool,
    #[serde(default)]
    pub judge: String,
    pub estimate: Option<f64>,
    pub ci: Option<[Option<f64>; 2]>,
    pub p_value: Option<f64>,
    pub effect_size: Option<f64>,
    pub effect_size_measure: Option<String>,
    pub mean_ratio: Option<f64>,
    pub baseline: SummaryView,
    pub canary: SummaryView,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub query: String,
    /// The judged quantity and checks (reports stored before it have none).
    #[serde(default)]
    pub judged: Option<Judged>,
    #[serde(default)]
    pub unit: Option<String>,
    /// Hosts as the unit: every host's number, the broken ones named.
    #[serde(default)]
    pub hosts: Option<crate::analysis::hosts::HostsReport>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SummaryView {
    #[serde(default)]
    pub count: usize,
    pub mean: Option<f64>,
}

impl MetricView {
    pub fn display_name(&self) -> String {
        display_name(&self.metric, &self.labels)
    }

    fn failed(&self) -> bool {
        self.classification.is_failure() && !self.muted
    }
}

/// A stored report that does not read as a report (written by an incompatible version).
#[derive(Debug, thiserror::Error)]
#[error("the stored report cannot be read: {0}")]
pub struct UnreadableReport(#[source] pub serde_json::Error);

impl ReportView {
    /// The view of a fresh report (through its JSON, like a stored one).
    pub fn of(report: &AnalysisReport) -> ReportView {
        let value = serde_json::to_value(report).expect("an analysis report always serialises");
        serde_json::from_value(value).expect("a report reads back as its view")
    }

    /// The view of a stored report.
    pub fn from_json(value: &serde_json::Value) -> Result<ReportView, UnreadableReport> {
        ReportView::deserialize(value).map_err(UnreadableReport)
    }

    /// Pair indices (into `metrics`) in display order: failures first.
    pub fn ordered(&self) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.metrics.len()).collect();
        v.sort_by_key(|&i| {
            let m = &self.metrics[i];
            rank(m.classification, m.critical, m.muted)
        });
        v
    }
}

/// Facts about the analysis shown under the title (id, scopes, window, …), in order.
#[derive(Debug, Clone, Default)]
pub struct ReportMeta {
    pub facts: Vec<(String, String)>,
    /// The analysis is still running: its verdict is the latest interval's, not final.
    pub interim: bool,
}

/// Where a pair's charts come from.
#[derive(Debug, Clone, Copy)]
pub enum ChartMode<'a> {
    /// Every chart inline (a self-contained file).
    Inline,
    /// Charts of pairs that did not pass inline; the others as lazily loaded images under
    /// `base`: `{base}/{pair}/{chart}.svg`, `pair` being the index into the details and
    /// `chart` one of `distribution`, `series`, `sequence`. Keeps big pages fast.
    Lazy { base: &'a str },
}

/// The standard page: title, inline style, `nav` links above the content.
pub fn page(title: &str, nav: &[(&str, &str)], body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                @if !nav.is_empty() {
                    nav {
                        @for (href, label) in nav {
                            a href=(href) { (label) }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
    .into_string()
}

/// A whole self-contained report page.
pub fn report_page(view: &ReportView, details: &[PairDetail], meta: &ReportMeta) -> String {
    let title = format!("canary analysis {} — {}", view.config, view.verdict);
    page(
        &title,
        &[],
        report_body(view, details, meta, ChartMode::Inline),
    )
}

/// The report's content (no page around it), for embedding in the daemon's pages.
pub fn report_body(
    view: &ReportView,
    details: &[PairDetail],
    meta: &ReportMeta,
    mode: ChartMode<'_>,
) -> Markup {
    let by_name: HashMap<&str, usize> = details
        .iter()
        .enumerate()
        .map(|(i, d)| (d.name.as_str(), i))
        .collect();
    let order = view.ordered();
    let failing = order.iter().filter(|&&i| view.metrics[i].failed()).count();
    // Rows render in parallel: the charts are most of the work.
    let rows: Vec<String> = order
        .par_iter()
        .map(|&i| {
            let m = &view.metrics[i];
            let name = m.display_name();
            let detail = by_name.get(name.as_str()).map(|&k| (k, &details[k]));
            pair_row(i, m, &name, detail, mode).into_string()
        })
        .collect();
    html! {
        (verdict_header(view, meta, failing))
        (groups_section(view))
        section #pairs {
            h2 { "Metric pairs (" (view.metrics.len()) ")" }
            table.pairs {
                thead { tr {
                    th { "metric" } th { "result" } th { "judged: baseline → canary" }
                    th { "checks (bound) ✓ ok ✗ worse" } th.n { "p-value" }
                    th.n { "n baseline / canary" }
                } }
                @for row in &rows { (PreEscaped(row)) }
            }
        }
    }
}

/// The verdict at the top: badge, score, reason, holds, warnings and facts.
fn verdict_header(view: &ReportView, meta: &ReportMeta, failing: usize) -> Markup {
    html! {
    header.verdict {
        h1 {
            "Canary analysis " code { (view.config) } " "
            @if meta.interim {
                span.badge.running title="the analysis is still running" { "RUNNING" }
                " "
                span.interim title="the latest interval's verdict; the analysis has not ended" {
                    "interim: " span class={ "badge " (view.verdict) } { (view.verdict.to_uppercase()) }
                }
            } @else {
                span class={ "badge " (view.verdict) } { (view.verdict.to_uppercase()) }
            }
        }
        p.score {
            "score " strong { (view.score.map_or("–".into(), score_num)) }
            " (pass ≥ " (num(Some(view.thresholds.pass)))
            ", marginal ≥ " (num(Some(view.thresholds.marginal))) ")"
            @if failing > 0 {
                " · " a href="#pairs" { (failing) " failing pair" @if failing != 1 { "s" } }
            }
        }
        @if !view.reason.is_empty() { p.reason { (view.reason) } }
        @if !view.replicates.is_empty() { p.replicates { (view.replicates) } }
        @if !view.holds.is_empty() {
            section.holds {
                h2 { "Held: what is missing or undecided" }
                ul {
                    @for h in &view.holds {
                        li data-kind=(h.kind) { (h.message) }
                    }
                }
            }
        }
        @if !view.warnings.is_empty() {
            section.warnings {
                h2 { "Warnings" }
                ul { @for w in &view.warnings { li { (w) } } }
            }
        }
        @if let Some(rules) = &view.scoring {
            p.scoring { "scored by " code { (rules) } "'s rules" }
        }
        @if !meta.facts.is_empty() {
            dl.facts {
                @for (k, v) in &meta.facts { dt { (k) } dd { (v) } }
            }
        }
    }
    }
}

/// Each group's score and counts.
fn groups_section(view: &ReportView) -> Markup {
    html! {
    @if !view.groups.is_empty() {
        section {
            h2 { "Groups" }
            table.groups {
                thead { tr {
                    th { "group" } th.n { "score" } th.n { "weight" } th.n { "pass" }
                    th.n { "high" } th.n { "low" } th.n { "nodata_fail" } th.n { "nodata" }
                    th.n { "error" } th.n { "inconclusive" }
                } }
                tbody {
                    @for g in &view.groups {
                        tr {
                            td { (g.name) }
                            td.n { @if g.no_data { (super::group_state(g.nodata + g.error, g.inconclusive)) } @else { (g.score.map_or("–".into(), score_num)) } }
                            td.n { (num(g.weight)) }
                            td.n { (g.pass) } td.n { (g.high) } td.n { (g.low) }
                            td.n { (g.nodata_fail) } td.n { (g.nodata) } td.n { (g.error) }
                            td.n { (g.inconclusive) }
                        }
                    }
                }
            }
        }
    }
    }
}

/// A number for a cell; a missing one is a dash.
fn num(v: Option<f64>) -> String {
    dash(super::num(v))
}

fn p_value(v: Option<f64>) -> String {
    dash(super::p_value(v))
}

fn dash(s: String) -> String {
    if s == "-" { "–".into() } else { s }
}

fn result_label(m: &MetricView) -> String {
    let mut s = m.classification.as_str().to_uppercase();
    if m.critical {
        s.push_str(" (critical)");
    }
    if m.muted {
        s.push_str(" (muted)");
    }
    s
}

/// A file-name stem for a pair: `latency{api="/checkout"}` → `latency-api-checkout`.
pub fn slug(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') {
            s.push('-');
        }
    }
    s.trim_matches('-').to_string()
}

/// The anchor of a pair's row: stable for a name, safe in an id.
pub fn anchor(name: &str) -> String {
    let mut s = String::from("pair-");
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            s.push(c);
        } else {
            s.push('_');
        }
    }
    s
}

/// One `<tbody>` per pair: its numbers, then its reason, query and charts.
fn pair_row(
    index: usize,
    m: &MetricView,
    name: &str,
    detail: Option<(usize, &PairDetail)>,
    mode: ChartMode<'_>,
) -> Markup {
    let class = if m.muted {
        "muted"
    } else {
        m.classification.as_str()
    };
    let open = m.classification != Classification::Pass && !m.muted;
    html! {
        tbody.pair id=(anchor(name)) data-classification=(m.classification.as_str()) data-index=(index) {
            tr class={ "row " (class) } {
                td { a href={ "#" (anchor(name)) } { code { (name) } } }
                td { span class={ "badge " (class) } { (result_label(m)) } }
                td.judged { (dash(super::judged_text(m.judged.as_ref(), m.unit.as_deref()))) }
                td.checks { (dash(super::checks_text(m.judged.as_ref(), m.unit.as_deref()))) }
                td.n { (p_value(m.p_value)) }
                td.n { (m.baseline.count) " / " (m.canary.count) }
            }
            tr.more {
                td colspan="6" {
                    details open[open] {
                        summary { (m.reason) }
                        @if let Some(h) = &m.hosts { p.hosts { (h.text()) } }
                        p.query { "judge " code { (m.judge) } " · data " code { (m.query) } }
                        @if let Some((k, d)) = detail {
                            div.charts { (pair_charts(m, k, d, if open { ChartMode::Inline } else { mode })) }
                        } @else {
                            p.nocharts { "No chart data for this pair." }
                        }
                    }
                }
            }
        }
    }
}

/// How to mark a judge's estimate on the distribution chart.
pub fn marks(m: &MetricView) -> EstimateMarks {
    let scale = if m.judge == "sequential" {
        MarkScale::Ratio
    } else {
        MarkScale::Shift
    };
    // The judged quantity, where it lives on the value axis: a threshold judge's aggregate
    // (never a rate of counts against an axis of per-interval rates it is not), a
    // Mann–Whitney judge's means; and the bound the canary's value was held against.
    let (judged, quantity, bound) = match &m.judged {
        Some(j) if m.judge != "sequential" => {
            // A check's bound on the value axis: absolute bounds are there already,
            // relative ones are placed from the baseline's value.
            let on_axis = |c: &canary_judges::Check| -> Option<(f64, String)> {
                let limit = c.max.or(c.min)?;
                let n = canary_judges::format_number;
                let (v, how) = match c.name.as_str() {
                    "ratio" => {
                        let b = j.baseline?;
                        (limit * b, format!(" = {} × baseline {}", n(limit), n(b)))
                    }
                    "increase" => {
                        let b = j.baseline?;
                        (b + limit, format!(" = baseline {} + {}", n(b), n(limit)))
                    }
                    "decrease" => {
                        let b = j.baseline?;
                        (b - limit, format!(" = baseline {} − {}", n(b), n(limit)))
                    }
                    name if j.quantity.split(' ').next() == Some(name) => (limit, String::new()),
                    _ => return None,
                };
                Some((v, format!("bound {}{how}", n(v))))
            };
            // The bound that decided: a failed check's, else the first on the axis.
            let bound = j
                .checks
                .iter()
                .filter(|c| c.failed)
                .find_map(on_axis)
                .or_else(|| j.checks.iter().find_map(on_axis));
            ([j.baseline, j.canary], Some(j.quantity.clone()), bound)
        }
        _ => ([None, None], None, None),
    };
    let (bound, bound_label) = match bound {
        Some((v, label)) => (Some(v), Some(label)),
        None => (None, None),
    };
    if m.judge == "threshold" {
        // Its estimate is a difference of aggregates (p99s, rates), not a shift of the
        // distribution: marking it at the baseline's median would mislead.
        return EstimateMarks {
            estimate: None,
            ci: None,
            scale,
            judged,
            quantity,
            bound,
            bound_label,
        };
    }
    EstimateMarks {
        estimate: m.estimate,
        ci: match m.ci {
            Some([Some(a), Some(b)]) => Some([a, b]),
            _ => None,
        },
        scale,
        judged,
        quantity,
        bound,
        bound_label,
    }
}

fn pair_charts(m: &MetricView, index: usize, d: &PairDetail, mode: ChartMode<'_>) -> Markup {
    // A histogram has no time steps: no series chart rather than an empty one.
    let mut kinds = vec!["distribution"];
    if !d.series.is_empty() {
        kinds.push("series");
    }
    if d.sequence.is_some() {
        kinds.push("sequence");
    }
    match mode {
        ChartMode::Inline => html! {
            figure { (PreEscaped(charts::distribution_svg(d, &marks(m)))) }
            @if !d.series.is_empty() { figure { (PreEscaped(charts::series_svg(d))) } }
            @if let Some(svg) = charts::sequence_svg(d) { figure { (PreEscaped(svg)) } }
        },
        ChartMode::Lazy { base } => html! {
            @for kind in kinds {
                figure {
                    img loading="lazy" width="560" height="240"
                        alt={ (kind) " chart of " (d.name) }
                        src={ (base) "/" (index) "/" (kind) ".svg" };
                }
            }
        },
    }
}

/// One chart of one pair as SVG, for [`ChartMode::Lazy`] pages; `None` for an unknown
/// chart or one the pair does not have.
pub fn pair_chart(m: &MetricView, d: &PairDetail, kind: &str) -> Option<String> {
    match kind {
        "distribution" => Some(charts::distribution_svg(d, &marks(m))),
        "series" => Some(charts::series_svg(d)),
        "sequence" => charts::sequence_svg(d),
        _ => None,
    }
}

/// The page style: readable without any script, printable, dark text on light ground.
const STYLE: &str = r#"
:root { --pass:#1a7f37; --fail:#cf222e; --marginal:#9a6700; --muted:#6e7781; --line:#d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:#1f2328; margin:0; background:#f6f8fa; }
nav { background:#24292f; padding:.5rem 1rem; display:flex; gap:1rem; flex-wrap:wrap; }
nav a { color:#fff; text-decoration:none; font-weight:600; }
main { max-width: 1200px; margin: 0 auto; padding: 1rem; background:#fff; min-height: 100vh; }
h1 { font-size: 1.5rem; margin: .3rem 0; } h2 { font-size: 1.15rem; margin-top: 1.5rem; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, monospace; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background:#f6f8fa; font-weight:600; } .n { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display:inline-block; padding:.05rem .45rem; border-radius: 1rem; font-size:.8rem; font-weight:700; color:#fff; background:var(--muted); white-space:nowrap; }
.badge.pass, .badge.succeeded, .badge.approved { background:var(--pass); }
.badge.fail, .badge.high, .badge.low, .badge.nodata_fail, .badge.error, .badge.failed, .badge.rolled_back, .badge.rejected { background:var(--fail); }
.badge.marginal, .badge.inconclusive, .badge.nodata, .badge.paused, .badge.waiting { background:var(--marginal); }
.badge.running { background:#0969da; }
tr.row.high td, tr.row.low td, tr.row.nodata_fail td, tr.row.error td { background:#ffebe9; }
tr.more td { border-bottom: 2px solid var(--line); padding-top: 0; }
details summary { cursor: pointer; color:#57606a; } details[open] summary { color:#1f2328; }
.charts { display:flex; flex-wrap:wrap; gap:.5rem; } figure { margin:.25rem 0; }
figure svg, figure img { max-width: 100%; height: auto; border:1px solid var(--line); border-radius:4px; }
.reason { background:#fff8c5; padding:.4rem .6rem; border-radius:4px; }
dl.facts { display:grid; grid-template-columns: max-content 1fr; gap:.15rem 1rem; margin:.5rem 0; }
dl.facts dt { color:#57606a; } dl.facts dd { margin:0; }
form.inline { display:inline-flex; gap:.4rem; align-items:center; flex-wrap:wrap; margin:.25rem 0; }
input, select, textarea, button { font: inherit; padding:.25rem .5rem; }
button { border:1px solid var(--line); border-radius:6px; background:#f6f8fa; cursor:pointer; font-weight:600; }
button.approve { background:var(--pass); color:#fff; } button.reject, button.rollback { background:var(--fail); color:#fff; }
.panel { border:1px solid var(--line); border-radius:6px; padding:.75rem 1rem; margin:.75rem 0; }
.panel.judgment { border-color: var(--marginal); background:#fff8c5; }
.panel > h2:first-child { margin-top: 0; }
.panel.actions { display:flex; gap:1rem; flex-wrap:wrap; }
.flash { padding:.5rem .75rem; border-radius:6px; background:#ddf4ff; margin:.5rem 0; }
.flash.error { background:#ffebe9; }
.pager { display:flex; gap:1rem; margin:.5rem 0; }
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::detail::{ArmDistribution, SeriesPoint};
    use serde_json::json;

    fn view() -> ReportView {
        ReportView::from_json(&json!({
            "schema": "canaryd.analysis.v1", "config": "checkout", "verdict": "fail", "score": 0.0,
            "reason": "Canary Failed: critical metric", "thresholds": {"pass": 95.0, "marginal": 75.0},
            "groups": [{"name": "latency", "score": 50.0, "no_data": false, "weight": 100.0,
                        "pass": 1, "high": 1, "low": 0, "nodata_fail": 0, "nodata": 0, "error": 0, "inconclusive": 0},
                       {"name": "errors", "score": 0.0, "no_data": true, "weight": 0.0,
                        "pass": 0, "high": 0, "low": 0, "nodata_fail": 0, "nodata": 0, "error": 0, "inconclusive": 2},
                       {"name": "system", "score": 0.0, "no_data": true, "weight": 0.0,
                        "pass": 0, "high": 0, "low": 0, "nodata_fail": 0, "nodata": 1, "error": 0, "inconclusive": 0}],
            "holds": [{"kind": "undecided", "subject": "", "message": "2 of 4 metric results undecided at the horizon"}],
            "metrics": [
                {"metric": "latency", "labels": {"api": "/search"}, "classification": "pass", "critical": false,
                 "muted": false, "groups": ["latency"], "judge": "mann_whitney", "estimate": 0.5, "ci": [-1.0, 2.0],
                 "p_value": 0.4, "effect_size": null, "effect_size_measure": null, "mean_ratio": 1.01, "aggregate": null,
                 "baseline": {"count": 100, "mean": 50.0, "std": 1.0, "min": 1.0, "max": 90.0},
                 "canary": {"count": 100, "mean": 50.5, "std": 1.0, "min": 1.0, "max": 90.0},
                 "reason": "no significant difference", "query": "latency{api=\"/search\"}"},
                {"metric": "latency", "labels": {"api": "/checkout"}, "classification": "high", "critical": true,
                 "muted": false, "groups": ["latency"], "judge": "mann_whitney", "estimate": 70.0, "ci": [60.0, null],
                 "p_value": 1e-9, "effect_size": 1.4, "effect_size_measure": "mean_ratio", "mean_ratio": 1.4, "aggregate": null,
                 "baseline": {"count": 100, "mean": null, "std": 1.0, "min": 1.0, "max": 90.0},
                 "canary": {"count": 100, "mean": 120.0, "std": 1.0, "min": 1.0, "max": 90.0},
                 "reason": "canary higher <b>", "query": "latency{api=\"/checkout\"}"}
            ]
        }))
        .expect("a valid view")
    }

    fn detail(name: &str) -> PairDetail {
        let arm = |shift: f64| ArmDistribution {
            count: 3.0,
            ecdf: vec![[1.0 + shift, 0.33], [2.0 + shift, 0.66], [3.0 + shift, 1.0]],
        };
        PairDetail {
            unit: None,
            name: name.into(),
            kind: "value".into(),
            baseline: arm(0.0),
            canary: arm(1.0),
            series: vec![SeriesPoint {
                t: 1.7e9,
                baseline: Some(1.0),
                canary: Some(2.0),
            }],
            sequence: None,
        }
    }

    #[test]
    fn failing_pairs_come_first_with_their_charts_and_text_is_escaped() {
        let v = view();
        let details = vec![
            detail("latency{api=\"/search\"}"),
            detail("latency{api=\"/checkout\"}"),
        ];
        let html = report_page(&v, &details, &ReportMeta::default());
        let checkout = html
            .find("pair-latency_api___checkout__")
            .expect("checkout row");
        let search = html
            .find("pair-latency_api___search__")
            .expect("search row");
        assert!(checkout < search, "the failing pair is first");
        assert!(html.contains("HIGH (critical)") && html.contains("1 failing pair"));
        assert!(
            html.contains("canary higher &lt;b&gt;"),
            "reasons are escaped"
        );
        // No scripts and nothing fetched: no external src, href or url() (the SVG namespace
        // is a name, not a fetch).
        for fetch in [
            "<script",
            "src=\"http",
            "href=\"http",
            "url(http",
            "@import",
        ] {
            assert!(!html.contains(fetch), "{fetch}");
        }
        assert_eq!(
            html.matches("<svg").count(),
            4,
            "two charts per pair, inline"
        );
        // A group whose pairs are all undecided is inconclusive, not "no data"; holds show.
        let groups = &html[html.find("table class=\"groups\"").expect("groups table")..];
        let errors = &groups[groups.find("<td>errors</td>").expect("errors row")..];
        assert!(errors[..120].contains("inconclusive"), "{errors}");
        let system = &groups[groups.find("<td>system</td>").expect("system row")..];
        assert!(system[..120].contains("no data"), "{system}");
        assert!(
            html.contains("undecided at the horizon"),
            "holds are listed"
        );
        // A report stored before judged numbers existed shows dashes, not zeros.
        assert!(html.contains("<td class=\"judged\">–</td>"), "{html}");
    }

    #[test]
    fn a_running_analysis_shows_its_verdict_as_interim() {
        let v = view();
        let running = ReportMeta {
            interim: true,
            ..ReportMeta::default()
        };
        let html = report_page(&v, &[], &running);
        let header = &html[html.find("<header").expect("header")..];
        let header = &header[..header.find("</header>").expect("header end")];
        assert!(
            header.contains("RUNNING") && header.contains("interim: "),
            "{header}"
        );
        let ended = report_page(&v, &[], &ReportMeta::default());
        assert!(!ended.contains("interim: "));
    }

    #[test]
    fn lazy_mode_links_passing_charts_and_inlines_failing_ones() {
        let v = view();
        let details = vec![
            detail("latency{api=\"/search\"}"),
            detail("latency{api=\"/checkout\"}"),
        ];
        let body = report_body(
            &v,
            &details,
            &ReportMeta::default(),
            ChartMode::Lazy {
                base: "/ui/analyses/a1/charts",
            },
        )
        .into_string();
        assert_eq!(body.matches("<svg").count(), 2);
        assert!(body.contains("src=\"/ui/analyses/a1/charts/0/distribution.svg\""));
        assert!(body.contains("src=\"/ui/analyses/a1/charts/0/series.svg\""));
        assert!(!body.contains("charts/1/"));
    }

    #[test]
    fn slugs_are_file_names() {
        assert_eq!(slug("latency{api=\"/checkout\"}"), "latency-api-checkout");
        assert_eq!(
            slug("error_rate{api=\"/a b\",region=\"eu\"}"),
            "error_rate-api-a-b-region-eu"
        );
    }

    #[test]
    fn pairs_without_details_say_so() {
        let html = report_page(&view(), &[], &ReportMeta::default());
        assert_eq!(html.matches("No chart data for this pair.").count(), 2);
    }
}
