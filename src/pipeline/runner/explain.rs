//! What an analysis said, in the words an execution records: a one-line summary, why a
//! verdict held or failed, and the stage outcome it gives.

use super::*;

/// An ended analysis for the event log, rollbacks and notifications: a first line with its
/// verdict, score and counts, then one line per worse pair with its judged numbers and
/// failed checks, what is undecided, and what held it (or the error that ended it).
pub fn analysis_summary(r: &crate::store::AnalysisRecord) -> String {
    let explained = r.report.as_ref().and_then(explain);
    match (r.status, explained) {
        (AnalysisStatus::Succeeded, Some(e)) => format!("analysis {}: {e}", r.id),
        (status, _) => format!(
            "analysis {} ended {}{}",
            r.id,
            match status {
                AnalysisStatus::Succeeded => "without a report",
                AnalysisStatus::Error => "in error",
                AnalysisStatus::Cancelled => "cancelled",
                AnalysisStatus::Running => "running",
            },
            r.error
                .as_ref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ),
    }
}

/// A stored report, as much of it as a summary needs.
#[derive(Deserialize)]
pub(super) struct Explained {
    pub(super) verdict: String,
    pub(super) score: Option<f64>,
    #[serde(default)]
    pub(super) metrics: Vec<ExplainedPair>,
    #[serde(default)]
    pub(super) holds: Vec<ExplainedHold>,
}

