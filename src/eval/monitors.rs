//! The judges the evaluation harness compares, each watching a simulated deploy scrape by
//! scrape the way it is used in production:
//!
//! - `sequential`: canaryd's anytime-valid judge on the latency histogram and the error
//!   counts, deciding after every scrape (α split over the two metrics).
//! - `mann_whitney_intervals`: Kayenta's judge run at the end of every analysis interval
//!   (5 minutes by default) on all per-scrape data so far; the canary fails as soon as an
//!   interval scores at or below the marginal threshold (Kayenta's multi-interval mode).
//! - `mann_whitney_once`: the same judge once, at the horizon.
//! - `threshold`: Flagger-style checks every 60 s on the last interval: canary error rate
//!   at most 1% and canary p99 at most 1.2× the baseline's; two failed checks roll back.
//! - `band`: what a team with recording rules has — per-interval p50, p90, p99 (from the
//!   histogram) and error rate, one point per `aggregate_s` (5 minutes) and arm — judged
//!   once at the horizon by canaryd's `band` judge (α split over the four series, `combine
//!   = auto`: any series judged worse fails).
//! - `hosts`: hosts as the unit ([`canary_judges::hosts`]): each host's latency quantiles and
//!   error counts, the canary hosts against the baseline hosts' own spread (a fleet test)
//!   and each canary host against the rest (a host rule that names the host), at the looks
//!   of its schedule (α split over latency and errors).

use std::collections::BTreeMap;

use canary_judges::hosts::{HostOutcome, HostTest, HostsConfig};
use canary_judges::sequential::Outcome;
use canary_judges::sequential::rank::RankShift;
use canary_judges::{
    BandConfig, BandJudge, Combine, Direction, Judge, MannWhitneyConfig, MannWhitneyJudge,
    MetricOptions, MetricPair, RuledOut, Sample, ScoreInput, ScoringRules, SequentialConfig,
    SequentialJudge, SequentialState, Thresholds, Verdict, score, score_with,
};

use crate::sim::aggregates::{Aggregator, HostAggregator};
use crate::sim::{ArmStep, BASELINE, CANARY, SimRun, SimStep};

/// A monitor's decision about a deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Roll back.
    Fail,
    /// Promote.
    Pass,
    /// No decision by the horizon.
    Inconclusive,
}

/// Settings shared by the monitors of one scenario.
#[derive(Debug, Clone)]
pub struct MonitorSettings {
    /// Seconds of data ignored after the start (the analysis' warm-up).
    pub warmup_s: f64,
    /// Sequential judge: deviation band for latency quantiles.
    pub tolerance: f64,
    /// Sequential judge: deviation band for the error-rate ratio.
    pub error_tolerance: f64,
    /// Sequential judge: quantiles compared, and those with fixed-quantile sequences.
    pub quantiles: Vec<f64>,
    pub fixed_quantiles: Vec<f64>,
    /// False-alarm budget of the sequential judge (whole analysis).
    pub alpha: f64,
    /// Kayenta analysis interval, seconds.
    pub mw_interval_s: f64,
    /// `band`: seconds per aggregate point.
    pub aggregate_s: f64,
    /// Scrapes the deploy lasts (the sequential judge's restarts span them).
    pub horizon_batches: usize,
    /// Sequential judge: pass bands (`p50`, `p99`, `rate`, …; see
    /// [`SequentialConfig::pass_bands`]).
    pub pass_bands: std::collections::BTreeMap<String, f64>,
    /// Sequential judge: read latency as a classic histogram with these finite bounds
    /// (ms; +∞ added) instead of the simulator's fine buckets.
    pub buckets_ms: Option<Vec<f64>>,
    /// Sequential judge: [`SequentialConfig::pass_from`].
    pub pass_from: f64,
}

