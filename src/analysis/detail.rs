//! What the charts of an analysis need, small enough to store beside its report: per metric
//! pair the two arms' empirical CDFs, the metric over time for both arms, and for sequential
//! judges the confidence sequence step by step. (A pipeline execution's chart data is the
//! pipeline's own: `pipeline::timeline`.)
//!
//! Details are derived from the collected pairs when an analysis is judged (the raw samples
//! are not kept), thinned to at most [`MAX_POINTS`] points per line so that a report of
//! 2,000 pairs stays a few megabytes.

use serde::{Deserialize, Serialize};

use canary_judges::{MetricPair, Sample};

use crate::collectors::{CollectedPair, display_name};

/// The most points kept per arm distribution or time series.
pub const MAX_POINTS: usize = 200;

/// Chart data of one metric pair; `name` is the pair's `metric{labels}`, the same as
/// [`crate::analysis::MetricReport::display_name`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairDetail {
    pub name: String,
    /// What the distribution's values are: `"value"` (per observation or per interval),
    /// `"rate"` (events / totals per interval) or `"histogram"` (bucket upper bounds).
    pub kind: String,
    pub baseline: ArmDistribution,
    pub canary: ArmDistribution,
    /// The metric over time: per time step, each arm's mean (values) or event rate (counts).
    /// Empty when the data has no timestamps (e.g. one histogram).
    pub series: Vec<SeriesPoint>,
    /// The confidence sequence of a sequential judge.
    pub sequence: Option<SequenceTrace>,
    /// The unit of the values (`unit` in the config, or the Prometheus suffix), for the
    /// axes' labels.
    #[serde(default)]
    pub unit: Option<String>,
}

/// An arm's empirical CDF: points `(x, F(x))`, ascending in both, the last at F = 1.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ArmDistribution {
    /// Observations (values), intervals (rates) or counted observations (histogram).
    pub count: f64,
    pub ecdf: Vec<[f64; 2]>,
}

/// One time step of [`PairDetail::series`] (collected data: defined beside the collectors).
pub use crate::collectors::SeriesPoint;

/// A sequential judge's confidence sequence on the ratio canary / baseline (error-rate
/// ratio, quantile ratio or mean ratio), after every batch until it decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceTrace {
    /// The deviation band `[1 / (1 + tolerance), 1 + tolerance]`.
    pub band: [f64; 2],
    pub steps: Vec<SequenceStep>,
    /// When the judge decided (unix seconds), if it did.
    pub decided_at: Option<f64>,
    /// `"pass"`, `"fail"`, or `"continue"` when undecided.
    pub outcome: String,
}

/// One batch of a [`SequenceTrace`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SequenceStep {
    pub t: f64,
    pub estimate: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
}

impl PairDetail {
    /// The distributions and series of `pair` (named after `metric`); no sequence.
    pub fn of(metric: &str, pair: &CollectedPair) -> PairDetail {
        let kind = match (&pair.pair.baseline, &pair.pair.canary) {
            (Sample::Histogram { .. }, _) | (_, Sample::Histogram { .. }) => "histogram",
            (Sample::Counts { .. }, _) | (_, Sample::Counts { .. }) => "rate",
            _ => "value",
        };
        PairDetail {
            unit: None,
            name: display_name(metric, &pair.labels),
            kind: kind.to_string(),
            baseline: distribution(&pair.pair.baseline),
            canary: distribution(&pair.pair.canary),
            series: if pair.steps.is_empty() {
                series(&pair.pair, &pair.times)
            } else {
                thin(pair.steps.clone())
            },
            sequence: None,
        }
    }
}

/// The ECDF of a sample, thinned to [`MAX_POINTS`].
pub fn distribution(sample: &Sample) -> ArmDistribution {
    match sample {
        Sample::Values(v) | Sample::Aggregates { values: v, .. } => values_ecdf(v.iter().copied()),
        Sample::Counts { events, totals } => values_ecdf(
            events
                .iter()
                .zip(totals)
                .filter(|(_, t)| **t > 0.0)
                .map(|(e, t)| e / t),
        ),
        Sample::Histogram { bounds, counts } => {
            let total: f64 = counts.iter().filter(|c| c.is_finite() && **c > 0.0).sum();
            if total <= 0.0 {
                return ArmDistribution::default();
            }
            let mut cumulative = 0.0;
            let mut points = Vec::new();
            for (b, c) in bounds.iter().zip(counts) {
                if c.is_finite() && *c > 0.0 {
                    cumulative += c;
                    if b.is_finite() {
                        points.push([*b, cumulative / total]);
                    }
                }
            }
            // Observations in the +Inf bucket: the line ends below 1 at the last finite
            // bound; close it there so the chart shows where the mass went.
            if let Some(last) = points.last().copied()
                && last[1] < 1.0
            {
                points.push([last[0], 1.0]);
            }
            ArmDistribution {
                count: total,
                ecdf: thin(points),
            }
        }
    }
}

