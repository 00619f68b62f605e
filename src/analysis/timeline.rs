//! Analyses over time: a collected pair split into scrape-step batches, replayed through
//! the judges in time order. Sequential judges decide at the first step with enough
//! evidence (and that decision stands); the other judges see all the data at once.
//! Used by `canaryd replay` for historical deploys, and the basis of live analyses.

use canary_judges::{Judge, Judgement, SequentialJudge, Thresholds};
use rayon::prelude::*;

use super::detail::{PairDetail, SequenceStep, SequenceTrace, thin_steps};
use super::{AnalysisReport, assemble, build_judges, with_note};
use crate::collectors::CollectedPair;
use crate::config::CanaryConfig;

pub use super::steps::{Batch, batches};

/// The earliest timestamp of any pair (the start of step 0), if any has timestamps.
pub fn start_time(pairs: &[CollectedPair]) -> Option<f64> {
    pairs
        .iter()
        .flat_map(|p| p.times.iter().flatten())
        .copied()
        .filter(|t| t.is_finite())
        .min_by(f64::total_cmp)
}

/// A sequential judge's replay of one pair: its judgement, when it decided, and its
/// confidence sequence for charts — all from the same pass over the batches, so a reason,
/// a decision time and a chart never disagree.
#[derive(Debug, Clone)]
pub struct SequentialRun {
    pub judgement: Judgement,
    /// The end of the deciding step (unix seconds); `None` while undecided.
    pub decided_at: Option<f64>,
    pub trace: SequenceTrace,
}

/// The most points a sequential judge's chart trace keeps (see [`judge_sequentially`]).
pub const TRACE_STEPS: usize = 40;

/// A decision at `t` (the batch ending at `end`): the trace's outcome, when it came, and
/// when the change it found began (a later start's onset).
fn record_decision(
    state: &mut canary_judges::SequentialState,
    trace: &mut SequenceTrace,
    outcome: canary_judges::Outcome,
    t: f64,
    end: f64,
    t0: f64,
    steps: &[(f64, canary_judges::MetricPair)],
) {
    trace.decided_at = Some(t);
    trace.outcome = match outcome {
        canary_judges::Outcome::Fail => "fail",
        canary_judges::Outcome::Pass => "pass",
        _ => "inconclusive",
    }
    .into();
    // A decision before the data's end is a moment; at its end, one batch of
    // undated data (t = ∞) is not.
    if end.is_finite() {
        state.decided_after_s = Some(end - t0);
    }
    // A change found from a later start: when that start's batch began.
    if let Some(b) = state.onset {
        let began = if b == 0 {
            Some(t0)
        } else {
            steps.get(b - 1).map(|s| s.0).filter(|t| t.is_finite())
        };
        state.onset_after_s = began.map(|t| (t - t0).max(0.0));
    }
}

/// The horizon decides too: the count test's fixed-sample look, and by default every pass
/// (the pass bands' equivalence tests) — a decision at the data's end, `last_t`.
fn close_at_horizon(
    state: &mut canary_judges::SequentialState,
    trace: &mut SequenceTrace,
    last_t: f64,
    t0: f64,
) -> Option<f64> {
    let outcome = state.finish();
    if !matches!(
        outcome,
        canary_judges::Outcome::Pass | canary_judges::Outcome::Fail
    ) {
        return None;
    }
    trace.decided_at = Some(last_t);
    trace.outcome = if outcome == canary_judges::Outcome::Pass {
        "pass"
    } else {
        "fail"
    }
    .into();
    state.decided_after_s = Some(last_t - t0);
    Some(last_t)
}