impl Default for MonitorSettings {
    fn default() -> Self {
        let seq = SequentialConfig::default();
        MonitorSettings {
            warmup_s: 0.0,
            tolerance: 0.05,
            error_tolerance: 0.5,
            quantiles: seq.quantiles,
            fixed_quantiles: seq.fixed_quantiles,
            alpha: 0.01,
            mw_interval_s: 300.0,
            aggregate_s: 300.0,
            horizon_batches: canary_judges::sequential::restart::DEFAULT_HORIZON_BATCHES,
            pass_bands: seq.pass_bands,
            buckets_ms: None,
            pass_from: seq.pass_from,
        }
    }
}

/// Something that watches a deploy scrape by scrape.
pub trait Monitor {
    /// Observe one successful scrape (after warm-up); `Some` once decided.
    fn observe(&mut self, run: &SimRun, step: &SimStep) -> Option<Decision>;
    /// The decision at the horizon, if none came earlier.
    fn finish(&mut self) -> Decision;
    /// Seconds from the start at which the monitor estimates a change it failed on began
    /// (only judges that estimate one).
    fn estimated_onset_s(&self) -> Option<f64> {
        None
    }
    /// The canary hosts (0-based) a failure named, for judges that name hosts.
    fn named_hosts(&self) -> Option<Vec<usize>> {
        None
    }
    /// What the judge says it ruled out when it stopped (sequential judges).
    fn ruled_out(&self) -> Vec<RuledOut> {
        Vec::new()
    }
}

/// The monitor kinds, by name (the `--judges` list).
pub const MONITORS: &[&str] = &[
    "sequential",
    "mann_whitney_intervals",
    "mann_whitney_once",
    "threshold",
    "band",
    "band_hosts",
    "hosts",
];

/// Judges under study, selected by name only (not in the default `--judges` list, so
/// the full table keeps its judges and its time).
pub const STUDY_MONITORS: &[&str] = &["rank"];

/// Build a monitor by name.
pub fn build(name: &str, settings: &MonitorSettings) -> Option<Box<dyn Monitor>> {
    Some(match name {
        "rank" => Box::new(RankMonitor::new(settings)),
        "sequential" => Box::new(SequentialMonitor::new(settings)),
        "mann_whitney_intervals" => Box::new(KayentaMonitor::new(settings, true)),
        "mann_whitney_once" => Box::new(KayentaMonitor::new(settings, false)),
        "threshold" => Box::new(ThresholdMonitor::default()),
        "band" => Box::new(BandMonitor::new(settings)),
        "band_hosts" => Box::new(BandHostsMonitor::new(settings)),
        "hosts" => Box::new(HostsMonitor::new(settings)),
        _ => return None,
    })
}

fn increase() -> MetricOptions {
    MetricOptions {
        direction: Direction::Increase,
        ..MetricOptions::default()
    }
}

/// canaryd's sequential judge on latency (histogram) and errors (counts).
pub struct SequentialMonitor {
    latency: SequentialState,
    errors: SequentialState,
    /// The start of every batch observed, seconds.
    batch_starts: Vec<f64>,
    /// Classic buckets to read latency in: their bounds (ms, +∞ last), and for each fine
    /// bucket of the simulator the coarse one holding it (built at the first scrape).
    coarse: Option<(Vec<f64>, Vec<usize>)>,
    coarse_bounds: Option<Vec<f64>>,
}

impl SequentialMonitor {
    pub fn new(s: &MonitorSettings) -> Self {
        let latency = SequentialConfig {
            alpha: s.alpha,
            tolerance: s.tolerance,
            quantiles: s.quantiles.clone(),
            fixed_quantiles: s.fixed_quantiles.clone(),
            pass_bands: s.pass_bands.clone(),
            pass_from: s.pass_from,
            ..SequentialConfig::default()
        };
        let errors = SequentialConfig {
            alpha: s.alpha,
            tolerance: s.error_tolerance,
            pass_bands: s.pass_bands.clone(),
            pass_from: s.pass_from,
            ..SequentialConfig::default()
        };
        // Two metric pairs share the analysis' α.
        SequentialMonitor {
            latency: SequentialJudge::new(latency)
                .with_pairs(2)
                .with_horizon(s.horizon_batches)
                .start(&increase()),
            errors: SequentialJudge::new(errors)
                .with_pairs(2)
                .with_horizon(s.horizon_batches)
                .start(&increase()),
            batch_starts: Vec::new(),
            coarse: None,
            coarse_bounds: s.buckets_ms.clone(),
        }
    }
}