fn values_ecdf(values: impl Iterator<Item = f64>) -> ArmDistribution {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return ArmDistribution::default();
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let points: Vec<[f64; 2]> = if n <= MAX_POINTS {
        (0..n).map(|i| [v[i], (i + 1) as f64 / n as f64]).collect()
    } else {
        // Evenly spaced ranks, always including the minimum and the maximum.
        let mut ranks: Vec<usize> = (0..MAX_POINTS)
            .map(|j| ((j as f64 / (MAX_POINTS - 1) as f64) * (n - 1) as f64).round() as usize)
            .collect();
        ranks.dedup();
        ranks
            .into_iter()
            .map(|i| [v[i], (i + 1) as f64 / n as f64])
            .collect()
    };
    ArmDistribution {
        count: n as f64,
        ecdf: points,
    }
}

/// Keep at most [`MAX_POINTS`] evenly spaced points, the first and the last among them.
fn thin<T: Copy>(points: Vec<T>) -> Vec<T> {
    let n = points.len();
    if n <= MAX_POINTS {
        return points;
    }
    let mut idx: Vec<usize> = (0..MAX_POINTS)
        .map(|j| ((j as f64 / (MAX_POINTS - 1) as f64) * (n - 1) as f64).round() as usize)
        .collect();
    idx.dedup();
    idx.into_iter().map(|i| points[i]).collect()
}

/// Each arm per time step: the mean of the values, or the events over the totals, in each
/// of at most [`MAX_POINTS`] equal steps over the data's time span.
fn series(pair: &MetricPair, times: &[Vec<f64>; 2]) -> Vec<SeriesPoint> {
    let finite = |ts: &[f64]| {
        ts.iter()
            .copied()
            .filter(|t| t.is_finite())
            .collect::<Vec<_>>()
    };
    let all: Vec<f64> = finite(&times[0])
        .into_iter()
        .chain(finite(&times[1]))
        .collect();
    let (Some(t0), Some(t1)) = (
        all.iter().copied().min_by(f64::total_cmp),
        all.iter().copied().max_by(f64::total_cmp),
    ) else {
        return Vec::new();
    };
    let mut distinct = all.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    // One point per distinct time when there are few (one per scrape), else equal steps.
    let (edges, steps): (Vec<f64>, usize) = if distinct.len() <= MAX_POINTS {
        (distinct.clone(), distinct.len())
    } else {
        let w = (t1 - t0) / MAX_POINTS as f64;
        (
            (1..=MAX_POINTS).map(|k| t0 + k as f64 * w).collect(),
            MAX_POINTS,
        )
    };
    let slot = |t: f64| -> usize {
        // The first edge at or after t.
        edges.partition_point(|e| *e < t).min(steps - 1)
    };
    // Per slot: (sum, weight) for each arm.
    let mut acc = vec![[[0.0f64; 2]; 2]; steps];
    for (arm, sample) in [&pair.baseline, &pair.canary].into_iter().enumerate() {
        let ts = &times[arm];
        match sample {
            Sample::Values(v) | Sample::Aggregates { values: v, .. } => {
                for (x, t) in v.iter().zip(ts) {
                    if x.is_finite() && t.is_finite() {
                        let s = &mut acc[slot(*t)][arm];
                        s[0] += x;
                        s[1] += 1.0;
                    }
                }
            }
            Sample::Counts { events, totals } => {
                for ((e, n), t) in events.iter().zip(totals).zip(ts) {
                    if e.is_finite() && n.is_finite() && t.is_finite() {
                        let s = &mut acc[slot(*t)][arm];
                        s[0] += e;
                        s[1] += n;
                    }
                }
            }
            Sample::Histogram { .. } => {}
        }
    }
    let value = |s: [f64; 2]| (s[1] > 0.0).then(|| s[0] / s[1]);
    edges
        .iter()
        .zip(acc)
        .filter_map(|(t, [b, c])| {
            let (baseline, canary) = (value(b), value(c));
            (baseline.is_some() || canary.is_some()).then_some(SeriesPoint {
                t: *t,
                baseline,
                canary,
            })
        })
        .collect()
}

