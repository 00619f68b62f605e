//! Request counts beside per-interval aggregates: intervals of too few requests dropped,
//! and the band of canary intervals of fewer requests than the baseline's widened.

use crate::format::num;
use crate::sample::{MetricPair, Sample};
use crate::stats::percentile_sorted;

/// The pair without the intervals of fewer than `min_requests` requests (when it
/// carries counts), and how many were dropped. An interval whose count is missing is
/// kept.
pub(super) fn enough_requests(pair: &MetricPair, min: f64) -> (MetricPair, usize) {
    if min <= 0.0 {
        return (pair.clone(), 0);
    }
    let mut dropped = 0;
    let mut keep = |s: &Sample| -> Sample {
        let requests = match s {
            Sample::Aggregates { requests, .. } => requests,
            Sample::Counts { totals, .. } => totals,
            _ => return s.clone(),
        };
        let kept = s.subset(|i| requests[i].is_nan() || requests[i] >= min);
        dropped += s.len() - kept.len();
        kept
    };
    let kept = MetricPair {
        baseline: keep(&pair.baseline),
        canary: keep(&pair.canary),
    };
    (kept, dropped)
}

/// How much wider the band is for each canary interval: aggregates of fewer requests
/// scatter more. Under the model value = level + between-interval noise + sampling noise
/// with variance ∝ 1 / requests, a canary interval of r requests against baseline
/// intervals of typically R (their median) has a spread at most √(R / r) times the
/// baseline's, whatever the split between the two noises — so scaling the band by
/// max(1, √(R / r)) keeps the false-alarm bound (the oracle test checks it by
/// simulation). Canary intervals of more requests are not given a narrower band.
pub(super) struct Widening {
    /// One factor ≥ 1 per prepared (sorted) canary value; empty when the pair carries no
    /// request counts.
    pub(super) factors: Vec<f64>,
    /// Median requests per interval: baseline, canary.
    pub(super) requests: Option<(f64, f64)>,
    /// The requests behind each prepared (sorted) baseline value, NaN where unknown;
    /// empty when the pair carries no request counts.
    pub(super) baseline_requests: Vec<f64>,
}

impl Widening {
    pub(super) fn of(
        pair: &MetricPair,
        prepared_baseline: &[f64],
        prepared_canary: &[f64],
    ) -> Self {
        let none = Widening {
            factors: Vec::new(),
            requests: None,
            baseline_requests: Vec::new(),
        };
        // Aggregates carry their requests; event counts their totals (a rate of fewer
        // requests scatters more, too).
        let weighted = |s: &Sample| -> Option<(Vec<f64>, Vec<f64>)> {
            match s {
                Sample::Aggregates { values, requests } => Some((values.clone(), requests.clone())),
                Sample::Counts { totals, .. } => Some((s.values(), totals.clone())),
                _ => None,
            }
        };
        let (Some((bv, br)), Some((cv, cr))) = (weighted(&pair.baseline), weighted(&pair.canary))
        else {
            return none;
        };
        // Intervals with a value; a request count that is missing (NaN) leaves its
        // interval unwidened.
        let finite = |v: &[f64], r: &[f64]| -> Vec<(f64, f64)> {
            v.iter()
                .zip(r)
                .filter(|(x, _)| x.is_finite())
                .map(|(x, n)| (*x, *n))
                .collect()
        };
        let median = |pairs: &[(f64, f64)]| -> f64 {
            let mut r: Vec<f64> = pairs
                .iter()
                .map(|p| p.1)
                .filter(|n| n.is_finite())
                .collect();
            r.sort_by(f64::total_cmp);
            if r.is_empty() {
                f64::NAN
            } else {
                percentile_sorted(&r, 0.5)
            }
        };
        let base = finite(&bv, &br);
        let reference = median(&base);
        if reference.is_nan() || reference <= 0.0 {
            return none;
        }
        let mut canary = finite(&cv, &cr);
        canary.sort_by(|a, b| a.0.total_cmp(&b.0));
        let factor = |n: f64| {
            if n.is_nan() {
                1.0
            } else if n > 0.0 {
                (reference / n).sqrt().max(1.0)
            } else {
                // A value summarising no request is no evidence.
                f64::INFINITY
            }
        };
        // Requests per prepared value: aligned when the preparation kept every value (NaN
        // where not).
        let requests_of = |mut raw: Vec<(f64, f64)>, prepared: &[f64]| -> Vec<f64> {
            raw.sort_by(|a, b| a.0.total_cmp(&b.0));
            if raw.len() == prepared.len() && raw.iter().zip(prepared).all(|(a, b)| a.0 == *b) {
                raw.iter().map(|p| p.1).collect()
            } else {
                vec![f64::NAN; prepared.len()]
            }
        };
        let baseline_requests = requests_of(base.clone(), prepared_baseline);
        let aligned = canary.len() == prepared_canary.len()
            && canary.iter().zip(prepared_canary).all(|(a, b)| a.0 == *b);
        let factors = if aligned {
            canary.iter().map(|p| factor(p.1)).collect()
        } else {
            // The NaN strategy or outlier removal changed the values: every interval gets
            // the widest factor, which keeps the bound.
            let widest = canary.iter().map(|p| factor(p.1)).fold(1.0, f64::max);
            vec![widest; prepared_canary.len()]
        };
        Widening {
            factors,
            requests: Some((reference, median(&canary))),
            baseline_requests,
        }
    }

    /// "; canary intervals of fewer requests (median 310 vs 30000) judged on a scale up
    /// to 9.8× wider", or nothing when no interval was widened.
    pub(super) fn sentence(&self) -> String {
        let widest = self.factors.iter().copied().fold(1.0, f64::max);
        match self.requests {
            Some((base, canary)) if widest > 1.0 => format!(
                "; canary intervals of fewer requests (median {} vs {}) judged on a scale up to {}× wider",
                num(canary),
                num(base),
                num(widest)
            ),
            _ => String::new(),
        }
    }
}