/// Sum fine bucket counts into classic buckets `wanted` (finite bounds; +∞ is added):
/// their bounds and the arms' counts. `cache` keeps the bounds and, per fine bucket, the
/// coarse one holding it.
fn rebucket<'a>(
    cache: &'a mut Option<(Vec<f64>, Vec<usize>)>,
    wanted: &[f64],
    fine_bounds: &[f64],
    fine: [&[f64]; 2],
) -> (&'a [f64], [Vec<f64>; 2]) {
    let (bounds, map) = cache.get_or_insert_with(|| {
        let mut bounds: Vec<f64> = wanted.iter().copied().filter(|b| b.is_finite()).collect();
        bounds.push(f64::INFINITY);
        // A fine bucket (upper bound u) lies in the first coarse bucket whose bound is ≥ u.
        let map = fine_bounds
            .iter()
            .map(|u| bounds.partition_point(|b| b < u).min(bounds.len() - 1))
            .collect();
        (bounds, map)
    });
    let counts = fine.map(|counts| {
        let mut out = vec![0.0; bounds.len()];
        for (c, &j) in counts.iter().zip(map.iter()) {
            out[j] += c;
        }
        out
    });
    (bounds, counts)
}

impl Monitor for SequentialMonitor {
    fn observe(&mut self, run: &SimRun, step: &SimStep) -> Option<Decision> {
        let [b, c] = &step.arms;
        self.batch_starts.push(step.t_s - run.step_s);
        let lat = match &self.coarse_bounds {
            Some(wanted) => {
                let (bounds, [bc, cc]) = rebucket(
                    &mut self.coarse,
                    wanted,
                    &run.buckets_ms,
                    [&b.latency_buckets, &c.latency_buckets],
                );
                self.latency.update_histograms(bounds, &bc, &cc)
            }
            None => self.latency.update_histograms(
                &run.buckets_ms,
                &b.latency_buckets,
                &c.latency_buckets,
            ),
        };
        let err = self
            .errors
            .update_counts([b.requests, c.requests], [b.errors, c.errors]);
        match (lat, err) {
            (Outcome::Fail, _) | (_, Outcome::Fail) => Some(Decision::Fail),
            (Outcome::Pass, Outcome::Pass) => Some(Decision::Pass),
            _ => None,
        }
    }

    /// The horizon: each pair closes (the count test's fixed-sample look, the
    /// equivalence tests of the pass bands); promoted only when both pairs pass.
    fn finish(&mut self) -> Decision {
        match (self.latency.finish(), self.errors.finish()) {
            (Outcome::Fail, _) | (_, Outcome::Fail) => Decision::Fail,
            (Outcome::Pass, Outcome::Pass) => Decision::Pass,
            _ => Decision::Inconclusive,
        }
    }

    fn ruled_out(&self) -> Vec<RuledOut> {
        [&self.latency, &self.errors]
            .iter()
            .filter_map(|s| s.judgement().judged)
            .flat_map(|j| j.ruled_out)
            .collect()
    }

    fn estimated_onset_s(&self) -> Option<f64> {
        // The onset of the pair that failed (errors first: they decide first when both do).
        let failed = |s: &SequentialState| s.outcome() == Outcome::Fail;
        let onset = if failed(&self.errors) {
            self.errors.onset
        } else if failed(&self.latency) {
            self.latency.onset
        } else {
            None
        };
        onset.and_then(|b| self.batch_starts.get(b).copied())
    }
}

