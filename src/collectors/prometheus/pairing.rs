//! From answered series to metric pairs: counter increments across resets, series paired by their split labels, error and total series into ratios.

use super::*;

/// Per-step increases of counter series: each series' differences between consecutive
/// points (a drop is a counter reset: the new value is the increase since it), summed over
/// the series that share the `keep` labels, at the time of the later point. A series' first
/// point only starts it, so every increment is counted once; NaN points are skipped.
pub fn increments(series: &[Series], keep: &[String]) -> Vec<Series> {
    let mut sums: BTreeMap<Labels, BTreeMap<i64, (f64, f64)>> = BTreeMap::new();
    for s in series {
        let at = sums.entry(project(&s.labels, keep)).or_default();
        let mut prev: Option<f64> = None;
        for &(t, v) in &s.points {
            if !v.is_finite() {
                continue;
            }
            if let Some(p) = prev {
                let inc = if v >= p { v - p } else { v };
                // Keyed by milliseconds: range points share exact step times.
                let slot = at.entry((t * 1000.0).round() as i64).or_insert((t, 0.0));
                slot.1 += inc;
            }
            prev = Some(v);
        }
    }
    sums.into_iter()
        .filter(|(_, points)| !points.is_empty())
        .map(|(labels, points)| Series {
            labels,
            points: points.into_values().collect(),
        })
        .collect()
}

/// Group series by pair key. With no split labels and at most one series per side, the
/// two series pair whatever their labels.
pub(super) fn keyed<'s>(
    split: &[String],
    sides: [&'s [Series]; 2],
) -> BTreeMap<Labels, [Vec<&'s Series>; 2]> {
    let single = split.is_empty() && sides.iter().all(|s| s.len() <= 1);
    let mut out: BTreeMap<Labels, [Vec<&'s Series>; 2]> = BTreeMap::new();
    for (side, series) in sides.into_iter().enumerate() {
        for s in series {
            let key = if single {
                Labels::new()
            } else if split.is_empty() {
                s.labels.clone()
            } else {
                project(&s.labels, split)
            };
            out.entry(key).or_default()[side].push(s);
        }
    }
    out
}

/// Value series (promql, kayenta): one value per step.
pub fn series_pairs(
    metric: usize,
    split: &[String],
    queries: [&String; 2],
    baseline: Vec<Series>,
    canary: Vec<Series>,
) -> Vec<CollectedPair> {
    let text = query_text(&queries);
    let groups = keyed(split, [&baseline, &canary]);
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
            let flat = |ss: &[&Series]| {
                let mut pts: Vec<(f64, f64)> =
                    ss.iter().flat_map(|s| s.points.iter().copied()).collect();
                pts.sort_by(|x, y| x.0.total_cmp(&y.0));
                pts
            };
            let (pb, pc) = (flat(&b), flat(&c));
            let note = side_note(pb.is_empty(), pc.is_empty(), queries);
            CollectedPair {
                histogram_steps: Default::default(),
                steps: Vec::new(),
                metric,
                labels,
                pair: MetricPair {
                    baseline: Sample::Values(pb.iter().map(|p| p.1).collect()),
                    canary: Sample::Values(pc.iter().map(|p| p.1).collect()),
                },
                query: text.clone(),
                note,
                times: [
                    pb.iter().map(|p| p.0).collect(),
                    pc.iter().map(|p| p.0).collect(),
                ],
            }
        })
        .collect()
}

/// Ratio kind: per-step events out of totals. A side whose total has data but whose
/// error query returned nothing had no errors (counters of errors often do not exist
/// until the first error).
pub fn ratio_pairs(
    metric: usize,
    split: &[String],
    queries: [[&String; 2]; 2],
    errors: [Vec<Series>; 2],
    totals: [Vec<Series>; 2],
) -> Vec<CollectedPair> {
    let text = format!(
        "baseline errors: {}; baseline total: {}; canary errors: {}; canary total: {}",
        queries[0][0], queries[0][1], queries[1][0], queries[1][1]
    );
    let key = |s: &Series| project(&s.labels, split);
    let mut keys: std::collections::BTreeSet<Labels> = std::collections::BTreeSet::new();
    for side in &totals {
        keys.extend(side.iter().map(key));
    }
    for side in &errors {
        keys.extend(side.iter().map(key));
    }
    if keys.is_empty() {
        return vec![CollectedPair::missing(
            metric,
            text,
            side_note(true, true, [queries[0][1], queries[1][1]]).unwrap_or_default(),
        )];
    }
    keys.into_iter()
        .map(|labels| {
            let side = |i: usize| -> (Vec<f64>, Vec<f64>, Vec<f64>, Option<String>) {
                let mut steps: BTreeMap<u64, (f64, f64, f64)> = BTreeMap::new();
                for s in totals[i].iter().filter(|s| key(s) == labels) {
                    for &(t, v) in &s.points {
                        if v.is_finite() {
                            let e = steps.entry(t.to_bits()).or_insert((t, 0.0, 0.0));
                            e.2 += v.max(0.0);
                        }
                    }
                }
                for s in errors[i].iter().filter(|s| key(s) == labels) {
                    for &(t, v) in &s.points {
                        if v.is_finite()
                            && let Some(e) = steps.get_mut(&t.to_bits())
                        {
                            e.1 += v.max(0.0);
                        }
                    }
                }
                let mut rows: Vec<(f64, f64, f64)> = steps.into_values().collect();
                rows.sort_by(|a, b| a.0.total_cmp(&b.0));
                // Rounding may put errors a hair above the total; more than that cannot be
                // true, and is kept as it is so the judge refuses it (never clamped into a
                // verdict), with the step and the queries named.
                let impossible = |r: &(f64, f64, f64)| r.1 > r.2 * (1.0 + 1e-9) + 1e-9;
                let garbage = rows.iter().find(|r| impossible(r)).map(|r| {
                    format!(
                        "the {} errors exceed its total at {}: {} errors in {} requests — the error query ({}) and the total query ({}) cannot both be right",
                        ["baseline", "canary"][i],
                        crate::time::rfc3339(r.0),
                        canary_judges::format_number(r.1),
                        canary_judges::format_number(r.2),
                        queries[i][0],
                        queries[i][1]
                    )
                });
                (
                    rows.iter().map(|r| r.0).collect(),
                    rows.iter()
                        .map(|r| if impossible(r) { r.1 } else { r.1.min(r.2) })
                        .collect(),
                    rows.iter().map(|r| r.2).collect(),
                    garbage,
                )
            };
            let (tb, eb, nb, gb) = side(0);
            let (tc, ec, nc, gc) = side(1);
            let note = [gb, gc]
                .into_iter()
                .flatten()
                .chain(side_note(nb.is_empty(), nc.is_empty(), [queries[0][1], queries[1][1]]))
                .collect::<Vec<_>>();
            CollectedPair {
                histogram_steps: Default::default(),
                steps: Vec::new(),
                metric,
                labels,
                note: (!note.is_empty()).then(|| note.join("; ")),
                pair: MetricPair {
                    baseline: Sample::Counts {
                        events: eb,
                        totals: nb,
                    },
                    canary: Sample::Counts {
                        events: ec,
                        totals: nc,
                    },
                },
                query: text.clone(),
                times: [tb, tc],
            }
        })
        .collect()
}