#[derive(Deserialize)]
pub(super) struct ExplainedPair {
    pub(super) metric: String,
    #[serde(default)]
    pub(super) labels: crate::collectors::Labels,
    pub(super) classification: canary_judges::Classification,
    #[serde(default)]
    pub(super) muted: bool,
    #[serde(default)]
    pub(super) reason: String,
    #[serde(default)]
    pub(super) judged: Option<canary_judges::Judged>,
    #[serde(default)]
    pub(super) unit: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ExplainedHold {
    pub(super) kind: String,
    pub(super) message: String,
}

/// One pair in a line: its name and class, its judged numbers and its checks (only the
/// failed ones with `only_failed`), or its reason.
fn describe_pair(m: &ExplainedPair, only_failed: bool) -> String {
    let unit = m.unit.as_deref();
    let mut s = format!(
        "{} {}",
        crate::collectors::display_name(&m.metric, &m.labels),
        m.classification.as_str().to_uppercase()
    );
    match &m.judged {
        Some(j) => {
            let u = canary_judges::judgement::unit_for(&j.quantity, unit);
            let checks: Vec<String> = j
                .checks
                .iter()
                .filter(|c| c.failed || !only_failed)
                .map(|c| c.describe(u))
                .collect();
            s.push_str(&format!(" ({}", j.describe(unit)));
            if !checks.is_empty() {
                s.push_str(&format!("; {}", checks.join("; ")));
            }
            s.push(')');
        }
        None if !m.reason.is_empty() => s.push_str(&format!(" ({})", m.reason)),
        None => {}
    }
    s
}

/// Undecided pairs by name only (their numbers are the analysis page's), at most three.
fn undecided_names(r: &Explained) -> Option<String> {
    use canary_judges::Classification;
    let undecided: Vec<String> = r
        .metrics
        .iter()
        .filter(|m| !m.muted && m.classification == Classification::Inconclusive)
        .map(|m| crate::collectors::display_name(&m.metric, &m.labels))
        .collect();
    if undecided.is_empty() {
        return None;
    }
    let mut names = undecided
        .iter()
        .take(3)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if undecided.len() > 3 {
        names.push_str(&format!(" and {} more", undecided.len() - 3));
    }
    Some(names)
}

/// What decided a report's verdict, as lines: first the verdict and score with how many
/// pairs were worse or undecided (a screen with room for one line shows this one), then one
/// line per worse pair with its judged numbers and failed checks, the undecided pairs by
/// name, and the holds (at most three of each). `None` for a report that cannot be read.
pub fn explain(report: &serde_json::Value) -> Option<String> {
    use canary_judges::Classification;
    let r = Explained::deserialize(report).ok()?;
    let mut parts = vec![format!(
        "verdict {}, score {}",
        r.verdict.to_uppercase(),
        r.score.map_or("–".into(), canary_judges::format_number)
    )];
    let list = |pred: &dyn Fn(Classification) -> bool, only_failed: bool| -> Vec<String> {
        let all: Vec<&ExplainedPair> = r
            .metrics
            .iter()
            .filter(|m| !m.muted && pred(m.classification))
            .collect();
        let mut v: Vec<String> = all
            .iter()
            .take(3)
            .map(|m| describe_pair(m, only_failed))
            .collect();
        if all.len() > 3 {
            v.push(format!("and {} more", all.len() - 3));
        }
        v
    };
    let count = |pred: &dyn Fn(Classification) -> bool| {
        r.metrics
            .iter()
            .filter(|m| !m.muted && pred(m.classification))
            .count()
    };
    let (n_worse, n_undecided) = (
        count(&|c| c.is_failure()),
        count(&|c| c == Classification::Inconclusive),
    );
    let mut counts = Vec::new();
    if n_worse > 0 {
        counts.push(format!("{n_worse} worse"));
    }
    if n_undecided > 0 {
        counts.push(format!("{n_undecided} undecided"));
    }
    if !counts.is_empty() {
        parts[0].push_str(&format!(" ({})", counts.join(", ")));
    }
    for w in list(&|c| c.is_failure(), true) {
        match w.strip_prefix("and ") {
            Some(more) => parts.push(format!("worse: … and {more}")),
            None => parts.push(format!("worse: {w}")),
        }
    }
    if let Some(names) = undecided_names(&r) {
        parts.push(format!("undecided: {names}"));
    }
    for h in r.holds.iter().filter(|h| h.kind != "undecided").take(3) {
        parts.push(format!("held: {}", h.message));
    }
    Some(parts.join("\n"))
}

/// What an ended analysis means for its stage. An `inconclusive` held only by missing data
/// is no verdict (held and retried until the deadline); one a sequential judge left
/// undecided is inconclusive (the stage's `on_inconclusive`). A `fail` that no metric found worse (no
/// high or low, and no `must_have_data` metric without data — only Kayenta's "≥ 50 % nodata
/// fails" rule) is no verdict: it holds and is tried again until the stage's deadline
/// instead of rolling back at once.
pub fn outcome_of(
    status: AnalysisStatus,
    verdict: Option<&str>,
    report: &Option<serde_json::Value>,
) -> AnalysisOutcome {
    let found_worse = || {
        report
            .as_ref()
            .and_then(|r| r["metrics"].as_array())
            .is_some_and(|ms| {
                ms.iter().any(|m| {
                    m["muted"] != true
                        && matches!(
                            m["classification"].as_str(),
                            Some("high" | "low" | "nodata_fail")
                        )
                })
            })
    };
    let only_missing_data = || {
        report
            .as_ref()
            .and_then(|r| r["holds"].as_array())
            .is_some_and(|hs| {
                !hs.is_empty() && hs.iter().all(|h| h["kind"].as_str() != Some("undecided"))
            })
    };
    match (status, verdict) {
        (AnalysisStatus::Succeeded, Some("pass")) => AnalysisOutcome::Pass,
        (AnalysisStatus::Succeeded, Some("marginal")) => AnalysisOutcome::Marginal,
        // Inconclusive: the evidence there is would pass. Missing evidence holds and is
        // tried again until the deadline (an outage must not roll back a healthy canary);
        // a sequential judge undecided at its horizon is the stage's `on_inconclusive`.
        (AnalysisStatus::Succeeded, Some("inconclusive")) if only_missing_data() => {
            AnalysisOutcome::NoVerdict
        }
        (AnalysisStatus::Succeeded, Some("inconclusive")) => AnalysisOutcome::Inconclusive,
        (AnalysisStatus::Succeeded, Some("fail")) if found_worse() => AnalysisOutcome::Fail,
        _ => AnalysisOutcome::NoVerdict,
    }
}