/// Per-scrape aggregates both Kayenta-style monitors judge: mean latency and error rate.
#[derive(Default)]
struct IntervalSeries {
    latency: [Vec<f64>; 2],
    error_rate: [Vec<f64>; 2],
}

impl IntervalSeries {
    fn push(&mut self, step: &SimStep) {
        for arm in [BASELINE, CANARY] {
            let a = &step.arms[arm];
            if a.requests > 0.0 {
                self.latency[arm].push(a.latency_sum_ms / a.requests);
                self.error_rate[arm].push(a.errors / a.requests);
            }
        }
    }

    /// Kayenta's score for the data so far: two metrics in two equally weighted groups.
    fn score(&self, judge: &MannWhitneyJudge) -> f64 {
        let lat = judge.judge_values(&increase(), &self.latency[BASELINE], &self.latency[CANARY]);
        let err = judge.judge_values(
            &increase(),
            &self.error_rate[BASELINE],
            &self.error_rate[CANARY],
        );
        let (g1, g2) = (vec!["latency".to_string()], vec!["errors".to_string()]);
        let inputs = [
            ScoreInput {
                name: "latency",
                metric: "latency",
                groups: &g1,
                muted: false,
                critical: false,
                judgement: &lat,
            },
            ScoreInput {
                name: "errors",
                metric: "errors",
                groups: &g2,
                muted: false,
                critical: false,
                judgement: &err,
            },
        ];
        score(
            &inputs,
            &BTreeMap::new(),
            Thresholds::default(),
            ScoringRules::Kayenta,
        )
        .score
    }
}

/// Kayenta's NetflixACAJudge, at every interval or once at the horizon.
pub struct KayentaMonitor {
    judge: MannWhitneyJudge,
    series: IntervalSeries,
    every_interval: bool,
    interval_s: f64,
    next_check_s: f64,
    started_s: Option<f64>,
}

impl KayentaMonitor {
    pub fn new(s: &MonitorSettings, every_interval: bool) -> Self {
        KayentaMonitor {
            judge: MannWhitneyJudge::new(MannWhitneyConfig::default()),
            series: IntervalSeries::default(),
            every_interval,
            interval_s: s.mw_interval_s,
            next_check_s: f64::INFINITY,
            started_s: None,
        }
    }
}

impl Monitor for KayentaMonitor {
    fn observe(&mut self, _run: &SimRun, step: &SimStep) -> Option<Decision> {
        let start = *self.started_s.get_or_insert(step.t_s);
        if self.next_check_s.is_infinite() {
            self.next_check_s = start + self.interval_s;
        }
        self.series.push(step);
        if self.every_interval && step.t_s >= self.next_check_s - 1e-9 {
            self.next_check_s += self.interval_s;
            if self.series.score(&self.judge) <= Thresholds::default().marginal {
                return Some(Decision::Fail);
            }
        }
        None
    }

    fn finish(&mut self) -> Decision {
        match Verdict::of(self.series.score(&self.judge), Thresholds::default()) {
            Verdict::Pass => Decision::Pass,
            Verdict::Marginal | Verdict::Inconclusive => Decision::Inconclusive,
            Verdict::Fail => Decision::Fail,
        }
    }
}

/// The sequential rank test for shifts on latency alone (`sequential::rank`; issue 31's
/// first step): every scrape's canary and baseline histograms; it fails when the e-value
/// has reached 1/α (the whole analysis' α: it is the only test) **and**, as the
/// sequential judge asks of its own tests, some compared quantile of everything seen so
/// far is beyond the latency band. It never passes.
pub struct RankMonitor {
    test: RankShift,
    quantiles: Vec<f64>,
    tolerance: f64,
    /// Cumulative histograms, baseline and canary.
    seen: [Vec<f64>; 2],
}

impl RankMonitor {
    pub fn new(s: &MonitorSettings) -> Self {
        RankMonitor {
            test: RankShift::new(s.alpha),
            quantiles: s.quantiles.clone(),
            tolerance: s.tolerance,
            seen: [Vec::new(), Vec::new()],
        }
    }
}

