//! Analyses over time: a collected pair split into scrape-step batches, replayed through
//! the judges in time order. Sequential judges decide at the first step with enough
//! evidence (and that decision stands); the other judges see all the data at once.
//! Used by `canaryd replay` for historical deploys, and the basis of live analyses.

use canary_judges::{
    Judge, JudgeConfig, Judgement, MetricPair, Sample, SequentialJudge, Thresholds,
};
use rayon::prelude::*;

use super::{AnalysisReport, assemble, build_judges, with_note};
use crate::collectors::CollectedPair;
use crate::config::CanaryConfig;
use crate::report::detail::{PairDetail, SequenceStep, SequenceTrace, thin_steps};

/// One step's batch: the end of the step (unix seconds) and its data.
pub type Batch = (f64, MetricPair);

/// The earliest timestamp of any pair (the start of step 0), if any has timestamps.
pub fn start_time(pairs: &[CollectedPair]) -> Option<f64> {
    pairs
        .iter()
        .flat_map(|p| p.times.iter().flatten())
        .copied()
        .filter(|t| t.is_finite())
        .min_by(f64::total_cmp)
}

/// Split a pair into batches of `step_s` seconds from `t0`, in time order. Observations
/// without a timestamp (or a pair without any) form one batch at the end.
pub fn batches(pair: &CollectedPair, t0: f64, step_s: f64) -> Vec<Batch> {
    let index = |t: f64| {
        if t.is_finite() {
            ((t - t0) / step_s).floor().max(0.0) as i64
        } else {
            i64::MAX
        }
    };
    let mut keys: Vec<i64> = Vec::new();
    for (arm, sample) in [&pair.pair.baseline, &pair.pair.canary]
        .into_iter()
        .enumerate()
    {
        let n = sample_len(sample);
        for k in 0..n {
            keys.push(index(pair.times[arm].get(k).copied().unwrap_or(f64::NAN)));
        }
    }
    keys.sort_unstable();
    keys.dedup();
    let select = |sample: &Sample, times: &[f64], key: i64| -> Sample {
        let keep = |k: usize| index(times.get(k).copied().unwrap_or(f64::NAN)) == key;
        match sample {
            Sample::Values(v) => Sample::Values(
                v.iter()
                    .enumerate()
                    .filter(|(k, _)| keep(*k))
                    .map(|(_, x)| *x)
                    .collect(),
            ),
            Sample::Counts { events, totals } => {
                let idx: Vec<usize> = (0..events.len().min(totals.len()))
                    .filter(|k| keep(*k))
                    .collect();
                Sample::Counts {
                    events: idx.iter().map(|k| events[*k]).collect(),
                    totals: idx.iter().map(|k| totals[*k]).collect(),
                }
            }
            Sample::Histogram { .. } => {
                if key == i64::MAX || times.is_empty() {
                    sample.clone()
                } else {
                    Sample::Histogram {
                        bounds: vec![],
                        counts: vec![],
                    }
                }
            }
        }
    };
    keys.into_iter()
        .map(|key| {
            let end = if key == i64::MAX {
                f64::INFINITY
            } else {
                t0 + (key + 1) as f64 * step_s
            };
            let batch = MetricPair {
                baseline: select(&pair.pair.baseline, &pair.times[0], key),
                canary: select(&pair.pair.canary, &pair.times[1], key),
            };
            (end, batch)
        })
        .collect()
}

fn sample_len(s: &Sample) -> usize {
    match s {
        Sample::Values(v) => v.len(),
        Sample::Counts { events, totals } => events.len().min(totals.len()),
        Sample::Histogram { .. } => 1,
    }
}

/// Judge one pair over time with a sequential judge: the state sees the batches in order
/// and stops at its first decision. Returns the judgement and when it was reached (the
/// end of the deciding step; `None` if undecided). At the `horizon` an undecided test is
/// closed (inconclusive, then its configured action); before it, it stays undecided.
pub fn judge_sequentially(
    judge: &SequentialJudge,
    pair: &CollectedPair,
    options: &canary_judges::MetricOptions,
    t0: f64,
    step_s: f64,
    horizon: bool,
) -> (Judgement, Option<f64>) {
    let steps = batches(pair, t0, step_s);
    // Empty arms and garbage (unsorted buckets, events over totals) are the one-shot
    // judge's to name.
    if pair.pair.baseline.is_empty() || pair.pair.canary.is_empty() || pair.pair.problem().is_some()
    {
        return (judge.judge(options, &pair.pair), None);
    }
    let mut state = judge.start(options);
    let mut decided = None;
    for (end, batch) in &steps {
        let outcome = state.update(batch);
        if outcome != canary_judges::Outcome::Continue {
            decided = Some(*end);
            break;
        }
    }
    if horizon {
        state.finish();
    }
    let mut j = canary_judges::sequential::with_summaries(state.judgement(), options, &pair.pair);
    j.critical = options.critical && j.classification.is_failure();
    (j, decided.filter(|t| t.is_finite()))
}