/// Judge one pair over time with a sequential judge: the state sees the batches in order
/// and stops at its first decision. At the `horizon` an undecided test is closed
/// (inconclusive, then its configured action); before it, it stays undecided.
///
/// The confidence sequence is read after every ⌈batches / [`TRACE_STEPS`]⌉-th batch, the
/// last one and the deciding one: reading it costs a bound computation per pair, the
/// updates are the judging itself.
pub fn judge_sequentially(
    judge: &SequentialJudge,
    pair: &CollectedPair,
    options: &canary_judges::MetricOptions,
    t0: f64,
    step_s: f64,
    horizon: bool,
) -> SequentialRun {
    let k = 1.0 + judge.config().tolerance;
    let mut trace = SequenceTrace {
        band: [1.0 / k, k],
        steps: Vec::new(),
        decided_at: None,
        outcome: "continue".into(),
    };
    // Empty arms and garbage (unsorted buckets, events over totals) are the one-shot
    // judge's to name.
    if pair.pair.baseline.is_empty() || pair.pair.canary.is_empty() || pair.pair.problem().is_some()
    {
        return SequentialRun {
            judgement: judge.judge(options, &pair.pair),
            decided_at: None,
            trace,
        };
    }
    let steps = batches(pair, t0, step_s);
    let last_t = steps
        .iter()
        .map(|s| s.0)
        .filter(|t| t.is_finite())
        .max_by(f64::total_cmp)
        .unwrap_or(t0 + step_s);
    let stride = steps.len().div_ceil(TRACE_STEPS).max(1);
    let finite = |v: f64| v.is_finite().then_some(v);
    let mut state = judge.start(options);
    let mut decided = None;
    let mut standing = canary_judges::Outcome::Continue;
    for (i, (end, batch)) in steps.iter().enumerate() {
        let outcome = state.update(batch);
        let t = if end.is_finite() { *end } else { last_t };
        // A new decision: the first pass, or a failure (also one after a pass: a passed
        // test keeps watching for a regression that begins later).
        let decisive = outcome != standing && outcome != canary_judges::Outcome::Continue;
        standing = outcome;
        if decisive || i + 1 == steps.len() || (i + 1) % stride == 0 {
            let (estimate, ci) = state.interval();
            trace.steps.push(SequenceStep {
                t,
                estimate: estimate.and_then(finite),
                lower: ci.and_then(|c| finite(c.0)),
                upper: ci.and_then(|c| finite(c.1)),
            });
        }
        if decisive {
            decided = Some(t);
            record_decision(&mut state, &mut trace, outcome, t, *end, t0, &steps);
            if outcome != canary_judges::Outcome::Pass {
                break;
            }
        }
    }
    if horizon && decided.is_none() {
        decided = close_at_horizon(&mut state, &mut trace, last_t, t0);
    } else if horizon {
        state.finish();
    }
    // The seconds of data the judgement stands on: its sizing advice ("about N more per
    // arm, ~12 min at the current rate") converts requests to time with them.
    state.elapsed_s = Some(decided.unwrap_or(last_t) - t0).filter(|s| s.is_finite() && *s > 0.0);
    let mut j = canary_judges::sequential::with_summaries(state.judgement(), options, &pair.pair);
    j.critical = options.critical && j.classification.is_failure();
    trace.steps = thin_steps(std::mem::take(&mut trace.steps));
    SequentialRun {
        judgement: j,
        decided_at: decided.filter(|t| t.is_finite()),
        trace,
    }
}

/// An analysis replayed over time, and when its sequential judges decided.
#[derive(Debug, Clone)]
pub struct TimedAnalysis {
    pub report: AnalysisReport,
    /// Seconds from the start to the first failure, or to the moment every sequential
    /// pair had decided; `None` without sequential pairs or when one never decided.
    pub decided_after_s: Option<f64>,
    /// Per pair (in the pairs' order), the sequential judge's confidence sequence.
    pub traces: Vec<Option<SequenceTrace>>,
}

/// Analyse pairs with timestamps, stepping sequential judges through `step_s` batches;
/// the other judges see all the data at once.
pub fn analyze_over_time(
    config: &CanaryConfig,
    pairs: &[CollectedPair],
    thresholds: Option<Thresholds>,
    step_s: f64,
) -> TimedAnalysis {
    let t0 = start_time(pairs).unwrap_or(0.0);
    analyze_from(config, pairs, thresholds, t0, step_s, true)
}

/// [`analyze_over_time`] from a given start `t0`; before the `horizon` undecided
/// sequential pairs stay undecided (a live analysis between intervals).
pub fn analyze_from(
    config: &CanaryConfig,
    pairs: &[CollectedPair],
    thresholds: Option<Thresholds>,
    t0: f64,
    step_s: f64,
    horizon: bool,
) -> TimedAnalysis {
    analyze_planned(config, pairs, thresholds, t0, step_s, horizon, None)
}

