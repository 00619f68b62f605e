//! Prometheus histograms (`…_bucket` series with an `le` label) into samples: each step's
//! per-`le` increases decumulated into bucket counts. The per-step counts are kept
//! ([`CollectedPair::histogram_steps`]) so a sequential judge sees the data in time order
//! and decides at the scrape that settled it; the window's distribution is their sum, so
//! the one-shot judges, the charts and the sequential judge read one record.

use std::collections::BTreeMap;

use canary_judges::{MetricPair, Sample};

use super::SeriesPoint;
use super::series::{Series, project, query_text, side_note};
use super::{CollectedPair, HistogramStep, Labels};

/// Parse an `le` label: a number or `+Inf`.
fn parse_le(le: &str) -> Option<f64> {
    match le {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        s => s.parse::<f64>().ok().filter(|v| !v.is_nan()),
    }
}

/// One arm of a histogram pair: the window's distribution, each step's bucket counts (over
/// the same bounds) and each step's mean (for charts).
struct Arm {
    sample: Sample,
    steps: Vec<HistogramStep>,
    means: BTreeMap<u64, (f64, f64)>,
    /// Why the buckets cannot be true, when they cannot.
    problem: Option<String>,
}

/// The arm's bucket bounds in value order, and per time (by its order key) the cumulative
/// increase at each bound (NaN where a bucket has no point then).
#[allow(clippy::type_complexity)]
fn cumulative_by_time(series: &[&Series]) -> (Vec<f64>, BTreeMap<u64, (f64, Vec<f64>)>) {
    let mut bounds: Vec<f64> = series
        .iter()
        .filter_map(|s| s.labels.get("le").and_then(|l| parse_le(l)))
        .collect();
    bounds.sort_by(f64::total_cmp);
    bounds.dedup();
    let mut at: BTreeMap<u64, (f64, Vec<f64>)> = BTreeMap::new();
    for s in series {
        let Some(le) = s.labels.get("le").and_then(|l| parse_le(l)) else {
            continue;
        };
        let i = bounds.partition_point(|b| b.total_cmp(&le).is_lt());
        for &(t, v) in &s.points {
            if v.is_finite() && t.is_finite() {
                let row = at
                    .entry(order_key(t))
                    .or_insert_with(|| (t, vec![f64::NAN; bounds.len()]));
                let cell = &mut row.1[i];
                *cell = if cell.is_nan() { v } else { *cell + v };
            }
        }
    }
    (bounds, at)
}

/// Decumulate one arm's bucket series step by step. A bucket missing at a step counts 0
/// there. Cumulative counts that fall as `le` grows cannot be true (every observation at
/// or below one bound is at or below the next): they are kept as the negative count they
/// make, so the judges refuse the pair, and named in `problem` — never clamped into a verdict.
fn arm(series: &[&Series]) -> Arm {
    let (bounds, at) = cumulative_by_time(series);
    let mut steps = Vec::with_capacity(at.len());
    let mut means = BTreeMap::new();
    let mut total = vec![0.0; bounds.len()];
    let mut problem = None;
    for (key, (t, cumulative)) in at {
        let (mut below, mut lower, mut sum, mut n) = (0.0f64, 0.0f64, 0.0, 0.0);
        let mut below_le = f64::NEG_INFINITY;
        let mut counts = Vec::with_capacity(bounds.len());
        for (le, cum) in bounds.iter().zip(cumulative) {
            let count = if cum.is_nan() {
                0.0
            } else {
                let c = cum - below;
                if c < -1e-9 * below.abs().max(1.0) {
                    problem.get_or_insert_with(|| {
                        format!(
                            "bucket le=\"{}\" counts {} at {} but le=\"{}\" counts {}: cumulative buckets cannot fall",
                            canary_judges::format_number(*le),
                            canary_judges::format_number(cum),
                            crate::time::rfc3339(t),
                            canary_judges::format_number(below_le),
                            canary_judges::format_number(below)
                        )
                    });
                } else {
                    below = cum;
                    below_le = *le;
                }
                if c < 0.0 && c >= -1e-9 * below.abs().max(1.0) {
                    0.0
                } else {
                    c
                }
            };
            // Charts: a bucket counts at its midpoint, `+Inf` at the last finite bound.
            let mid = if le.is_finite() {
                (lower + le) / 2.0
            } else {
                lower
            };
            sum += count * mid;
            n += count;
            if le.is_finite() {
                lower = *le;
            }
            counts.push(count);
        }
        for (acc, c) in total.iter_mut().zip(&counts) {
            *acc += c;
        }
        if n > 0.0 {
            means.insert(key, (t, sum / n));
        }
        steps.push(HistogramStep { t, counts });
    }
    // Buckets that cannot be true stay as they are (negative counts) for the judges to refuse.
    let sample = if problem.is_some() || total.iter().sum::<f64>() > 0.0 {
        Sample::Histogram {
            bounds,
            counts: total,
        }
    } else {
        Sample::empty()
    };
    if sample.is_empty() {
        steps.clear();
    }
    Arm {
        sample,
        steps,
        means,
        problem,
    }
}

