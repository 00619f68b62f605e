//! One analysis: collected pairs → a judgement per pair → group scores → verdict, as an
//! [`AnalysisReport`] that carries every number behind the verdict.
//!
//! Pairs are judged in parallel (each judge is pure), and the report keeps the config's
//! metric order, then label order, so output is stable for the same input.
//! [`timeline`] replays pairs with timestamps step by step for sequential judges.

pub mod detail;
pub mod hosts;
pub mod live;
pub mod steps;
pub mod timeline;

use std::collections::BTreeMap;

use canary_judges::{
    AggregateDetail, Classification, EffectSizeMeasure, GroupScore, Hold, Judge, Judged, Judgement,
    ScoreInput, ScoringRules, Summary, Thresholds, Verdict, score_with,
};
use rayon::prelude::*;
use serde::Serialize;

use crate::collectors::{CollectedPair, Labels, display_name};
use crate::config::{CanaryConfig, MetricConfig};

/// Version tag of the JSON schema (docs/output.md). Bumped only on breaking changes.
pub const REPORT_SCHEMA: &str = "canaryd.analysis.v1";

/// The outcome of one analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalysisReport {
    pub schema: &'static str,
    /// The canary config's name.
    pub config: String,
    pub verdict: Verdict,
    pub score: f64,
    /// Why the score is what it is, when a rule overrode the weighted sum.
    pub reason: String,
    pub thresholds: Thresholds,
    /// The scoring rules that decided the verdict (`canaryd` unless Kayenta's were chosen).
    pub scoring: ScoringRules,
    /// Everything that holds the analysis back from a verdict (missing or undecided
    /// evidence); empty when nothing does.
    pub holds: Vec<Hold>,
    /// Problems worth a look that did not stop the analysis: config series without data,
    /// input series no metric reads, config fields canaryd ignored.
    pub warnings: Vec<String>,
    /// What the judges took as replicates: hosts pooled (every request, or interval, is
    /// one), or hosts as the unit for the metrics with a `unit_label`. One sentence.
    pub replicates: String,
    pub groups: Vec<GroupScore>,
    pub metrics: Vec<MetricReport>,
}

/// Labels that usually name a host: pairs split by one of them without a `unit_label`
/// compare different machines that happen to share a name.
const HOST_LIKE: &[&str] = &["host", "hostname", "instance", "pod", "node", "container"];

/// The [`AnalysisReport::replicates`] sentence, and a warning when pairs are split by a
/// host-like label that is not the unit.
fn replicates(config: &CanaryConfig, pairs: &[CollectedPair]) -> (String, Vec<String>) {
    let mut by_hosts: Vec<String> = Vec::new();
    let mut pooled = false;
    let mut split_by_host: std::collections::BTreeSet<&str> = Default::default();
    for p in pairs {
        let m = &config.metrics[p.metric];
        match &m.unit_label {
            Some(l) => {
                let s = format!("{} (`{l}`)", m.name);
                if !by_hosts.contains(&s) {
                    by_hosts.push(s);
                }
            }
            None => {
                pooled = true;
                for k in p.labels.keys() {
                    if let Some(h) = HOST_LIKE.iter().find(|h| **h == k.as_str()) {
                        split_by_host.insert(h);
                    }
                }
            }
        }
    }
    let sentence = match (by_hosts.is_empty(), pooled) {
        (true, _) => "hosts pooled: every request (or interval) is a replicate, host-to-host differences are not told apart from a regression; set `unit_label` to judge hosts as the unit".to_string(),
        (false, false) => format!("hosts as the unit: {}", by_hosts.join(", ")),
        (false, true) => format!(
            "hosts as the unit: {}; every other metric pools hosts (requests are the replicates)",
            by_hosts.join(", ")
        ),
    };
    let warnings = split_by_host
        .into_iter()
        .map(|l| {
            format!(
                "pairs are split by `{l}`: the baseline's `{l}=\"x\"` is judged against the canary's `{l}=\"x\"`, different machines; set `unit_label = \"{l}\"` to judge the fleets host by host"
            )
        })
        .collect();
    (sentence, warnings)
}

/// The judgement of one metric pair, flattened for output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricReport {
    pub metric: String,
    pub labels: Labels,
    pub classification: Classification,
    /// A critical failure: it alone sets the score to 0.
    pub critical: bool,
    pub muted: bool,
    pub groups: Vec<String>,
    pub judge: &'static str,
    /// Shift estimate (canary − baseline) or aggregate difference.
    pub estimate: Option<f64>,
    pub ci: Option<[f64; 2]>,
    pub p_value: Option<f64>,
    pub effect_size: Option<f64>,
    pub effect_size_measure: Option<EffectSizeMeasure>,
    /// mean(canary) / mean(baseline).
    pub mean_ratio: Option<f64>,
    pub aggregate: Option<AggregateDetail>,
    pub baseline: Summary,
    pub canary: Summary,
    pub reason: String,
    /// Which data was judged (file selector or query).
    pub query: String,
    /// The quantity the judge decided on, on each side, and the checks with their bounds:
    /// what every output shows for the pair (`null` when nothing was judged).
    pub judged: Option<Judged>,
    /// The unit of the metric's values (`unit` in the config, or the Prometheus suffix).
    pub unit: Option<String>,
    /// When a sequential judge decided this pair: the end of the deciding step (unix
    /// seconds), from the same replay as its reason and chart. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<f64>,
    /// Hosts as the unit (`unit_label`): each host's number and the canary hosts named as
    /// broken. Absent when hosts were pooled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<hosts::HostsReport>,
}