/// [`analyze_from`] knowing when the analysis is planned to end (unix seconds; a live
/// analysis' start + max_duration): hosts as the unit spread their looks over that
/// horizon, the same in every interval's call, rather than over the data so far.
pub fn analyze_planned(
    config: &CanaryConfig,
    pairs: &[CollectedPair],
    thresholds: Option<Thresholds>,
    t0: f64,
    step_s: f64,
    horizon: bool,
    planned_end: Option<f64>,
) -> TimedAnalysis {
    let units = super::hosts::merge(config, pairs);
    let merged: Vec<CollectedPair> = units.iter().map(|u| u.pair.clone()).collect();
    let pairs = &merged[..];
    let judges = build_judges(config, pairs);
    let n_sequential = super::sequential_pairs(config, pairs);
    let n_band = super::kind_pairs(config, pairs, canary_judges::JudgeKind::Band);
    let sequential: Vec<Option<SequentialJudge>> = config
        .metrics
        .iter()
        .map(|m| m.judge.streaming(n_sequential))
        .collect();
    type Judged = (
        Judgement,
        Option<SequentialRun>,
        Option<super::hosts::HostsReport>,
        Option<Option<f64>>,
    );
    let results: Vec<Judged> = units
        .par_iter()
        .map(|u| {
            let p = &u.pair;
            let metric = &config.metrics[p.metric];
            let options = &metric.options;
            let n = super::host_pairs(metric, n_band, n_sequential);
            if let Some(h) = super::hosts::judge(metric, u, n, t0, step_s, horizon, planned_end) {
                return (
                    with_note(h.judgement, p),
                    None,
                    Some(h.report),
                    Some(h.decided_at),
                );
            }
            match &sequential[p.metric] {
                Some(seq) => {
                    let run = judge_sequentially(seq, p, options, t0, step_s, horizon);
                    let at = run.decided_at;
                    (
                        with_note(run.judgement.clone(), p),
                        Some(run),
                        None,
                        Some(at),
                    )
                }
                None => (
                    with_note(judges[p.metric].judge(options, &p.pair), p),
                    None,
                    None,
                    None,
                ),
            }
        })
        .collect();
    let times: Vec<Option<Option<f64>>> = results.iter().map(|r| r.3).collect();
    let mut judgements = Vec::with_capacity(results.len());
    let mut traces = Vec::with_capacity(results.len());
    let mut host_reports = Vec::with_capacity(results.len());
    for (j, run, hosts, _) in results {
        judgements.push(j);
        traces.push(run.map(|r| r.trace));
        host_reports.push(hosts);
    }
    let mut report = assemble(config, pairs, judgements, thresholds);
    for ((m, t), h) in report.metrics.iter_mut().zip(&times).zip(host_reports) {
        m.decided_at = t.flatten();
        m.hosts = h;
    }
    let decided_after_s = decided_after(&report, &times, t0);
    TimedAnalysis {
        report,
        decided_after_s,
        traces,
    }
}

/// When the analysis was decided, in seconds after `t0`, from each pair's decision time
/// (`times`: `None` for pairs judged once, `Some(None)` for streaming pairs undecided): the
/// first failure's, else the last pass when every streaming pair passed; `None` without
/// streaming pairs or while one is undecided.
fn decided_after(report: &AnalysisReport, times: &[Option<Option<f64>>], t0: f64) -> Option<f64> {
    let fail_time = report
        .metrics
        .iter()
        .zip(times)
        .filter(|(m, _)| m.classification.is_failure())
        .filter_map(|(_, t)| t.flatten())
        .min_by(f64::total_cmp);
    let seq_times: Vec<Option<f64>> = times.iter().filter_map(|t| *t).collect();
    if seq_times.is_empty() {
        None
    } else if let Some(f) = fail_time {
        Some(f - t0)
    } else if seq_times.iter().all(Option::is_some) {
        seq_times
            .iter()
            .flatten()
            .copied()
            .max_by(f64::total_cmp)
            .map(|t| t - t0)
    } else {
        None
    }
}

/// Chart data of every pair (see [`super::detail`]): distributions and series,
/// and for sequential judges the confidence sequence their judging recorded (`traces`,
/// from [`TimedAnalysis::traces`]; pairs without one get none). Pairs are merged as the
/// analysis merged them (hosts as the unit), so they line up with its traces.
pub fn details(
    config: &CanaryConfig,
    pairs: &[CollectedPair],
    traces: &[Option<SequenceTrace>],
) -> Vec<PairDetail> {
    let merged: Vec<CollectedPair> = super::hosts::merge(config, pairs)
        .into_iter()
        .map(|u| u.pair)
        .collect();
    merged
        .par_iter()
        .enumerate()
        .map(|(i, p)| {
            let metric = &config.metrics[p.metric];
            let mut d = PairDetail::of(&metric.name, p);
            d.sequence = traces.get(i).cloned().flatten();
            d.unit = metric.unit.clone();
            d
        })
        .collect()
}

/// The scrape step of timestamped pairs: the median gap between consecutive distinct
/// timestamps; `None` without at least two.
pub fn infer_step(pairs: &[CollectedPair]) -> Option<f64> {
    let mut ts: Vec<f64> = pairs
        .iter()
        .flat_map(|p| p.times.iter().flatten())
        .copied()
        .filter(|t| t.is_finite())
        .collect();
    ts.sort_by(f64::total_cmp);
    ts.dedup();
    let mut gaps: Vec<f64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
    if gaps.is_empty() {
        return None;
    }
    gaps.sort_by(f64::total_cmp);
    Some(gaps[gaps.len() / 2])
}