impl Monitor for RankMonitor {
    fn observe(&mut self, run: &SimRun, step: &SimStep) -> Option<Decision> {
        let [b, c] = &step.arms;
        self.test
            .add_histograms(&c.latency_buckets, &b.latency_buckets);
        for (seen, arm) in self.seen.iter_mut().zip([b, c]) {
            seen.resize(arm.latency_buckets.len(), 0.0);
            seen.iter_mut()
                .zip(&arm.latency_buckets)
                .for_each(|(s, x)| *s += x);
        }
        if !self.test.rejects() {
            return None;
        }
        let beyond = self.quantiles.iter().any(|&q| {
            let qb = histogram_quantile(&run.buckets_ms, &self.seen[BASELINE], q);
            let qc = histogram_quantile(&run.buckets_ms, &self.seen[CANARY], q);
            qb > 0.0 && qc > (1.0 + self.tolerance) * qb
        });
        beyond.then_some(Decision::Fail)
    }

    fn finish(&mut self) -> Decision {
        Decision::Inconclusive
    }
}

/// Flagger-style checks on the last 60 s.
#[derive(Default)]
pub struct ThresholdMonitor {
    window: Vec<[ArmStep; 2]>,
    window_start_s: Option<f64>,
    failed_checks: u32,
}

/// Flagger's defaults: one failed check is allowed, the second rolls back.
const THRESHOLD_CHECK_S: f64 = 60.0;
const THRESHOLD_FAILED_CHECKS: u32 = 2;
const THRESHOLD_MAX_ERROR_RATE: f64 = 0.01;
const THRESHOLD_MAX_P99_RATIO: f64 = 1.2;

pub use crate::sim::aggregates::histogram_quantile;

impl Monitor for ThresholdMonitor {
    fn observe(&mut self, run: &SimRun, step: &SimStep) -> Option<Decision> {
        let start = *self.window_start_s.get_or_insert(step.t_s - run.step_s);
        self.window.push(step.arms.clone());
        if step.t_s - start < THRESHOLD_CHECK_S - 1e-9 {
            return None;
        }
        let n = run.buckets_ms.len();
        let mut sums = [(0.0, 0.0, vec![0.0; n]), (0.0, 0.0, vec![0.0; n])];
        for arms in &self.window {
            for arm in [BASELINE, CANARY] {
                let a = &arms[arm];
                sums[arm].0 += a.requests;
                sums[arm].1 += a.errors;
                for (s, c) in sums[arm].2.iter_mut().zip(&a.latency_buckets) {
                    *s += c;
                }
            }
        }
        self.window.clear();
        self.window_start_s = Some(step.t_s);
        let (c_req, c_err, c_hist) = &sums[CANARY];
        let error_rate = if *c_req > 0.0 { c_err / c_req } else { 0.0 };
        let p99_c = histogram_quantile(&run.buckets_ms, c_hist, 0.99);
        let p99_b = histogram_quantile(&run.buckets_ms, &sums[BASELINE].2, 0.99);
        let latency_bad =
            p99_c.is_finite() && p99_b.is_finite() && p99_c > THRESHOLD_MAX_P99_RATIO * p99_b;
        if error_rate > THRESHOLD_MAX_ERROR_RATE || latency_bad {
            self.failed_checks += 1;
            if self.failed_checks >= THRESHOLD_FAILED_CHECKS {
                return Some(Decision::Fail);
            }
        }
        None
    }

