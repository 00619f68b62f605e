//! Scrape steps: a collected pair split into batches of one step each, in time order — what
//! sequential judges and hosts as the unit replay.

use canary_judges::{MetricPair, Sample};

use crate::collectors::CollectedPair;

/// One step's batch: the end of the step (unix seconds) and its data.
pub type Batch = (f64, MetricPair);

/// Split a pair into batches of `step_s` seconds from `t0`, in time order. Observations
/// without a timestamp (or a pair without any) form one batch at the end. Histograms step
/// by their per-step counts ([`CollectedPair::histogram_steps`]) when they have them.
pub fn batches(pair: &CollectedPair, t0: f64, step_s: f64) -> Vec<Batch> {
    let index = |t: f64| {
        if t.is_finite() {
            ((t - t0) / step_s).floor().max(0.0) as i64
        } else {
            i64::MAX
        }
    };
    let arms = [&pair.pair.baseline, &pair.pair.canary];
    let stepped = |arm: usize| {
        matches!(arms[arm], Sample::Histogram { .. }) && !pair.histogram_steps[arm].is_empty()
    };
    let mut keys: Vec<i64> = Vec::new();
    for (arm, sample) in arms.into_iter().enumerate() {
        if stepped(arm) {
            keys.extend(pair.histogram_steps[arm].iter().map(|s| index(s.t)));
            continue;
        }
        let n = sample_len(sample);
        for k in 0..n {
            keys.push(index(pair.times[arm].get(k).copied().unwrap_or(f64::NAN)));
        }
    }
    keys.sort_unstable();
    keys.dedup();
    let select = |arm: usize, key: i64| -> Sample {
        let (sample, times) = (arms[arm], &pair.times[arm]);
        let keep = |k: usize| index(times.get(k).copied().unwrap_or(f64::NAN)) == key;
        match sample {
            Sample::Histogram { bounds, .. } if stepped(arm) => {
                let mut counts = vec![0.0; bounds.len()];
                for step in pair.histogram_steps[arm]
                    .iter()
                    .filter(|s| index(s.t) == key)
                {
                    for (acc, c) in counts.iter_mut().zip(&step.counts) {
                        *acc += c;
                    }
                }
                Sample::Histogram {
                    bounds: bounds.clone(),
                    counts,
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
            _ => sample.subset(keep),
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
                baseline: select(0, key),
                canary: select(1, key),
            };
            (end, batch)
        })
        .collect()
}

fn sample_len(s: &Sample) -> usize {
    match s {
        Sample::Values(v) | Sample::Aggregates { values: v, .. } => v.len(),
        Sample::Counts { events, totals } => events.len().min(totals.len()),
        Sample::Histogram { .. } => 1,
    }
}
