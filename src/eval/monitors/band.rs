//! The `band` judge on per-interval aggregates, pooled (`band`) and per host
//! (`band_hosts`).

use super::*;

/// Per-interval aggregates judged by the `band` judge at the horizon.
pub struct BandMonitor {
    alpha: f64,
    aggregator: Aggregator,
    /// Closed intervals' p50, p90, p99 (ms) and error rate, per arm.
    points: [[Vec<f64>; 4]; 2],
    /// The requests behind each of those points.
    requests: [[Vec<f64>; 4]; 2],
}

/// The `band` monitor's series: quantiles of the interval's histogram, and its error rate.
pub(super) const BAND_SERIES: [&str; 4] = ["p50", "p90", "p99", "errors"];

impl BandMonitor {
    pub fn new(s: &MonitorSettings) -> Self {
        BandMonitor {
            alpha: s.alpha,
            aggregator: Aggregator::new(s.aggregate_s),
            points: Default::default(),
            requests: Default::default(),
        }
    }
}

impl Monitor for BandMonitor {
    fn observe(&mut self, run: &SimRun, step: &SimStep) -> Option<Decision> {
        if let Some(closed) = self.aggregator.observe(step, run.step_s, &run.buckets_ms) {
            for (arm, point) in closed.iter().enumerate() {
                let Some(p) = point else { continue };
                for (i, v) in [p.p50, p.p90, p.p99, p.error_rate].into_iter().enumerate() {
                    if v.is_finite() {
                        self.points[arm][i].push(v);
                        self.requests[arm][i].push(p.requests);
                    }
                }
            }
        }
        None
    }

    fn finish(&mut self) -> Decision {
        let judges = band_judges(self.alpha);
        let judgements: Vec<_> = (0..BAND_SERIES.len())
            .map(|i| {
                // The requests beside the aggregates: an interval of fewer requests
                // (a canary at 1% of traffic) scatters more, and its band is wider.
                let arm = |a: usize| Sample::Aggregates {
                    values: self.points[a][i].clone(),
                    requests: self.requests[a][i].clone(),
                };
                judges[usize::from(i == 3)].judge(
                    &increase(),
                    &MetricPair {
                        baseline: arm(BASELINE),
                        canary: arm(CANARY),
                    },
                )
            })
            .collect();
        band_decision(&judgements)
    }
}

/// The `band` monitors' judges: latency quantiles on the log scale, error rates as shares
/// of their requests (as `datasets/aggregates/canary.toml` judges them); α shared by the
/// four series.
pub(super) fn band_judges(alpha: f64) -> [BandJudge; 2] {
    let latency = BandJudge::new(BandConfig {
        alpha,
        log: true,
        ..BandConfig::default()
    })
    .with_pairs(BAND_SERIES.len());
    let errors = BandJudge::new(BandConfig {
        alpha,
        floor: 0.0,
        proportion: Some(canary_judges::kinds::band::Proportion::Fraction),
        ..BandConfig::default()
    })
    .with_pairs(BAND_SERIES.len());
    [latency, errors]
}

/// The verdict of the four band series' judgements: one series judged worse fails
/// (`combine = "auto"`).
pub(super) fn band_decision(judgements: &[canary_judges::Judgement]) -> Decision {
    let groups = vec!["all".to_string()];
    let inputs: Vec<ScoreInput<'_>> = judgements
        .iter()
        .zip(BAND_SERIES)
        .map(|(j, name)| ScoreInput {
            name,
            metric: name,
            groups: &groups,
            muted: false,
            critical: false,
            judgement: j,
        })
        .collect();
    let card = score_with(
        &inputs,
        &BTreeMap::new(),
        Thresholds::default(),
        ScoringRules::Canaryd,
        Combine::Auto,
    );
    match card.verdict {
        Verdict::Pass => Decision::Pass,
        Verdict::Fail => Decision::Fail,
        Verdict::Marginal | Verdict::Inconclusive => Decision::Inconclusive,
    }
}

/// One host's four band series: (values, requests behind each).
pub(super) type HostSeries = [(Vec<f64>, Vec<f64>); 4];

/// Per-interval aggregates kept per host, judged by the `band` judge with hosts as the
/// unit (`unit_label`) at the horizon.
pub struct BandHostsMonitor {
    alpha: f64,
    aggregator: HostAggregator,
    /// Per arm and host: closed intervals' p50, p90, p99 (ms) and error rate, and the
    /// requests behind each.
    points: [Vec<HostSeries>; 2],
    named: Vec<usize>,
}

impl BandHostsMonitor {
    pub fn new(s: &MonitorSettings) -> Self {
        BandHostsMonitor {
            alpha: s.alpha,
            aggregator: HostAggregator::new(s.aggregate_s),
            points: Default::default(),
            named: Vec::new(),
        }
    }
}

impl Monitor for BandHostsMonitor {
    fn observe(&mut self, run: &SimRun, step: &SimStep) -> Option<Decision> {
        if let Some(closed) = self.aggregator.observe(step, run.step_s, &run.buckets_ms) {
            for (arm, hosts) in closed.iter().enumerate() {
                if self.points[arm].len() < hosts.len() {
                    self.points[arm].resize_with(hosts.len(), Default::default);
                }
                for (h, point) in hosts.iter().enumerate() {
                    let Some(p) = point else { continue };
                    for (i, v) in [p.p50, p.p90, p.p99, p.error_rate].into_iter().enumerate() {
                        if v.is_finite() {
                            self.points[arm][h][i].0.push(v);
                            self.points[arm][h][i].1.push(p.requests);
                        }
                    }
                }
            }
        }
        None
    }

    fn finish(&mut self) -> Decision {
        let judges = band_judges(self.alpha);
        let prefix = ["b", "c"];
        let mut named = std::collections::BTreeSet::new();
        let judgements: Vec<_> = (0..BAND_SERIES.len())
            .map(|i| {
                let hosts = |arm: usize| -> Vec<(String, Sample)> {
                    self.points[arm]
                        .iter()
                        .enumerate()
                        .map(|(h, series)| {
                            (
                                format!("{}{h}", prefix[arm]),
                                Sample::Aggregates {
                                    values: series[i].0.clone(),
                                    requests: series[i].1.clone(),
                                },
                            )
                        })
                        .collect()
                };
                let judged = judges[usize::from(i == 3)].judge_hosts(
                    &increase(),
                    &hosts(BASELINE),
                    &hosts(CANARY),
                );
                if judged.judgement.classification.is_failure() {
                    named.extend(
                        judged
                            .named
                            .iter()
                            .filter_map(|n| n.strip_prefix('c')?.parse::<usize>().ok()),
                    );
                }
                judged.judgement
            })
            .collect();
        self.named = named.into_iter().collect();
        band_decision(&judgements)
    }

    fn named_hosts(&self) -> Option<Vec<usize>> {
        Some(self.named.clone())
    }
}