    fn finish(&mut self) -> Decision {
        Decision::Pass
    }
}

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
const BAND_SERIES: [&str; 4] = ["p50", "p90", "p99", "errors"];

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
fn band_judges(alpha: f64) -> [BandJudge; 2] {
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
fn band_decision(judgements: &[canary_judges::Judgement]) -> Decision {
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
type HostSeries = [(Vec<f64>, Vec<f64>); 4];

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

/// Hosts as the unit: the fleet test and the host rule on latency and errors.
pub struct HostsMonitor {
    settings: MonitorSettings,
    /// Built at the first scrape, when the hosts are known.
    tests: Option<[HostTest; 2]>,
    named: Vec<usize>,
}

impl HostsMonitor {
    pub fn new(s: &MonitorSettings) -> Self {
        HostsMonitor {
            settings: s.clone(),
            tests: None,
            named: Vec::new(),
        }
    }

    fn build(&self, run: &SimRun, step: &SimStep) -> [HostTest; 2] {
        let s = &self.settings;
        let hosts = [BASELINE, CANARY].map(|arm| step.arms[arm].hosts.len());
        // Latency and errors share the analysis' α.
        // A look every minute of data.
        let every = (60.0 / run.step_s).ceil().max(1.0) as usize;
        // The sequential judge's settings (its pass bands per quantile, and `rate`), one
        // per test: errors have their own band.
        let seq = |tolerance: f64| SequentialConfig {
            alpha: s.alpha,
            tolerance,
            quantiles: s.quantiles.clone(),
            pass_bands: s.pass_bands.clone(),
            pass_from: s.pass_from,
            ..SequentialConfig::default()
        };
        let planned = s.horizon_batches;
        [
            HostTest::latency(
                HostsConfig::from_sequential(
                    &seq(s.tolerance),
                    s.alpha / 2.0,
                    false,
                    planned,
                    every,
                ),
                &run.buckets_ms,
                hosts,
            ),
            HostTest::counts(
                HostsConfig::from_sequential(
                    &seq(s.error_tolerance),
                    s.alpha / 2.0,
                    true,
                    planned,
                    every,
                ),
                hosts,
            ),
        ]
    }
}

impl HostsMonitor {
    /// Fail when either test fails (naming hosts), pass when both pass, inconclusive when
    /// both are decided otherwise.
    fn decide(&mut self, outcomes: &[HostOutcome; 2]) -> Option<Decision> {
        if let Some(hosts) = outcomes.iter().find_map(|o| match o {
            HostOutcome::Fail { hosts, .. } => Some(hosts),
            _ => None,
        }) {
            self.named = hosts.clone();
            return Some(Decision::Fail);
        }
        let all = |f: fn(&HostOutcome) -> bool| outcomes.iter().all(f);
        if all(|o| matches!(o, HostOutcome::Pass { .. })) {
            return Some(Decision::Pass);
        }
        if all(HostOutcome::is_decided) {
            return Some(Decision::Inconclusive);
        }
        None
    }
}

impl Monitor for HostsMonitor {
    fn observe(&mut self, run: &SimRun, step: &SimStep) -> Option<Decision> {
        if self.tests.is_none() {
            self.tests = Some(self.build(run, step));
        }
        let [latency, errors] = self.tests.as_mut()?;
        for arm in [BASELINE, CANARY] {
            for (h, host) in step.arms[arm].hosts.iter().enumerate() {
                latency.add_latency(arm, h, &host.buckets);
                errors.add_counts(arm, h, host.requests, host.errors);
            }
        }
        let outcomes = [latency.end_batch().clone(), errors.end_batch().clone()];
        self.decide(&outcomes)
    }

    fn finish(&mut self) -> Decision {
        // The horizon: passes that wait for it are decided here, once.
        let Some([latency, errors]) = self.tests.as_mut() else {
            return Decision::Inconclusive;
        };
        let outcomes = [latency.finish().clone(), errors.finish().clone()];
        self.decide(&outcomes).unwrap_or(Decision::Inconclusive)
    }

    fn named_hosts(&self) -> Option<Vec<usize>> {
        Some(self.named.clone())
    }

    /// The fleets' bounds at the last look: per quantile and for the error rate.
    fn ruled_out(&self) -> Vec<RuledOut> {
        self.tests
            .iter()
            .flatten()
            .flat_map(|t| t.bounds.iter())
            .map(|b| RuledOut {
                quantity: b.quantity.clone(),
                upper: Some(b.upper),
                lower: None,
                pass: b.pass,
                more: None,
                more_s: None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantile_interpolates_like_prometheus() {
        let bounds = [1.0, 2.0, 4.0, f64::INFINITY];
        let counts = [10.0, 10.0, 0.0, 0.0];
        assert_eq!(histogram_quantile(&bounds, &counts, 0.5), 1.0);
        assert_eq!(histogram_quantile(&bounds, &counts, 0.75), 1.5);
        assert!(histogram_quantile(&bounds, &[0.0; 4], 0.5).is_nan());
        assert_eq!(
            histogram_quantile(&bounds, &[0.0, 0.0, 0.0, 5.0], 0.99),
            4.0
        );
    }

    /// The hosts monitor on simulated deploys: one crash-looping canary host among three
    /// is failed and named; the same fleet without the change is not failed.
    #[test]
    fn the_hosts_monitor_names_a_broken_host() {
        use crate::eval::{RunTotals, watch};
        use crate::sim::generate::simulate;
        use crate::sim::scenario::Scenario;
        let text = |change: &str| {
            format!(
                "name = \"t\"\nduration_s = 600\n[traffic]\nhosts = 3\nhost_sigma = 0.1\n{change}"
            )
        };
        let settings = MonitorSettings {
            horizon_batches: 60,
            ..MonitorSettings::default()
        };
        let bad = Scenario::parse(
            &text("[[changes]]\nkind = \"crash_loop\"\nhosts_affected = 1\n"),
            "t.toml",
        )
        .expect("valid");
        let good = Scenario::parse(&text(""), "t.toml").expect("valid");
        for seed in 0..5 {
            let run = simulate(&bad, seed, false);
            let mut m = HostsMonitor::new(&settings);
            let out = watch(&run, &RunTotals::of(&run), &mut m, 0.0, &[]);
            assert_eq!(out.decision, Decision::Fail);
            assert_eq!(m.named_hosts(), Some(vec![0]));
            assert_eq!(out.named_right, Some(true));
            let run = simulate(&good, seed, false);
            let mut m = HostsMonitor::new(&settings);
            let out = watch(&run, &RunTotals::of(&run), &mut m, 0.0, &[]);
            assert_ne!(out.decision, Decision::Fail, "seed {seed}");
        }
    }

    /// The rank judge under study fails a +20% latency shift, and not the same deploy
    /// without it; it is selectable by name but not in the default list.
    #[test]
    fn the_rank_monitor_fails_a_shift_only() {
        use crate::eval::{RunTotals, watch};
        use crate::sim::generate::simulate;
        use crate::sim::scenario::Scenario;
        let text = |change: &str| format!("name = \"t\"\nduration_s = 600\n{change}");
        let settings = MonitorSettings {
            horizon_batches: 60,
            ..MonitorSettings::default()
        };
        let bad = Scenario::parse(
            &text("[[changes]]\nkind = \"latency_shift\"\nfactor = 1.2\n"),
            "t.toml",
        )
        .expect("valid");
        let good = Scenario::parse(&text(""), "t.toml").expect("valid");
        for seed in 0..5 {
            let run = simulate(&bad, seed, false);
            let mut m = build("rank", &settings).expect("a study judge");
            let out = watch(&run, &RunTotals::of(&run), m.as_mut(), 0.0, &[]);
            assert_eq!(out.decision, Decision::Fail, "seed {seed}");
            let run = simulate(&good, seed, false);
            let mut m = build("rank", &settings).expect("a study judge");
            let out = watch(&run, &RunTotals::of(&run), m.as_mut(), 0.0, &[]);
            assert_eq!(out.decision, Decision::Inconclusive, "seed {seed}");
        }
        assert!(!MONITORS.contains(&"rank") && STUDY_MONITORS.contains(&"rank"));
    }
}
