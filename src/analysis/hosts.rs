//! Hosts as the unit in analyses (`unit_label`): the pairs of one metric and label set that
//! differ only in the unit label (`host`, `instance`) are one comparison of two fleets,
//! not one comparison per label value. The baseline's `host="h0"` and the canary's
//! `host="h0"` are different machines; pairing them, as identical label sets are paired
//! elsewhere, would judge each such pair on its own. Here they are merged back into one
//! pair per remaining label set, and that pair is judged host by host
//! ([`canary_judges::hosts`]): the canary hosts against the baseline hosts' own spread, and
//! each canary host against the rest — a broken one fails the analysis with its name.
//!
//! The data is replayed in scrape steps from the analysis' start, like the sequential
//! judge's, and looked at on a fixed schedule (latency at 1, 2, 3 and 5 minutes, then every
//! 5; error counts every minute) over the planned horizon, so live analyses, replays and
//! one-shot analyses of files decide alike and say when.

use canary_judges::hosts::{BASELINE, CANARY, HostOutcome, HostSummary, HostTest, HostsConfig};
use canary_judges::{Classification, JudgeConfig, Judgement, MetricOptions, Sample};
use serde::{Deserialize, Serialize};

use super::steps::batches;
use crate::collectors::{CollectedPair, Labels};
use crate::config::{CanaryConfig, MetricConfig};

/// Relative width of the log buckets per-request values are counted in (0.5%).
const VALUE_BUCKET_RATIO: f64 = 1.005;
/// The value buckets span 1e-6 to 1e12 (any unit); values ≤ 0 cannot be judged by log
/// quantiles and are left out (the reason says how many).
const VALUE_MIN: f64 = 1e-6;
const VALUE_MAX: f64 = 1e12;

/// The hosts of each arm: (host name, the collected pair whose arm holds its data).
pub type ArmHosts = [Vec<(String, CollectedPair)>; 2];

/// A pair as the analysis judges it: as collected, or the hosts of one label set merged.
#[derive(Debug, Clone)]
pub struct UnitPair {
    /// The pair judged and reported: for hosts, every host's data pooled, labelled without
    /// the unit label.
    pub pair: CollectedPair,
    /// For hosts: the unit label and the hosts of each arm (name, the collected pair whose
    /// arm holds that host's data).
    pub hosts: Option<(String, ArmHosts)>,
}

/// What a host-level judgement shows beside the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostsReport {
    /// The label whose values are the hosts.
    pub label: String,
    pub baseline: Vec<HostRow>,
    pub canary: Vec<HostRow>,
    /// Canary hosts the host rule found beyond the others' spread (they failed the analysis).
    pub named: Vec<String>,
}

/// One host at the deciding (or last) look.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostRow {
    pub host: String,
    /// Latency: the host's quantile of the host rule (p50 by default); errors: its error
    /// rate. Absent with too little data.
    pub value: Option<f64>,
    pub requests: f64,
    /// Beyond the other hosts' spread (canary hosts only).
    pub beyond: bool,
}