/// A float's order-preserving bits (a map key that sorts like the value).
fn order_key(v: f64) -> u64 {
    if v.is_sign_negative() {
        !v.to_bits()
    } else {
        v.to_bits() | (1 << 63)
    }
}

/// Histogram kind: per pair the window's distribution, with its per-step counts.
pub fn histogram_pairs(
    metric: usize,
    split: &[String],
    queries: [&String; 2],
    baseline: Vec<Series>,
    canary: Vec<Series>,
) -> Vec<CollectedPair> {
    let text = query_text(&queries);
    // Series differ by `le` within a pair: key by the split labels only.
    let mut groups: BTreeMap<Labels, [Vec<&Series>; 2]> = BTreeMap::new();
    for (side, series) in [&baseline, &canary].into_iter().enumerate() {
        for s in series {
            groups.entry(project(&s.labels, split)).or_default()[side].push(s);
        }
    }
    if groups.is_empty() {
        return vec![CollectedPair::missing(
            metric,
            text,
            side_note(true, true, queries).unwrap_or_default(),
        )];
    }
    groups
        .into_iter()
        .map(|(labels, [b, c])| {
            let (b, c) = (arm(&b), arm(&c));
            let mut times: Vec<(u64, f64)> = b
                .means
                .iter()
                .chain(c.means.iter())
                .map(|(k, (t, _))| (*k, *t))
                .collect();
            times.sort_by(|x, y| x.1.total_cmp(&y.1));
            times.dedup_by_key(|x| x.0);
            let steps = times
                .into_iter()
                .map(|(k, t)| SeriesPoint {
                    t,
                    baseline: b.means.get(&k).map(|m| m.1),
                    canary: c.means.get(&k).map(|m| m.1),
                })
                .collect();
            let notes: Vec<String> = [
                ("baseline", &b.problem, queries[0]),
                ("canary", &c.problem, queries[1]),
            ]
            .into_iter()
            .filter_map(|(arm, p, q)| {
                p.as_ref()
                    .map(|p| format!("the {arm} histogram ({q}): {p}"))
            })
            .chain(side_note(b.sample.is_empty(), c.sample.is_empty(), queries))
            .collect();
            CollectedPair {
                steps,
                metric,
                labels,
                note: (!notes.is_empty()).then(|| notes.join("; ")),
                pair: MetricPair {
                    baseline: b.sample,
                    canary: c.sample,
                },
                query: text.clone(),
                times: [Vec::new(), Vec::new()],
                histogram_steps: [b.steps, c.steps],
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::collectors::series::series as s;

    #[test]
    fn histogram_pairs_keep_each_steps_mean_for_charts() {
        // Per-step increases of cumulative buckets: at t=10, 2 at or below 0.1 and 4 in all
        // (2 above 0.1); at t=20, 4 at or below 0.1 and 4 in all.
        let b = vec![
            s(
                &[("le", "0.1"), ("route", "/x")],
                &[(10.0, 2.0), (20.0, 4.0)],
            ),
            s(
                &[("le", "+Inf"), ("route", "/x")],
                &[(10.0, 4.0), (20.0, 4.0)],
            ),
        ];
        let c = vec![s(&[("le", "+Inf"), ("route", "/x")], &[(20.0, 1.0)])];
        let q = ["b".to_string(), "c".to_string()];
        let pairs = histogram_pairs(0, &["route".into()], [&q[0], &q[1]], b, c);
        assert_eq!(pairs.len(), 1);
        let steps = &pairs[0].steps;
        assert_eq!(steps.len(), 2);
        // Midpoint 0.05 for (0, 0.1], the last finite bound 0.1 for (0.1, +Inf].
        let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-12);
        assert_eq!((steps[0].t, steps[0].canary), (10.0, None));
        assert!(close(steps[0].baseline, 0.075), "{:?}", steps[0]);
        assert_eq!(steps[1].t, 20.0);
        assert!(
            close(steps[1].baseline, 0.05) && close(steps[1].canary, 0.0),
            "{:?}",
            steps[1]
        );
    }

    #[test]
    fn histograms_sum_increases_and_decumulate() {
        let q = ["qb".to_string(), "qc".to_string()];
        let b = vec![
            s(&[("le", "0.1"), ("route", "/a")], &[(1.0, 5.0), (2.0, 5.0)]),
            s(
                &[("le", "+Inf"), ("route", "/a")],
                &[(1.0, 8.0), (2.0, 12.0)],
            ),
            s(&[("le", "0.5"), ("route", "/a")], &[(1.0, 7.0), (2.0, 9.5)]),
        ];
        let pairs = histogram_pairs(0, &["route".into()], [&q[0], &q[1]], b, vec![]);
        assert_eq!(pairs.len(), 1);
        assert_eq!(
            pairs[0].pair.baseline,
            Sample::Histogram {
                bounds: vec![0.1, 0.5, f64::INFINITY],
                counts: vec![10.0, 6.5, 3.5]
            }
        );
        assert!(pairs[0].pair.canary.is_empty());
        assert!(pairs[0].note.as_ref().unwrap().contains("canary"));
    }

    #[test]
    fn each_step_keeps_its_counts_and_they_sum_to_the_window() {
        let q = ["qb".to_string(), "qc".to_string()];
        let b = vec![
            s(&[("le", "0.1")], &[(1.0, 5.0), (2.0, 5.0)]),
            s(&[("le", "+Inf")], &[(1.0, 8.0), (2.0, 12.0)]),
            s(&[("le", "0.5")], &[(1.0, 7.0), (2.0, 9.5)]),
        ];
        let c = vec![
            s(&[("le", "0.1")], &[(2.0, 1.0)]),
            s(&[("le", "0.5")], &[(2.0, 3.0)]),
            s(&[("le", "+Inf")], &[(2.0, 3.0)]),
        ];
        let pairs = histogram_pairs(0, &[], [&q[0], &q[1]], b, c);
        let [hb, hc] = &pairs[0].histogram_steps;
        assert_eq!(
            hb,
            &vec![
                HistogramStep {
                    t: 1.0,
                    counts: vec![5.0, 2.0, 1.0]
                },
                HistogramStep {
                    t: 2.0,
                    counts: vec![5.0, 4.5, 2.5]
                }
            ]
        );
        assert_eq!(
            hc,
            &vec![HistogramStep {
                t: 2.0,
                counts: vec![1.0, 2.0, 0.0]
            }]
        );
        for (arm, steps) in [&pairs[0].pair.baseline, &pairs[0].pair.canary]
            .into_iter()
            .zip([hb, hc])
        {
            let Sample::Histogram { counts, .. } = arm else {
                panic!("{arm:?}")
            };
            for (i, total) in counts.iter().enumerate() {
                let sum: f64 = steps.iter().map(|s| s.counts[i]).sum();
                assert_eq!(sum, *total);
            }
        }
    }

    /// Cumulative buckets 5/2/1 cannot be true: the pair is refused by every judge, and
    /// the reason names the series — never clamped into a pass.
    #[test]
    fn falling_cumulative_buckets_are_refused_and_named() {
        let q = ["qb".to_string(), "qc".to_string()];
        let healthy = vec![
            s(&[("le", "0.1")], &[(1.0, 5.0)]),
            s(&[("le", "+Inf")], &[(1.0, 8.0)]),
        ];
        let garbage = vec![
            s(&[("le", "0.1")], &[(1.0, 5.0)]),
            s(&[("le", "0.5")], &[(1.0, 2.0)]),
            s(&[("le", "+Inf")], &[(1.0, 1.0)]),
        ];
        let pairs = histogram_pairs(0, &[], [&q[0], &q[1]], healthy, garbage);
        let note = pairs[0].note.as_deref().unwrap_or_default();
        assert!(
            note.contains("the canary histogram (qc)") && note.contains("cannot fall"),
            "{note}"
        );
        assert!(pairs[0].pair.problem().is_some(), "{:?}", pairs[0].pair);
        for config in [
            canary_judges::JudgeConfig::Sequential(Default::default()),
            canary_judges::JudgeConfig::MannWhitney(Default::default()),
        ] {
            let j = config.build().judge(&Default::default(), &pairs[0].pair);
            assert_eq!(
                j.classification,
                canary_judges::Classification::Error,
                "{}",
                j.reason
            );
        }
    }
}
