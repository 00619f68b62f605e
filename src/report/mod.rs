//! Renderers of an [`AnalysisReport`]: a table for terminals, Markdown for pull requests
//! and chat, and JSON with a stable schema for machines (docs/output.md).

pub mod charts;
pub mod detail;
pub mod html;

use std::fmt::Write as _;

use canary_judges::Classification;
use comfy_table::{Cell, ContentArrangement, Table, presets};

use crate::analysis::{AnalysisReport, MetricReport};

/// Output formats of `canaryd analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Markdown,
}

/// Render `report` in `format`.
pub fn render(report: &AnalysisReport, format: OutputFormat) -> String {
    match format {
        OutputFormat::Table => table(report),
        OutputFormat::Json => json(report),
        OutputFormat::Markdown => markdown(report),
    }
}

/// Pretty JSON, newline-terminated.
pub fn json(report: &AnalysisReport) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("an analysis report always serialises");
    s.push('\n');
    s
}

/// Where a pair sorts in every rendering: failures first (critical before others), then
/// missing data and errors, then passes, muted pairs last.
pub fn rank(classification: Classification, critical: bool, muted: bool) -> u8 {
    match classification {
        _ if muted => 4,
        Classification::High | Classification::Low | Classification::NodataFail if critical => 0,
        Classification::High | Classification::Low | Classification::NodataFail => 1,
        Classification::Nodata if critical => 0,
        Classification::Nodata | Classification::Inconclusive | Classification::Error => 2,
        Classification::Pass => 3,
    }
}

/// The pairs by [`rank`], stable within each rank.
fn ordered(report: &AnalysisReport) -> Vec<&MetricReport> {
    let mut v: Vec<&MetricReport> = report.metrics.iter().collect();
    v.sort_by_key(|m| rank(m.classification, m.critical, m.muted));
    v
}

pub(crate) fn num(v: Option<f64>) -> String {
    match v {
        None => "-".to_string(),
        Some(0.0) => "0".to_string(),
        Some(v) if v.abs() >= 1e6 || v.abs() < 1e-3 => format!("{v:.3e}"),
        Some(v) => {
            let s = format!("{v:.4}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        }
    }
}

/// Scores print like Kayenta rounds them: two decimals.
pub(crate) fn score_num(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

pub(crate) fn p_value(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(p) if p < 1e-4 => format!("{p:.1e}"),
        Some(p) => format!("{p:.4}"),
    }
}

fn ci(m: &MetricReport) -> String {
    match m.ci {
        Some([a, b]) => format!("[{}, {}]", num(Some(a)), num(Some(b))),
        None => "-".into(),
    }
}

fn result_label(m: &MetricReport) -> String {
    let mut s = m.classification.as_str().to_uppercase();
    if m.critical {
        s.push_str(" (critical)");
    }
    if m.muted {
        s.push_str(" (muted)");
    }
    s
}

fn headline(report: &AnalysisReport) -> String {
    format!(
        "{} — score {} (pass ≥ {}, marginal ≥ {})",
        report.verdict.as_str().to_uppercase(),
        score_num(report.score),
        report.thresholds.pass,
        report.thresholds.marginal
    )
}

fn table(report: &AnalysisReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "canary analysis `{}`: {}",
        report.config,
        headline(report)
    );
    if !report.reason.is_empty() {
        let _ = writeln!(out, "{}", report.reason);
    }
    let groups: Vec<String> = report
        .groups
        .iter()
        .map(|g| {
            let score = if g.no_data {
                "no data".to_string()
            } else {
                score_num(g.score)
            };
            format!("{} {score} (weight {})", g.name, num(Some(g.weight)))
        })
        .collect();
    let _ = writeln!(out, "groups: {}", groups.join(" · "));
    out.push('\n');

    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header([
            "metric",
            "result",
            "baseline mean (n)",
            "canary mean (n)",
            "estimate",
            "interval",
            "p-value",
            "ratio",
        ]);
    for m in ordered(report) {
        t.add_row([
            Cell::new(m.display_name()),
            Cell::new(result_label(m)),
            Cell::new(format!(
                "{} ({})",
                num(Some(m.baseline.mean)),
                m.baseline.count
            )),
            Cell::new(format!("{} ({})", num(Some(m.canary.mean)), m.canary.count)),
            Cell::new(num(m.estimate)),
            Cell::new(ci(m)),
            Cell::new(p_value(m.p_value)),
            Cell::new(num(m.mean_ratio)),
        ]);
    }
    let _ = writeln!(out, "{t}");
    let notable: Vec<&MetricReport> = ordered(report)
        .into_iter()
        .filter(|m| m.classification != Classification::Pass)
        .collect();
    if !notable.is_empty() {
        out.push('\n');
        for m in notable {
            let _ = writeln!(
                out,
                "{} {}: {}",
                result_label(m),
                m.display_name(),
                m.reason
            );
        }
    }
    out
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

fn markdown(report: &AnalysisReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Canary analysis `{}`: {}\n",
        report.config,
        headline(report)
    );
    if !report.reason.is_empty() {
        let _ = writeln!(out, "> {}\n", report.reason);
    }
    let _ = writeln!(
        out,
        "| group | score | weight | pass | high | low | nodata_fail | nodata | error |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for g in &report.groups {
        let score = if g.no_data {
            "no data".to_string()
        } else {
            score_num(g.score)
        };
        let _ = writeln!(
            out,
            "| {} | {score} | {} | {} | {} | {} | {} | {} | {} |",
            md_escape(&g.name),
            num(Some(g.weight)),
            g.pass,
            g.high,
            g.low,
            g.nodata_fail,
            g.nodata,
            g.error
        );
    }
    let _ = writeln!(
        out,
        "\n| metric | result | baseline mean (n) | canary mean (n) | estimate | interval | p-value | mean ratio | reason |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---|---:|---:|---|");
    for m in ordered(report) {
        let _ = writeln!(
            out,
            "| `{}` | **{}** | {} ({}) | {} ({}) | {} | {} | {} | {} | {} |",
            md_escape(&m.display_name()),
            result_label(m),
            num(Some(m.baseline.mean)),
            m.baseline.count,
            num(Some(m.canary.mean)),
            m.canary.count,
            num(m.estimate),
            ci(m),
            p_value(m.p_value),
            num(m.mean_ratio),
            md_escape(&m.reason)
        );
    }
    out
}