/// An analysis replayed over time, and when its sequential judges decided.
#[derive(Debug, Clone)]
pub struct TimedAnalysis {
    pub report: AnalysisReport,
    /// Seconds from the start to the first failure, or to the moment every sequential
    /// pair had decided; `None` without sequential pairs or when one never decided.
    pub decided_after_s: Option<f64>,
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
    let judges = build_judges(config, pairs);
    let sequential: Vec<Option<SequentialJudge>> = config
        .metrics
        .iter()
        .map(|m| match &m.judge {
            JudgeConfig::Sequential(c) => {
                let n = pairs
                    .iter()
                    .filter(|p| config.metrics[p.metric].judge.kind() == m.judge.kind())
                    .count();
                Some(SequentialJudge::new(c.clone()).with_pairs(n))
            }
            _ => None,
        })
        .collect();
    let results: Vec<(Judgement, Option<Option<f64>>)> = pairs
        .par_iter()
        .map(|p| {
            let options = &config.metrics[p.metric].options;
            match &sequential[p.metric] {
                Some(seq) => {
                    let (j, t) = judge_sequentially(seq, p, options, t0, step_s, horizon);
                    (with_note(j, p), Some(t))
                }
                None => (with_note(judges[p.metric].judge(options, &p.pair), p), None),
            }
        })
        .collect();
    let times: Vec<Option<Option<f64>>> = results.iter().map(|r| r.1).collect();
    let report = assemble(
        config,
        pairs,
        results.into_iter().map(|r| r.0).collect(),
        thresholds,
    );
    let fail_time = report
        .metrics
        .iter()
        .zip(&times)
        .filter(|(m, _)| m.classification.is_failure())
        .filter_map(|(_, t)| t.flatten())
        .min_by(f64::total_cmp);
    let seq_times: Vec<Option<f64>> = times.iter().filter_map(|t| *t).collect();
    let decided_after_s = if seq_times.is_empty() {
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
    };
    TimedAnalysis {
        report,
        decided_after_s,
    }
}

/// The most batches a sequential judge's chart trace replays (see [`details`]).
pub const TRACE_STEPS: usize = 40;

/// Chart data of every pair (see [`crate::report::detail`]): distributions and series, and
/// for sequential judges the confidence sequence over `step_s` batches from `t0`.
///
/// The trace steps by at least 1/[`TRACE_STEPS`] of the data's span: per-request data (a
/// timestamp per value) would otherwise make one step per value, and each step costs a
/// whole update of the sequential test (with 1,000 sequential pairs, 200 steps each took
/// 3.8 s on 2 cores, 60 steps 1.5 s; 40 keep a 2,000-pair report well under 2 s and the
/// curve smooth).
pub fn details(
    config: &CanaryConfig,
    pairs: &[CollectedPair],
    t0: f64,
    step_s: f64,
) -> Vec<PairDetail> {
    let t1 = pairs
        .iter()
        .flat_map(|p| p.times.iter().flatten())
        .copied()
        .filter(|t| t.is_finite())
        .max_by(f64::total_cmp)
        .unwrap_or(t0);
    let step_s = step_s.max((t1 - t0) / TRACE_STEPS as f64);
    pairs
        .par_iter()
        .map(|p| {
            let metric = &config.metrics[p.metric];
            let mut d = PairDetail::of(&metric.name, p);
            if let JudgeConfig::Sequential(c) = &metric.judge {
                let n = pairs
                    .iter()
                    .filter(|q| config.metrics[q.metric].judge.kind() == metric.judge.kind())
                    .count();
                let judge = SequentialJudge::new(c.clone()).with_pairs(n);
                d.sequence = Some(trace_sequentially(&judge, p, &metric.options, t0, step_s));
            }
            d
        })
        .collect()
}

/// The confidence sequence of a sequential judge after every batch, up to its decision.
pub fn trace_sequentially(
    judge: &SequentialJudge,
    pair: &CollectedPair,
    options: &canary_judges::MetricOptions,
    t0: f64,
    step_s: f64,
) -> SequenceTrace {
    let k = 1.0 + judge.config().tolerance;
    let mut trace = SequenceTrace {
        band: [1.0 / k, k],
        steps: Vec::new(),
        decided_at: None,
        outcome: "continue".into(),
    };
    if pair.pair.baseline.is_empty() || pair.pair.canary.is_empty() {
        return trace;
    }
    let finite = |v: f64| v.is_finite().then_some(v);
    let mut state = judge.start(options);
    let steps = batches(pair, t0, step_s);
    let last_t = steps
        .iter()
        .map(|s| s.0)
        .filter(|t| t.is_finite())
        .max_by(f64::total_cmp)
        .unwrap_or(t0 + step_s);
    for (end, batch) in &steps {
        let outcome = state.update(batch);
        let (estimate, ci) = state.interval();
        let t = if end.is_finite() { *end } else { last_t };
        trace.steps.push(SequenceStep {
            t,
            estimate: estimate.and_then(finite),
            lower: ci.and_then(|c| finite(c.0)),
            upper: ci.and_then(|c| finite(c.1)),
        });
        match outcome {
            canary_judges::Outcome::Continue => {}
            decided => {
                trace.decided_at = Some(t);
                trace.outcome = match decided {
                    canary_judges::Outcome::Fail => "fail",
                    canary_judges::Outcome::Pass => "pass",
                    _ => "inconclusive",
                }
                .into();
                break;
            }
        }
    }
    trace.steps = thin_steps(std::mem::take(&mut trace.steps));
    trace
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
