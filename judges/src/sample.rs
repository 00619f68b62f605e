//! The data a judge sees: one [`MetricPair`] of baseline and canary [`Sample`]s for one
//! metric and one label set, and the descriptive [`Summary`] reported beside every verdict.

use serde::Serialize;

/// Observations of one arm (baseline or canary) for one metric and label set.
#[derive(Debug, Clone, PartialEq)]
pub enum Sample {
    /// One value per observation: a request's latency, or one scrape interval's aggregate.
    Values(Vec<f64>),
    /// Event counts per interval: `events[i]` out of `totals[i]` (errors out of requests).
    /// Judges that compare distributions see the per-interval rates `events[i] / totals[i]`.
    Counts { events: Vec<f64>, totals: Vec<f64> },
    /// Per-interval aggregates (a 5-minute p99, an availability percentage) with the
    /// number of requests each summarises: `requests[i]` behind `values[i]`. Judges see
    /// the values; the `band` judge also weighs each interval by its requests (an
    /// aggregate of fewer requests scatters more).
    Aggregates {
        values: Vec<f64>,
        requests: Vec<f64>,
    },
    /// Bucket counts of a histogram (not cumulative): `counts[j]` observations in
    /// (`bounds[j−1]`, `bounds[j]`]; the last bound may be +∞ (Prometheus `le`).
    Histogram { bounds: Vec<f64>, counts: Vec<f64> },
}

/// Cap on the values a histogram expands to for judges that need values.
const HISTOGRAM_EXPANSION_CAP: f64 = 200_000.0;

impl Sample {
    /// Why this sample is not data a judge may judge, if it is not: a histogram whose
    /// bounds do not increase or whose counts do not match them or are negative, event
    /// counts that are negative, of unequal lengths, or with more events than totals.
    /// (NaN is a missing observation, left to the NaN strategy, not garbage.)
    pub fn problem(&self) -> Option<String> {
        let negative = |v: &[f64]| v.iter().position(|x| *x < 0.0);
        match self {
            Sample::Values(_) => None,
            Sample::Aggregates { values, requests } => {
                if values.len() != requests.len() {
                    return Some(format!(
                        "{} values for {} request counts: one of each per interval",
                        values.len(),
                        requests.len()
                    ));
                }
                negative(requests)
                    .map(|i| format!("request count {} at interval {i} is negative", requests[i]))
            }
            Sample::Counts { events, totals } => {
                if events.len() != totals.len() {
                    return Some(format!(
                        "{} event counts for {} totals: one of each per interval",
                        events.len(),
                        totals.len()
                    ));
                }
                if let Some(i) = negative(events) {
                    return Some(format!(
                        "event count {} at interval {i} is negative",
                        events[i]
                    ));
                }
                if let Some(i) = negative(totals) {
                    return Some(format!("total {} at interval {i} is negative", totals[i]));
                }
                events.iter().zip(totals).position(|(e, t)| e > t).map(|i| {
                    format!(
                        "{} events out of {} at interval {i}: events cannot exceed the total",
                        events[i], totals[i]
                    )
                })
            }
            Sample::Histogram { bounds, counts } => {
                if bounds.len() != counts.len() {
                    return Some(format!(
                        "{} bucket bounds for {} counts: one count per bucket",
                        bounds.len(),
                        counts.len()
                    ));
                }
                if let Some(i) = bounds.iter().position(|b| b.is_nan()) {
                    return Some(format!("bucket bound {i} is not a number"));
                }
                if let Some(i) = bounds.windows(2).position(|w| w[1] <= w[0]) {
                    return Some(format!(
                        "bucket bounds must increase: {} then {} at {}",
                        bounds[i],
                        bounds[i + 1],
                        i + 1
                    ));
                }
                negative(counts).map(|i| format!("bucket count {} at {i} is negative", counts[i]))
            }
        }
    }

    /// An empty sample (no observations).
    pub fn empty() -> Self {
        Sample::Values(Vec::new())
    }

    /// Number of observations (intervals for counts).
    pub fn len(&self) -> usize {
        match self {
            Sample::Values(v) | Sample::Aggregates { values: v, .. } => v.len(),
            Sample::Counts { events, totals } => events.len().min(totals.len()),
            Sample::Histogram { counts, .. } => {
                counts.iter().filter(|c| **c > 0.0).sum::<f64>() as usize
            }
        }
    }

