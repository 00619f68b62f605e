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
}

impl Sample {
    /// An empty sample (no observations).
    pub fn empty() -> Self {
        Sample::Values(Vec::new())
    }

    /// Number of observations (intervals for counts).
    pub fn len(&self) -> usize {
        match self {
            Sample::Values(v) => v.len(),
            Sample::Counts { events, totals } => events.len().min(totals.len()),
        }
    }

    /// True when there is no observation at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The observations as values: the values themselves, or per-interval rates
    /// (`events / totals`; an interval with zero total gives NaN, left to the NaN strategy).
    pub fn values(&self) -> Vec<f64> {
        match self {
            Sample::Values(v) => v.clone(),
            Sample::Counts { events, totals } => events
                .iter()
                .zip(totals)
                .map(|(e, t)| if *t == 0.0 { f64::NAN } else { e / t })
                .collect(),
        }
    }

    /// Total events and total count over every interval whose two numbers are finite,
    /// or `None` for a sample of values.
    pub fn count_totals(&self) -> Option<(f64, f64)> {
        match self {
            Sample::Values(_) => None,
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