impl HostsReport {
    /// One line for people: every host's number, the broken ones marked.
    pub fn text(&self) -> String {
        let side = |rows: &[HostRow]| -> String {
            rows.iter()
                .map(|r| {
                    let v = r
                        .value
                        .map_or_else(|| "-".to_string(), canary_judges::format_number);
                    if r.beyond {
                        format!("{} {v} ✗", r.host)
                    } else {
                        format!("{} {v}", r.host)
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut s = format!(
            "hosts by `{}` — canary: {}; baseline: {}",
            self.label,
            side(&self.canary),
            side(&self.baseline)
        );
        if !self.named.is_empty() {
            s.push_str(&format!("; broken: {}", self.named.join(", ")));
        }
        s
    }
}

/// The pairs to judge: pairs of metrics with a unit label are merged per label set
/// without it; every other pair is kept as it is. Deterministic (the same pairs give the
/// same list), in the order of each group's first pair.
pub fn merge(config: &CanaryConfig, pairs: &[CollectedPair]) -> Vec<UnitPair> {
    let mut out: Vec<UnitPair> = Vec::with_capacity(pairs.len());
    // (metric, labels without the unit) → index into `out`.
    let mut groups: std::collections::HashMap<(usize, Labels), usize> = Default::default();
    for p in pairs {
        let metric = &config.metrics[p.metric];
        let Some(label) = metric.unit_label.as_deref() else {
            out.push(UnitPair {
                pair: p.clone(),
                hosts: None,
            });
            continue;
        };
        let Some(host) = p.labels.get(label) else {
            let mut pair = p.clone();
            let note =
                format!("the data has no `{label}` label: hosts pooled, judged request by request");
            pair.note = Some(match pair.note {
                Some(n) => format!("{n}; {note}"),
                None => note,
            });
            out.push(UnitPair { pair, hosts: None });
            continue;
        };
        let mut rest = p.labels.clone();
        rest.remove(label);
        let key = (p.metric, rest.clone());
        let i = *groups.entry(key).or_insert_with(|| {
            out.push(UnitPair {
                pair: CollectedPair {
                    metric: p.metric,
                    labels: rest,
                    pair: canary_judges::MetricPair {
                        baseline: Sample::empty(),
                        canary: Sample::empty(),
                    },
                    query: p.query.clone(),
                    note: None,
                    times: [Vec::new(), Vec::new()],
                    steps: Vec::new(),
                    histogram_steps: Default::default(),
                },
                hosts: Some((label.to_string(), [Vec::new(), Vec::new()])),
            });
            out.len() - 1
        });
        let unit = &mut out[i];
        let arms = [&p.pair.baseline, &p.pair.canary];
        if let Some((_, hosts)) = unit.hosts.as_mut() {
            for arm in [BASELINE, CANARY] {
                if !arms[arm].is_empty() {
                    hosts[arm].push((host.clone(), p.clone()));
                }
            }
        }
        pool_into(&mut unit.pair, p);
    }
    for u in &mut out {
        if let Some((label, hosts)) = &u.hosts {
            let missing: Vec<&str> = [BASELINE, CANARY]
                .into_iter()
                .filter(|&a| hosts[a].is_empty())
                .map(|a| if a == BASELINE { "baseline" } else { "canary" })
                .collect();
            if !missing.is_empty() {
                u.pair.note = Some(format!(
                    "no {} host (label `{label}`) had data",
                    missing.join(" or ")
                ));
            }
        }
    }
    out
}

/// Add one host's pair to the pooled pair (values and counts appended with their times,
/// histograms summed when their bounds agree).
fn pool_into(into: &mut CollectedPair, p: &CollectedPair) {
    let arms = [&p.pair.baseline, &p.pair.canary];
    for arm in [BASELINE, CANARY] {
        let target = if arm == BASELINE {
            &mut into.pair.baseline
        } else {
            &mut into.pair.canary
        };
        let add = arms[arm];
        if add.is_empty() {
            continue;
        }
        if target.is_empty() {
            *target = add.clone();
            into.times[arm] = p.times[arm].clone();
            into.histogram_steps[arm] = p.histogram_steps[arm].clone();
            continue;
        }
        match (target, add) {
            (Sample::Values(a), Sample::Values(b)) => {
                a.extend_from_slice(b);
                into.times[arm].extend_from_slice(&p.times[arm]);
            }
            (
                Sample::Counts { events, totals },
                Sample::Counts {
                    events: e,
                    totals: t,
                },
            ) => {
                events.extend_from_slice(e);
                totals.extend_from_slice(t);
                into.times[arm].extend_from_slice(&p.times[arm]);
            }
            (
                Sample::Histogram { bounds, counts },
                Sample::Histogram {
                    bounds: b,
                    counts: c,
                },
            ) if bounds == b => {
                for (x, y) in counts.iter_mut().zip(c) {
                    *x += y;
                }
                // Per-step counts stay the first host's: the pooled chart shows the sum.
                into.histogram_steps[arm].clear();
            }
            _ => {}
        }
    }
}

/// Log-bucket bounds for per-request values.
fn value_bounds() -> Vec<f64> {
    let mut b = Vec::new();
    let mut x = VALUE_MIN;
    while x < VALUE_MAX {
        b.push(x);
        x *= VALUE_BUCKET_RATIO;
    }
    b.push(f64::INFINITY);
    b
}

/// Bucket increments of one host's batch (sparse), over `bounds`.
fn sparse_buckets(bounds: &[f64], sample: &Sample) -> Vec<(u32, f64)> {
    match sample {
        Sample::Values(v) | Sample::Aggregates { values: v, .. } => v
            .iter()
            .filter(|x| x.is_finite() && **x > 0.0)
            .map(|&x| (bounds.partition_point(|b| *b < x) as u32, 1.0))
            .collect(),
        Sample::Histogram { counts, .. } => counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0.0)
            .map(|(i, c)| (i as u32, *c))
            .collect(),
        Sample::Counts { .. } => Vec::new(),
    }
}

/// The host-level judgement of a merged pair, its report and when it decided (the end of
/// the deciding step, unix seconds).
pub struct HostJudged {
    pub judgement: Judgement,
    pub report: HostsReport,
    pub decided_at: Option<f64>,
}

/// The `band` judge with hosts as the unit: each host's per-interval aggregates (the whole
/// window's, once) against the other hosts' ([`canary_judges::BandJudge::judge_hosts`]).
fn judge_band(
    config: &canary_judges::BandConfig,
    options: &MetricOptions,
    label: &str,
    hosts: &ArmHosts,
    pairs: usize,
) -> HostJudged {
    let judge = canary_judges::BandJudge::new(config.clone()).with_pairs(pairs);
    let arm = |a: usize| -> Vec<(String, Sample)> {
        hosts[a]
            .iter()
            .map(|(name, p)| {
                let s = if a == BASELINE {
                    &p.pair.baseline
                } else {
                    &p.pair.canary
                };
                (name.clone(), s.clone())
            })
            .collect()
    };
    let judged = judge.judge_hosts(options, &arm(BASELINE), &arm(CANARY));
    let rows = |a: usize| -> Vec<HostRow> {
        judged.rows[a]
            .iter()
            .map(|r| HostRow {
                host: r.host.clone(),
                value: r.value,
                requests: r.requests,
                beyond: r.beyond,
            })
            .collect()
    };
    HostJudged {
        report: HostsReport {
            label: label.to_string(),
            baseline: rows(BASELINE),
            canary: rows(CANARY),
            named: judged.named.clone(),
        },
        judgement: judged.judgement,
        decided_at: None,
    }
}

/// Judge a merged pair host by host. `pairs` is how many pairs share the α of the
/// metric's judge kind (sequential, or `band`); `planned_end` the analysis' planned end (unix seconds) when known (live),
/// else the data's end.
#[allow(clippy::too_many_arguments)]
pub fn judge(
    metric: &MetricConfig,
    unit: &UnitPair,
    pairs: usize,
    t0: f64,
    step_s: f64,
    horizon: bool,
    planned_end: Option<f64>,
) -> Option<HostJudged> {
    let (label, hosts) = unit.hosts.as_ref()?;
    let options = &metric.options;
    if let JudgeConfig::Band(c) = &metric.judge {
        return Some(judge_band(c, options, label, hosts, pairs));
    }
    let seq = match &metric.judge {
        JudgeConfig::Sequential(c) => c.clone(),
        _ => canary_judges::SequentialConfig::default(),
    };
    let names = [BASELINE, CANARY].map(|a| {
        hosts[a]
            .iter()
            .map(|(n, _)| n.clone())
            .collect::<Vec<String>>()
    });
    let empty_report = || HostsReport {
        label: label.clone(),
        baseline: Vec::new(),
        canary: Vec::new(),
        named: Vec::new(),
    };
    if hosts[BASELINE].is_empty() || hosts[CANARY].is_empty() {
        let j = no_hosts(options, unit);
        return Some(HostJudged {
            judgement: j,
            report: empty_report(),
            decided_at: None,
        });
    }
    let per_host = host_batches(hosts, t0, step_s);
    let steps = step_keys(&per_host);
    let data_steps = steps.len().max(1);
    let planned_steps = planned_end
        .map(|e| ((e - t0) / step_s).ceil().max(1.0) as usize)
        .unwrap_or(0)
        .max(data_steps);
    let (mut test, bounds) = host_test(&seq, unit, hosts, pairs, planned_steps, step_s);
    // The step the test failed at, as a time (untimed data: at the end of the data).
    let decided_at = replay(&mut test, &per_host, &steps, &bounds).map(|key| {
        if key == i64::MAX {
            t0 + data_steps as f64 * step_s
        } else {
            t0 + (key + 1) as f64 * step_s
        }
    });
    let outcome = if horizon {
        test.finish().clone()
    } else {
        test.outcome().clone()
    };
    let mut report = HostsReport {
        label: label.clone(),
        baseline: host_rows(&test, &names, BASELINE),
        canary: host_rows(&test, &names, CANARY),
        named: Vec::new(),
    };
    let (mut j, named) = host_judgement(options, label, &names, &test, outcome);
    report.named = named;
    j = canary_judges::sequential::with_summaries(j, options, &unit.pair.pair);
    Some(HostJudged {
        judgement: j,
        report,
        decided_at,
    })
}

/// The host-level test of a merged pair: latency (its histogram bounds, or log buckets
/// for per-request values) or error counts, at the pair's share of the analysis' α over
/// `planned_steps` steps; with the bounds its batches are bucketed on.
fn host_test(
    seq: &canary_judges::SequentialConfig,
    unit: &UnitPair,
    hosts: &ArmHosts,
    pairs: usize,
    planned_steps: usize,
    step_s: f64,
) -> (HostTest, Vec<f64>) {
    let every = (60.0 / step_s).ceil().max(1.0) as usize;
    let counts = matches!(unit.pair.pair.baseline, Sample::Counts { .. });
    let config = HostsConfig::from_sequential(
        seq,
        seq.alpha / pairs.max(1) as f64,
        counts,
        planned_steps,
        every,
    );
    let k = [hosts[BASELINE].len(), hosts[CANARY].len()];
    let bounds = match &unit.pair.pair.baseline {
        Sample::Histogram { bounds, .. } => bounds.clone(),
        _ => value_bounds(),
    };
    let names = [BASELINE, CANARY].map(|a| {
        hosts[a]
            .iter()
            .map(|(n, _)| n.clone())
            .collect::<Vec<String>>()
    });
    let test = if counts {
        HostTest::counts(config, k)
    } else {
        HostTest::latency(config, &bounds, k)
    }
    .with_names(names);
    (test, bounds)
}

/// Every step index up to the last with data (steps without data are still steps: the
/// schedule counts them); data without timestamps is one step, `i64::MAX`.
fn step_keys(per_host: &[Vec<Vec<(i64, Sample)>>; 2]) -> Vec<i64> {
    let mut keys: Vec<i64> = per_host
        .iter()
        .flatten()
        .flatten()
        .map(|(k, _)| *k)
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let untimed = keys.contains(&i64::MAX);
    let last_timed = keys.iter().copied().filter(|k| *k != i64::MAX).max();
    last_timed
        .map(|last| (0..=last).collect::<Vec<i64>>())
        .unwrap_or_default()
        .into_iter()
        .chain(untimed.then_some(i64::MAX))
        .collect()
}

/// Feed every host's batches to `test` step by step, ending each step with a look; the
/// step it failed at, if it did.
fn replay(
    test: &mut HostTest,
    per_host: &[Vec<Vec<(i64, Sample)>>; 2],
    steps: &[i64],
    bounds: &[f64],
) -> Option<i64> {
    let mut cursor = per_host.each_ref().map(|hosts| vec![0usize; hosts.len()]);
    for &key in steps {
        for arm in [BASELINE, CANARY] {
            for (h, batches) in per_host[arm].iter().enumerate() {
                while let Some((bk, sample)) = batches.get(cursor[arm][h]) {
                    if *bk != key {
                        break;
                    }
                    match sample {
                        Sample::Counts { events, totals } => {
                            test.add_counts(arm, h, totals.iter().sum(), events.iter().sum())
                        }
                        other => test.add_latency(arm, h, &sparse_buckets(bounds, other)),
                    }
                    cursor[arm][h] += 1;
                }
            }
        }
        if let HostOutcome::Fail { .. } = test.end_batch() {
            return Some(key);
        }
    }
    None
}

/// One arm's hosts at the deciding (or last) look.
fn host_rows(test: &HostTest, names: &[Vec<String>; 2], arm: usize) -> Vec<HostRow> {
    test.last[arm]
        .iter()
        .zip(&names[arm])
        .map(|(s, n): (&HostSummary, &String)| HostRow {
            host: n.clone(),
            value: s.value.is_finite().then_some(s.value),
            requests: s.requests,
            beyond: s.beyond,
        })
        .collect()
}

/// Per host: its batches, keyed by step index (untimed data: one batch at the end).
fn host_batches(hosts: &ArmHosts, t0: f64, step_s: f64) -> [Vec<Vec<(i64, Sample)>>; 2] {
    [BASELINE, CANARY].map(|arm| {
        hosts[arm]
            .iter()
            .map(|(_, p)| {
                batches(p, t0, step_s)
                    .into_iter()
                    .map(|(end, mp)| {
                        let k = if end.is_finite() {
                            ((end - t0) / step_s).round() as i64 - 1
                        } else {
                            i64::MAX
                        };
                        let s = if arm == BASELINE {
                            mp.baseline
                        } else {
                            mp.canary
                        };
                        (k, s)
                    })
                    .collect()
            })
            .collect()
    })
}

/// The judgement of a host-level test's outcome, with what the fleets' bounds ruled out,
/// and the canary hosts it named.
fn host_judgement(
    options: &MetricOptions,
    label: &str,
    names: &[Vec<String>; 2],
    test: &HostTest,
    outcome: HostOutcome,
) -> (Judgement, Vec<String>) {
    let hosts_phrase = format!(
        "hosts as the unit (`{label}`: {} baseline, {} canary)",
        names[BASELINE].len(),
        names[CANARY].len()
    );
    let mut named = Vec::new();
    let mut j = match outcome {
        HostOutcome::Fail { hosts, reason } => {
            named = hosts.iter().map(|&h| names[CANARY][h].clone()).collect();
            let mut j = Judgement::bare(Classification::High, format!("{hosts_phrase}: {reason}"));
            j.familywise = true;
            j.critical = options.critical;
            j
        }
        HostOutcome::Pass { reason } => {
            Judgement::bare(Classification::Pass, format!("{hosts_phrase}: {reason}"))
        }
        HostOutcome::Inconclusive { reason } => Judgement::bare(
            Classification::Inconclusive,
            format!("{hosts_phrase}: undecided at the end of the data: {reason}"),
        ),
        HostOutcome::Continue => Judgement::bare(
            Classification::Inconclusive,
            format!(
                "{hosts_phrase}: not decided yet ({} of {} looks)",
                test.looks(),
                test.planned_looks()
            ),
        ),
    };
    // What the fleets' bounds ruled out, as the sequential judge reports it (every
    // output shows `judged.ruled_out`): the compared quantities, hosts as the unit.
    if !test.bounds.is_empty() {
        let ruled_out: Vec<canary_judges::RuledOut> = test
            .bounds
            .iter()
            .map(|b| canary_judges::RuledOut {
                quantity: b.quantity.clone(),
                upper: Some(b.upper),
                lower: None,
                pass: b.pass,
                more: None,
                more_s: None,
            })
            .collect();
        let quantity = ruled_out
            .iter()
            .map(|r| r.quantity.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        // Undecided: the reason says what is ruled out so far, as the sequential judge's.
        if matches!(j.classification, Classification::Inconclusive) {
            j.reason = format!(
                "{}; {}",
                j.reason,
                canary_judges::RuledOut::sentence(&ruled_out)
            );
        }
        j.judged = Some(canary_judges::Judged {
            quantity: format!("{quantity} (hosts as the unit)"),
            baseline: None,
            canary: None,
            checks: Vec::new(),
            rule: None,
            ruled_out,
        });
    }
    (j, named)
}

/// A merged pair with no host in one arm: missing data, judged as missing data is.
fn no_hosts(options: &MetricOptions, unit: &UnitPair) -> Judgement {
    let class = if options.must_have_data && !options.critical {
        Classification::NodataFail
    } else {
        Classification::Nodata
    };
    let mut j = Judgement::bare(
        class,
        unit.pair
            .note
            .clone()
            .unwrap_or_else(|| "an arm has no host with data".into()),
    );
    j.critical = options.critical;
    j
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::source::Format;
    use rand::SeedableRng;
    use rand_distr::{Distribution, LogNormal};

    fn config(unit: bool) -> CanaryConfig {
        let text = format!(
            "name = \"c\"\n{}judge = {{ kind = \"sequential\" }}\n[[metrics]]\nname = \"latency\"\ndirection = \"increase\"\n",
            if unit { "unit_label = \"host\"\n" } else { "" }
        );
        CanaryConfig::parse(&text, Format::Toml, "c").expect("config")
    }

    /// Untimed per-host values (one pair per host label, as collectors pair them): host
    /// `slow` of the canary is 3× slower.
    fn pairs(slow: Option<usize>) -> Vec<CollectedPair> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let d = LogNormal::new(100f64.ln(), 0.5).expect("lognormal");
        (0..5)
            .map(|h| {
                let mut draw = |f: f64| (0..400).map(|_| f * d.sample(&mut rng)).collect();
                let factor = if slow == Some(h) { 3.0 } else { 1.0 };
                CollectedPair {
                    metric: 0,
                    labels: [
                        ("api".to_string(), "/x".to_string()),
                        ("host".to_string(), format!("h{h}")),
                    ]
                    .into(),
                    pair: canary_judges::MetricPair::from_values(draw(1.0), draw(factor)),
                    query: "inline".into(),
                    note: None,
                    times: [Vec::new(), Vec::new()],
                    steps: Vec::new(),
                    histogram_steps: Default::default(),
                }
            })
            .collect()
    }

    #[test]
    fn pairs_split_by_the_unit_label_are_merged_per_remaining_labels() {
        let units = merge(&config(true), &pairs(None));
        assert_eq!(units.len(), 1);
        let u = &units[0];
        assert_eq!(u.pair.labels, Labels::from([("api".into(), "/x".into())]));
        let (label, hosts) = u.hosts.as_ref().expect("hosts");
        assert_eq!(label, "host");
        assert_eq!(hosts[BASELINE].len(), 5);
        assert_eq!(
            u.pair.pair.baseline.len(),
            2000,
            "pooled for summaries and charts"
        );
        // Without the unit label nothing is merged.
        assert_eq!(merge(&config(false), &pairs(None)).len(), 5);
    }

    #[test]
    fn a_one_shot_analysis_names_the_slow_host() {
        let report = crate::analysis::analyze(&config(true), &pairs(Some(2)), None);
        assert_eq!(report.metrics.len(), 1);
        let m = &report.metrics[0];
        assert_eq!(m.classification, Classification::High, "{}", m.reason);
        let hosts = m.hosts.as_ref().expect("a host report");
        assert_eq!(hosts.named, vec!["h2".to_string()]);
        assert!(m.reason.contains("canary host h2"), "{}", m.reason);
        assert!(report.replicates.starts_with("hosts as the unit"));
        // The same fleet without the slow host is not failed.
        let calm = crate::analysis::analyze(&config(true), &pairs(None), None);
        assert!(
            !calm.metrics[0].classification.is_failure(),
            "{}",
            calm.metrics[0].reason
        );
        // Pooled: the report says so and warns about the host label.
        let pooled = crate::analysis::analyze(&config(false), &pairs(None), None);
        assert!(pooled.replicates.starts_with("hosts pooled"));
        assert!(
            pooled
                .warnings
                .iter()
                .any(|w| w.contains("unit_label = \"host\""))
        );
    }
}