    /// True when there is no observation at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The observations as values: the values themselves, per-interval rates
    /// (`events / totals`; an interval with zero total gives NaN, left to the NaN strategy),
    /// or a histogram's observations spread evenly inside their buckets — the linear
    /// interpolation Prometheus' `histogram_quantile` uses — at most 200,000 of them
    /// (larger histograms are thinned proportionally). The +∞ bucket's observations sit
    /// at its lower edge.
    pub fn values(&self) -> Vec<f64> {
        match self {
            Sample::Values(v) | Sample::Aggregates { values: v, .. } => v.clone(),
            Sample::Histogram { bounds, counts } => {
                let total: f64 = counts.iter().filter(|c| **c > 0.0).sum();
                let scale = if total > HISTOGRAM_EXPANSION_CAP {
                    HISTOGRAM_EXPANSION_CAP / total
                } else {
                    1.0
                };
                let mut out = Vec::new();
                for (j, (&upper, &c)) in bounds.iter().zip(counts).enumerate() {
                    let n = (c.max(0.0) * scale).round() as usize;
                    let lower = if j == 0 {
                        upper.min(0.0)
                    } else {
                        bounds[j - 1]
                    };
                    if !upper.is_finite() {
                        out.extend(std::iter::repeat_n(lower, n));
                        continue;
                    }
                    out.extend(
                        (0..n).map(|k| lower + (upper - lower) * (k as f64 + 0.5) / n as f64),
                    );
                }
                out
            }
            Sample::Counts { events, totals } => events
                .iter()
                .zip(totals)
                .map(|(e, t)| if *t == 0.0 { f64::NAN } else { e / t })
                .collect(),
        }
    }

    /// The intervals (or values) whose index `keep` accepts, for samples of one entry per
    /// interval; a histogram has no per-interval entries and is returned whole.
    pub fn subset(&self, keep: impl Fn(usize) -> bool) -> Sample {
        let pick = |v: &[f64], n: usize| -> Vec<f64> {
            (0..n).filter(|&i| keep(i)).map(|i| v[i]).collect()
        };
        match self {
            Sample::Values(v) => Sample::Values(pick(v, v.len())),
            Sample::Aggregates { values, requests } => {
                let n = values.len().min(requests.len());
                Sample::Aggregates {
                    values: pick(values, n),
                    requests: pick(requests, n),
                }
            }
            Sample::Counts { events, totals } => {
                let n = events.len().min(totals.len());
                Sample::Counts {
                    events: pick(events, n),
                    totals: pick(totals, n),
                }
            }
            Sample::Histogram { .. } => self.clone(),
        }
    }

    /// Total events and total count over every interval whose two numbers are finite,
    /// or `None` for a sample of values.
    pub fn count_totals(&self) -> Option<(f64, f64)> {
        match self {
            Sample::Values(_) | Sample::Aggregates { .. } | Sample::Histogram { .. } => None,
            Sample::Counts { events, totals } => {
                let mut sum = (0.0, 0.0);
                for (e, t) in events.iter().zip(totals) {
                    if e.is_finite() && t.is_finite() {
                        sum.0 += e;
                        sum.1 += t;
                    }
                }
                Some(sum)
            }
        }
    }
}

/// Baseline and canary observations of one metric for one label set.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPair {
    pub baseline: Sample,
    pub canary: Sample,
}

impl MetricPair {
    /// The first problem of either arm ([`Sample::problem`]), naming the arm.
    pub fn problem(&self) -> Option<String> {
        let kind = |s: &Sample| match s {
            Sample::Values(_) | Sample::Aggregates { .. } => "values",
            Sample::Counts { .. } => "event counts",
            Sample::Histogram { .. } => "a histogram",
        };
        self.baseline
            .problem()
            .map(|p| format!("baseline: {p}"))
            .or_else(|| self.canary.problem().map(|p| format!("canary: {p}")))
            .or_else(|| {
                // Per-request values on one side and event counts on the other measure
                // different things: no judge may compare them.
                (!self.baseline.is_empty()
                    && !self.canary.is_empty()
                    && kind(&self.baseline) != kind(&self.canary))
                .then(|| {
                    format!(
                        "the baseline is {} and the canary {}: both arms must be the same kind of data",
                        kind(&self.baseline),
                        kind(&self.canary)
                    )
                })
            })
    }

    /// A pair of plain value samples.
    pub fn from_values(baseline: Vec<f64>, canary: Vec<f64>) -> Self {
        MetricPair {
            baseline: Sample::Values(baseline),
            canary: Sample::Values(canary),
        }
    }

    /// The same pair with the arms exchanged (used by the conformance harness and by
    /// users who want to ask the question the other way round).
    pub fn swapped(&self) -> Self {
        MetricPair {
            baseline: self.canary.clone(),
            canary: self.baseline.clone(),
        }
    }
}

/// Descriptive statistics of one arm after preprocessing (all zero when empty).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Summary {
    pub count: usize,
    pub mean: f64,
    /// Sample standard deviation (n − 1 in the denominator; 0 for a single value).
    pub std: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    /// Summarise values that are already sorted ascending and free of NaN.
    pub fn of_sorted(sorted: &[f64]) -> Self {
        let count = sorted.len();
        if count == 0 {
            return Summary::default();
        }
        let mean = crate::stats::mean(sorted);
        Summary {
            count,
            mean,
            std: crate::stats::sample_std(sorted, mean),
            min: sorted[0],
            max: sorted[count - 1],
        }
    }
}