impl MetricReport {
    /// `metric{labels}`.
    pub fn display_name(&self) -> String {
        display_name(&self.metric, &self.labels)
    }
}

/// NaN and infinities are not numbers a reader can use: report them as absent.
fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// Judge every pair and score the result. `thresholds` overrides the config's own.
pub fn analyze(
    config: &CanaryConfig,
    pairs: &[CollectedPair],
    thresholds: Option<Thresholds>,
) -> AnalysisReport {
    let never = std::sync::atomic::AtomicBool::new(false);
    analyze_unless(config, pairs, thresholds, &never).expect("an analysis nobody cancels completes")
}

/// [`analyze`], abandoned (`None`) once `cancelled` is set: pairs not yet judged are
/// skipped, so the work stops within one pair's judging of the cancel (a caller who gave
/// up — a request timeout — costs no more CPU than that).
pub fn analyze_unless(
    config: &CanaryConfig,
    pairs: &[CollectedPair],
    thresholds: Option<Thresholds>,
    cancelled: &std::sync::atomic::AtomicBool,
) -> Option<AnalysisReport> {
    use std::sync::atomic::Ordering;
    let units = hosts::merge(config, pairs);
    let merged: Vec<CollectedPair> = units.iter().map(|u| u.pair.clone()).collect();
    let pairs = &merged[..];
    let judges = build_judges(config, pairs);
    let sequential = sequential_pairs(config, pairs);
    let band = kind_pairs(config, pairs, canary_judges::JudgeKind::Band);
    // Hosts as the unit replay the data in steps; one-shot callers give no step.
    let t0 = timeline::start_time(pairs).unwrap_or(0.0);
    let step = timeline::infer_step(pairs).unwrap_or(60.0);
    let judged: Vec<Option<(Judgement, Option<hosts::HostsReport>)>> = units
        .par_iter()
        .map(|u| {
            if cancelled.load(Ordering::Relaxed) {
                return None;
            }
            let p = &u.pair;
            let metric = &config.metrics[p.metric];
            let n = host_pairs(metric, band, sequential);
            if let Some(h) = hosts::judge(metric, u, n, t0, step, true, None) {
                return Some((with_note(h.judgement, p), Some(h.report)));
            }
            Some((
                with_note(judges[p.metric].judge(&metric.options, &p.pair), p),
                None,
            ))
        })
        .collect();
    let judged: Vec<(Judgement, Option<hosts::HostsReport>)> =
        judged.into_iter().collect::<Option<_>>()?;
    if cancelled.load(Ordering::Relaxed) {
        return None;
    }
    let (judgements, reports): (Vec<Judgement>, Vec<Option<hosts::HostsReport>>) =
        judged.into_iter().unzip();
    let mut report = assemble(config, pairs, judgements, thresholds);
    for (m, h) in report.metrics.iter_mut().zip(reports) {
        m.hosts = h;
    }
    Some(report)
}

/// How many pairs the sequential judges (and hosts as the unit, judged with their
/// settings) split the analysis' α among.
pub(crate) fn sequential_pairs(config: &CanaryConfig, pairs: &[CollectedPair]) -> usize {
    kind_pairs(config, pairs, canary_judges::JudgeKind::Sequential)
}

/// How many pairs a judge kind's analysis-wide α is split among.
pub(crate) fn kind_pairs(
    config: &CanaryConfig,
    pairs: &[CollectedPair],
    kind: canary_judges::JudgeKind,
) -> usize {
    pairs
        .iter()
        .filter(|p| config.metrics[p.metric].judge.kind() == kind)
        .count()
}

/// The pairs sharing α with hosts judged as the unit for `metric`: the `band` judge's
/// pairs when it judges the metric, else the sequential judges' (whose settings the host
/// test uses).
pub(crate) fn host_pairs(metric: &MetricConfig, band: usize, sequential: usize) -> usize {
    if metric.judge.kind() == canary_judges::JudgeKind::Band {
        band
    } else {
        sequential
    }
}

