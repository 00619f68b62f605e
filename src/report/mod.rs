//! Renderers of an [`AnalysisReport`]: a table for terminals, Markdown for pull requests
//! and chat, and JSON with a stable schema for machines (docs/output.md).

pub mod charts;
pub mod html;

use std::fmt::Write as _;

use canary_judges::{Check, Classification, Judged};
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

/// A number as the judges' reasons write it (`-` when absent), so cells and reasons agree.
pub(crate) fn num(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => canary_judges::format_number(v),
        Some(v) if v.is_infinite() => if v > 0.0 { "∞" } else { "−∞" }.to_string(),
        _ => "-".to_string(),
    }
}

/// What a group with nothing judged is: `no data` (nodata and errors only), `inconclusive`
/// (sequential judges undecided only), or `not judged` (both).
pub fn group_state(missing: usize, undecided: usize) -> &'static str {
    match (missing, undecided) {
        (0, u) if u > 0 => "inconclusive",
        (_, 0) => "no data",
        _ => "not judged",
    }
}

/// The unit of a quantity or check named `name` (ratios, CLES and rates have none).
pub fn unit_for<'a>(name: &str, unit: Option<&'a str>) -> Option<&'a str> {
    canary_judges::judgement::unit_for(name, unit)
}

/// The judged quantity on both sides, `p99 113.05 → 145.2 ms`; `-` when nothing was judged.
pub fn judged_text(judged: Option<&Judged>, unit: Option<&str>) -> String {
    judged.map_or_else(|| "-".into(), |j| j.describe(unit))
}

/// One check with its interval and bound, `ratio 1.2843 (max 1.25) ✗`.
pub fn check_text(c: &Check, quantity_unit: Option<&str>) -> String {
    c.describe(quantity_unit)
}

/// Every check of the pair, `; `-separated; `-` when none.
pub fn checks_text(judged: Option<&Judged>, unit: Option<&str>) -> String {
    match judged {
        Some(j) if !j.checks.is_empty() => j.describe_checks(unit),
        _ => "-".into(),
    }
}

/// `n 599 / 598`: the observations behind the pair (requests for event counts).
fn counts_text(m: &MetricReport) -> String {
    format!("{} / {}", m.baseline.count, m.canary.count)
}

/// Most characters of a detail shown where there is room for one line.
pub const SHORT_DETAIL: usize = 100;

/// The first line of an event's detail or a reason, at most [`SHORT_DETAIL`] characters
/// (cut at a word), with `…` when anything was left out: the CLI's status table and the
/// web UI's event list show this, the whole text one flag or one click away.
pub fn short_detail(detail: &str) -> String {
    let first = detail.lines().next().unwrap_or("");
    if first.chars().count() <= SHORT_DETAIL {
        return if first.len() < detail.trim_end().len() {
            format!("{first} …")
        } else {
            first.to_string()
        };
    }
    let cut: String = first.chars().take(SHORT_DETAIL).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > SHORT_DETAIL / 2 => &cut[..i],
        _ => cut.as_str(),
    };
    format!("{} …", cut.trim_end())
}

/// Scores print like Kayenta rounds them: two decimals.
pub(crate) fn score_num(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

pub(crate) fn p_value(v: Option<f64>) -> String {
    canary_judges::format_p_value(v)
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
    let _ = writeln!(out, "{}", report.replicates);
    let groups: Vec<String> = report
        .groups
        .iter()
        .map(|g| {
            let score = if g.no_data {
                group_state(g.nodata + g.error, g.inconclusive).to_string()
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
            "judged: baseline → canary",
            "checks (bound) ✓ ok ✗ worse",
            "p-value",
            "n baseline / canary",
        ]);
    for m in ordered(report) {
        let unit = m.unit.as_deref();
        t.add_row([
            Cell::new(m.display_name()),
            Cell::new(result_label(m)),
            Cell::new(judged_text(m.judged.as_ref(), unit)),
            Cell::new(checks_text(m.judged.as_ref(), unit)),
            Cell::new(p_value(m.p_value)),
            Cell::new(counts_text(m)),
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
            if let Some(h) = &m.hosts {
                let _ = writeln!(out, "  {}", h.text());
            }
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
    let _ = writeln!(out, "{}\n", report.replicates);
    let _ = writeln!(
        out,
        "| group | score | weight | pass | high | low | nodata_fail | nodata | error |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for g in &report.groups {
        let score = if g.no_data {
            group_state(g.nodata + g.error, g.inconclusive).to_string()
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
        "\n| metric | result | judged: baseline → canary | checks (bound) | p-value | n baseline / canary | reason |"
    );
    let _ = writeln!(out, "|---|---|---|---|---:|---:|---|");
    for m in ordered(report) {
        let unit = m.unit.as_deref();
        let _ = writeln!(
            out,
            "| `{}` | **{}** | {} | {} | {} | {} | {} |",
            md_escape(&m.display_name()),
            result_label(m),
            md_escape(&judged_text(m.judged.as_ref(), unit)),
            md_escape(&checks_text(m.judged.as_ref(), unit)),
            p_value(m.p_value),
            counts_text(m),
            md_escape(&match &m.hosts {
                Some(h) => format!("{} ({})", m.reason, h.text()),
                None => m.reason.clone(),
            })
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_details_are_cut_to_their_first_line_at_a_word() {
        assert_eq!(short_detail("rolled back"), "rolled back");
        assert_eq!(
            short_detail("verdict FAIL, score 0 (1 worse)\nworse: latency HIGH (p90 …)"),
            "verdict FAIL, score 0 (1 worse) …"
        );
        let long = "word ".repeat(60);
        let s = short_detail(&long);
        assert!(
            s.ends_with(" …") && s.chars().count() <= SHORT_DETAIL + 2,
            "{s}"
        );
        assert!(!s.trim_end_matches(" …").ends_with(' '), "{s}");
        // Multi-byte characters are never split.
        let wide = "é".repeat(300);
        assert!(short_detail(&wide).starts_with("éé"));
    }
}