/// Thin a sequence to [`MAX_POINTS`] steps, keeping the first and the last.
pub fn thin_steps(steps: Vec<SequenceStep>) -> Vec<SequenceStep> {
    thin(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(baseline: Sample, canary: Sample, times: [Vec<f64>; 2]) -> CollectedPair {
        CollectedPair {
            histogram_steps: Default::default(),
            steps: Vec::new(),
            metric: 0,
            labels: [("api".to_string(), "/checkout".to_string())].into(),
            pair: MetricPair { baseline, canary },
            query: "q".into(),
            note: None,
            times,
        }
    }

    #[test]
    fn value_ecdfs_end_at_one_and_are_thinned() {
        let v: Vec<f64> = (0..10_000).map(|i| (i % 997) as f64).collect();
        let d = distribution(&Sample::Values(v));
        assert_eq!(d.count, 10_000.0);
        assert!(d.ecdf.len() <= MAX_POINTS && d.ecdf.len() > MAX_POINTS / 2);
        assert_eq!(d.ecdf.last().unwrap(), &[996.0, 1.0]);
        assert_eq!(d.ecdf[0][0], 0.0);
        assert!(
            d.ecdf
                .windows(2)
                .all(|w| w[0][0] <= w[1][0] && w[0][1] < w[1][1])
        );
        let small = distribution(&Sample::Values(vec![3.0, 1.0, f64::NAN, 2.0]));
        assert_eq!(
            small.ecdf,
            vec![[1.0, 1.0 / 3.0], [2.0, 2.0 / 3.0], [3.0, 1.0]]
        );
    }

    #[test]
    fn histograms_and_counts_become_cdfs() {
        let h = distribution(&Sample::Histogram {
            bounds: vec![0.1, 0.2, 0.5, f64::INFINITY],
            counts: vec![2.0, 0.0, 6.0, 2.0],
        });
        assert_eq!(h.count, 10.0);
        assert_eq!(h.ecdf, vec![[0.1, 0.2], [0.5, 0.8], [0.5, 1.0]]);
        let c = distribution(&Sample::Counts {
            events: vec![1.0, 0.0, 3.0],
            totals: vec![100.0, 0.0, 100.0],
        });
        assert_eq!(c.ecdf, vec![[0.01, 0.5], [0.03, 1.0]]);
    }

    #[test]
    fn series_has_a_point_per_scrape_with_rates_and_means() {
        let p = pair(
            Sample::Counts {
                events: vec![1.0, 2.0],
                totals: vec![100.0, 100.0],
            },
            Sample::Counts {
                events: vec![5.0],
                totals: vec![50.0],
            },
            [vec![10.0, 20.0], vec![20.0]],
        );
        let d = PairDetail::of("errors", &p);
        assert_eq!(d.name, "errors{api=\"/checkout\"}");
        assert_eq!(d.kind, "rate");
        assert_eq!(
            d.series,
            vec![
                SeriesPoint {
                    t: 10.0,
                    baseline: Some(0.01),
                    canary: None
                },
                SeriesPoint {
                    t: 20.0,
                    baseline: Some(0.02),
                    canary: Some(0.1)
                },
            ]
        );
        // Many distinct times: equal steps, each value in exactly one.
        let n = 5_000;
        let values: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let times: Vec<f64> = (0..n).map(|i| i as f64 * 0.5).collect();
        let p = pair(
            Sample::Values(values.clone()),
            Sample::Values(values),
            [times.clone(), times],
        );
        let s = PairDetail::of("latency", &p).series;
        assert_eq!(s.len(), MAX_POINTS);
        assert!(
            s.windows(2)
                .all(|w| w[0].t < w[1].t && w[0].baseline < w[1].baseline)
        );
        assert_eq!(s.last().unwrap().t, (n - 1) as f64 * 0.5);
    }

    #[test]
    fn no_timestamps_no_series() {
        let p = pair(
            Sample::Values(vec![1.0]),
            Sample::Values(vec![2.0]),
            [vec![], vec![]],
        );
        assert!(PairDetail::of("x", &p).series.is_empty());
    }
}