/// One judge per metric. Judges with an analysis-wide error budget (sequential) split it
/// among the pairs of their kind.
pub(crate) fn build_judges(config: &CanaryConfig, pairs: &[CollectedPair]) -> Vec<Box<dyn Judge>> {
    let mut pairs_per_kind: BTreeMap<&'static str, usize> = BTreeMap::new();
    for p in pairs {
        *pairs_per_kind
            .entry(config.metrics[p.metric].judge.kind().as_str())
            .or_default() += 1;
    }
    config
        .metrics
        .iter()
        .map(|m| {
            m.judge.build_for_pairs(
                pairs_per_kind
                    .get(m.judge.kind().as_str())
                    .copied()
                    .unwrap_or(1),
            )
        })
        .collect()
}

/// Prefix a judgement's reason with the collector's note (why an arm is empty). A plain
/// `nodata` is wholly explained by the note: the judge's own "no data" would only repeat it.
pub(crate) fn with_note(mut j: Judgement, pair: &CollectedPair) -> Judgement {
    if let Some(note) = &pair.note {
        j.reason = if j.classification == Classification::Nodata {
            note.clone()
        } else {
            format!("{note}; {}", j.reason)
        };
    }
    j
}

/// Score judgements (one per pair, same order) into a report.
pub(crate) fn assemble(
    config: &CanaryConfig,
    pairs: &[CollectedPair],
    judgements: Vec<Judgement>,
    thresholds: Option<Thresholds>,
) -> AnalysisReport {
    let names: Vec<String> = pairs
        .iter()
        .map(|p| display_name(&config.metrics[p.metric].name, &p.labels))
        .collect();
    let inputs: Vec<ScoreInput<'_>> = pairs
        .iter()
        .zip(&judgements)
        .zip(&names)
        .map(|((p, j), name)| {
            let m = &config.metrics[p.metric];
            ScoreInput {
                name,
                metric: &m.name,
                groups: &m.groups,
                muted: m.muted,
                critical: m.options.critical,
                judgement: j,
            }
        })
        .collect();
    let thresholds = thresholds.unwrap_or(config.thresholds);
    let card = score_with(
        &inputs,
        &config.group_weights,
        thresholds,
        config.scoring.unwrap_or_default(),
        config.combine,
    );

    let metrics = pairs
        .iter()
        .zip(judgements)
        .map(|(p, j)| {
            let m = &config.metrics[p.metric];
            MetricReport {
                metric: m.name.clone(),
                labels: p.labels.clone(),
                classification: j.classification,
                critical: j.critical,
                muted: m.muted,
                groups: m.groups.clone(),
                judge: m.judge.kind().as_str(),
                estimate: finite(j.estimate),
                ci: j.ci.map(|(a, b)| [a, b]),
                p_value: finite(j.p_value),
                effect_size: j.effect_size.and_then(|e| finite(Some(e.value))),
                effect_size_measure: j.effect_size.map(|e| e.measure),
                mean_ratio: finite(j.mean_ratio),
                aggregate: j.aggregate,
                baseline: j.baseline,
                canary: j.canary,
                reason: j.reason,
                query: p.query.clone(),
                judged: j.judged,
                unit: m.unit.clone(),
                decided_at: None,
                hosts: None,
            }
        })
        .collect();
    let (replicates, host_warnings) = replicates(config, pairs);
    let mut warnings = config.warnings.clone();
    warnings.extend(host_warnings);
    AnalysisReport {
        replicates,
        schema: REPORT_SCHEMA,
        config: config.name.clone(),
        verdict: card.verdict,
        score: card.score,
        reason: card.reason,
        thresholds,
        scoring: card.rules,
        holds: card.holds,
        warnings,
        groups: card.groups,
        metrics,
    }
}

/// Counts of classifications, for summaries.
pub fn classification_counts(report: &AnalysisReport) -> BTreeMap<Classification, usize> {
    let mut counts = BTreeMap::new();
    for m in &report.metrics {
        *counts.entry(m.classification).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod cancel_tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// A cancelled analysis judges nothing more and answers nothing.
    #[test]
    fn a_cancelled_analysis_stops_and_answers_nothing() {
        let config = CanaryConfig::parse(
            "name = \"c\"\n[[metrics]]\nname = \"m\"\n",
            crate::config::source::Format::Toml,
            "c",
        )
        .expect("config");
        let pair = |i: usize| CollectedPair {
            histogram_steps: Default::default(),
            steps: Vec::new(),
            metric: 0,
            labels: [("api".to_string(), i.to_string())].into(),
            pair: canary_judges::MetricPair::from_values(
                (0..200).map(f64::from).collect(),
                (0..200).map(|x| f64::from(x) * 1.5).collect(),
            ),
            query: "inline".into(),
            note: None,
            times: [Vec::new(), Vec::new()],
        };
        let pairs: Vec<CollectedPair> = (0..50).map(pair).collect();
        let go = AtomicBool::new(false);
        let done = analyze_unless(&config, &pairs, None, &go).expect("not cancelled");
        assert_eq!(done.metrics.len(), 50);
        let stop = AtomicBool::new(true);
        assert!(analyze_unless(&config, &pairs, None, &stop).is_none());
    }
}
