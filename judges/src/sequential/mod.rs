//! The `sequential` judge: anytime-valid tests that may decide after every scrape with a
//! guaranteed false-alarm rate — fail fast on a real regression, pass early when the
//! change is provably inside the deviation band, keep waiting otherwise.
//!
//! One state per metric pair, updated with batches (one scrape's worth):
//! - event counts (errors out of requests) → [`counts::RateRatioTest`];
//! - distributions (per-request samples or histogram buckets) → [`distribution::DistributionTest`];
//! - per-interval aggregates → [`mean::MeanTest`].
//!
//! Event counts are judged one-sided by default ("the canary has more errors"), also when
//! the metric's direction is `either`; `decrease` watches for fewer events instead.
//!
//! Decisions, with tolerance `tol` (the deviation band, e.g. 0.05 = "may rise 5%"):
//! **fail** when the regression is significant and beyond the band, **pass** when the
//! confidence sequence lies inside the band, **continue** otherwise; at the horizon
//! (`max_samples`, or the caller's max duration) **inconclusive**. The false-alarm budget
//! `alpha` is the whole analysis's: the caller divides it among the metric pairs it judges
//! sequentially ([`SequentialJudge::with_pairs`]), so the analysis keeps its rate.
//!
//! Event counts spend their pair's α in two parts: (1 − [`HORIZON_SHARE`])·α on the
//! anytime-valid e-process, looked at after every scrape, and [`HORIZON_SHARE`]·α on one
//! fixed-sample test of all errors at the horizon ([`counts::RateRatioTest::horizon_p_value`]).
//! By the union bound the pair's false-alarm rate stays ≤ α, and short count data an
//! e-process cannot settle (28 against 6 errors) is still decided when the data ends.

pub mod boundaries;
pub mod counts;
pub mod distribution;
pub mod histogram;
pub mod mean;
pub mod rank;
pub mod restart;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use self::counts::RateRatioTest;
use self::distribution::{DistributionTest, Finding, QuantileBounds, ShareBounds};
use self::histogram::{Buckets, LogIndex};
use self::mean::MeanTest;
use self::restart::RestartGrid;
use crate::judge::{FieldError, Judge, JudgeKind};
use crate::judgement::{Check, Classification, Compare, Judged, Judgement, RuledOut};
use crate::kinds::num;
use crate::options::{Direction, MetricOptions};
use crate::sample::{MetricPair, Sample, Summary};

/// Share of a count pair's α kept for the fixed-sample test at the horizon (the rest is
/// the anytime-valid e-process's).
pub const HORIZON_SHARE: f64 = 0.25;

/// A later stretch of a count test's run must also prove the pass band at the horizon
/// when its errors would prove it with at least this probability had nothing changed.
pub const STRETCH_POWER: f64 = 0.99;

/// What the `Values` of a metric are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    /// One value per request (latencies): compared as distributions.
    #[default]
    Requests,
    /// One value per interval and arm (a per-scrape aggregate): compared as paired means.
    Intervals,
}

/// What an undecided test becomes at its horizon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InconclusiveAction {
    /// `inconclusive`: never promotes; caps the analysis at marginal (a person decides).
    #[default]
    Hold,
    /// Counts as a failure (`high`/`low` in the watched direction): roll back.
    Fail,
    /// Counts as a pass: promote what could not be shown worse (for low-risk changes).
    Pass,
}

/// Options of the `sequential` judge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequentialConfig {
    /// False-alarm rate of the whole analysis, at any stopping time (split across pairs).
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Deviation band: the canary may be worse by this fraction without failing
    /// (error-rate ratio, quantile ratio or mean ratio).
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// Pass bands: a canary is promoted once the confidence sequence rules out that it is
    /// worse than the baseline by more than this fraction — per quantile (`p50`, `p99.9`),
    /// for event counts (`rate`) and per-interval means (`mean`); a key not given falls back
    /// to `tolerance`. Wider than the fail band where the data cannot prove a tight one
    /// (tails): see docs/sequential.md, "Pass bands".
    #[serde(default = "default_pass_bands")]
    pub pass_bands: BTreeMap<String, f64>,
    /// Share of the horizon after which a pass takes effect: 1 (the default) promotes only
    /// at the horizon, after the restarted tests watched the whole run for a late
    /// regression; 0 promotes as soon as the bands are proven.
    #[serde(default = "default_pass_from")]
    pub pass_from: f64,
    /// Quantiles compared for distributions.
    #[serde(default = "default_quantiles")]
    pub quantiles: Vec<f64>,
    /// Quantiles that also get a fixed-quantile confidence sequence: tighter than the
    /// uniform band for one quantile (the more so in the tail), at a share of α.
    #[serde(default = "default_fixed_quantiles")]
    pub fixed_quantiles: Vec<f64>,
    /// How to read plain values: per request or per interval.
    #[serde(default)]
    pub values: ValueKind,
    /// Concentration of the count test's Dirichlet prior (Lindon & Malek's k); half the
    /// prior mass.
    #[serde(default = "default_prior_k")]
    pub prior_k: f64,
    /// Concentration of the broad half of the count prior, for large changes (a crash
    /// loop is caught within a few errors).
    #[serde(default = "default_broad_prior_k")]
    pub broad_prior_k: f64,
    /// Intervals before the paired-mean test may decide.
    #[serde(default = "default_burn_in")]
    pub burn_in: usize,
    /// Horizon: observations per arm after which an undecided test is inconclusive.
    #[serde(default)]
    pub max_samples: Option<f64>,
    /// What an undecided test becomes at its horizon: `hold` (inconclusive), `fail`, `pass`.
    #[serde(default)]
    pub on_inconclusive: InconclusiveAction,
    /// Relative bucket width for raw per-request values (0.01 = 1%).
    #[serde(default = "default_bucket_width")]
    pub bucket_width: f64,
    /// Change points watched for a regression that starts mid-analysis: the count test's
    /// "no change" e-process restarts this many times, evenly over the analysis's horizon,
    /// and the restarts are mixed ([`restart`]); 1 watches only for a regression present
    /// from the start.
    #[serde(default = "default_restarts")]
    pub restarts: usize,
    /// Starts of the distribution test (latency) over the horizon, the first at 0: each
    /// later one is a fresh test fed the scrapes from its start on, at an equal share of
    /// half the pair's α (the test from 0 keeps the other half); 1 = from the start only.
    #[serde(default = "default_distribution_restarts")]
    pub distribution_restarts: usize,
}

fn default_alpha() -> f64 {
    0.01
}
fn default_tolerance() -> f64 {
    0.05
}
/// The pass bands canaryd ships (docs/sequential.md, "Pass bands", has the measurements
/// behind them).
pub fn default_pass_bands() -> BTreeMap<String, f64> {
    [
        ("p50", 0.05),
        ("p90", 0.10),
        ("p99", 0.30),
        ("rate", 1.0),
        ("mean", 0.10),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}
fn default_pass_from() -> f64 {
    1.0
}
fn default_quantiles() -> Vec<f64> {
    vec![0.5, 0.9, 0.99]
}
fn default_fixed_quantiles() -> Vec<f64> {
    vec![0.99]
}
fn default_prior_k() -> f64 {
    counts::DEFAULT_PRIOR_K
}
fn default_broad_prior_k() -> f64 {
    2.0
}
fn default_burn_in() -> usize {
    10
}
fn default_restarts() -> usize {
    30
}
fn default_distribution_restarts() -> usize {
    6
}
fn default_bucket_width() -> f64 {
    0.01
}

impl Default for SequentialConfig {
    fn default() -> Self {
        SequentialConfig {
            alpha: default_alpha(),
            tolerance: default_tolerance(),
            pass_bands: default_pass_bands(),
            pass_from: default_pass_from(),
            quantiles: default_quantiles(),
            fixed_quantiles: default_fixed_quantiles(),
            values: ValueKind::default(),
            prior_k: default_prior_k(),
            broad_prior_k: default_broad_prior_k(),
            burn_in: default_burn_in(),
            max_samples: None,
            on_inconclusive: InconclusiveAction::default(),
            bucket_width: default_bucket_width(),
            restarts: default_restarts(),
            distribution_restarts: default_distribution_restarts(),
        }
    }
}

/// The pass-band key of quantile `p`: `p50`, `p99.9`.
pub fn quantile_key(p: f64) -> String {
    format!("p{}", num(p * 100.0))
}

/// The quantile a pass-band key names (`p99.9` → 0.999), if it names one.
fn key_quantile(key: &str) -> Option<f64> {
    let pct: f64 = key.strip_prefix('p')?.parse().ok()?;
    (pct > 0.0 && pct < 100.0).then_some(pct / 100.0)
}

impl SequentialConfig {
    /// The pass band for `key` (`rate`, `mean`, or a quantile's `p50`): its own, else the
    /// fail band.
    pub fn pass_band(&self, key: &str) -> f64 {
        self.pass_bands.get(key).copied().unwrap_or(self.tolerance)
    }

    /// The pass band of quantile `p`.
    pub fn quantile_pass_band(&self, p: f64) -> f64 {
        self.pass_bands
            .iter()
            .find(|(k, _)| key_quantile(k).is_some_and(|q| (q - p).abs() < 1e-9))
            .map_or(self.tolerance, |(_, v)| *v)
    }

    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut err =
            |field: &'static str, message: String| errors.push(FieldError { field, message });
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            err(
                "alpha",
                format!("must be between 0 and 1 (exclusive), got {}", self.alpha),
            );
        }
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            err(
                "tolerance",
                format!("must be a finite number ≥ 0, got {}", self.tolerance),
            );
        }
        for (key, band) in &self.pass_bands {
            if !(key == "rate" || key == "mean" || key_quantile(key).is_some()) {
                err(
                    "pass_bands",
                    format!(
                        "unknown key `{key}`: use `rate`, `mean` or a quantile such as `p50`, `p99.9`"
                    ),
                );
            } else if !(band.is_finite() && *band >= 0.0) {
                err(
                    "pass_bands",
                    format!("`{key}` must be a finite number ≥ 0, got {band}"),
                );
            }
        }
        if !(0.0..=1.0).contains(&self.pass_from) {
            err(
                "pass_from",
                format!(
                    "is a share of the horizon between 0 and 1, got {}",
                    self.pass_from
                ),
            );
        }
        if self.quantiles.is_empty() {
            err("quantiles", "needs at least one quantile".into());
        }
        for (field, list) in [
            ("quantiles", &self.quantiles),
            ("fixed_quantiles", &self.fixed_quantiles),
        ] {
            if let Some(p) = list.iter().find(|p| !(**p > 0.0 && **p < 1.0)) {
                err(
                    field,
                    format!("quantiles are fractions between 0 and 1 (p99 is 0.99), got {p}"),
                );
            }
        }
        if !(self.prior_k.is_finite() && self.prior_k > 0.0) {
            err(
                "prior_k",
                format!("must be a positive number, got {}", self.prior_k),
            );
        }
        if let Some(m) = self.max_samples
            && !(m.is_finite() && m > 0.0)
        {
            err("max_samples", format!("must be a positive number, got {m}"));
        }
        if !(1..=100).contains(&self.distribution_restarts) {
            err(
                "distribution_restarts",
                format!(
                    "must be between 1 (no restarts) and 100, got {}",
                    self.distribution_restarts
                ),
            );
        }
        if !(1..=10_000).contains(&self.restarts) {
            err(
                "restarts",
                format!(
                    "must be between 1 (no restarts) and 10000, got {}",
                    self.restarts
                ),
            );
        }
        if !(self.bucket_width > 0.0 && self.bucket_width <= 0.5) {
            err(
                "bucket_width",
                format!("must be in (0, 0.5], got {}", self.bucket_width),
            );
        }
        errors
    }
}

/// Where a sequential test stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A regression beyond the band is proven.
    Fail,
    /// The change is proven inside the band.
    Pass,
    /// Not enough evidence yet.
    Continue,
    /// The horizon was reached without a decision.
    Inconclusive,
}

/// The test behind a metric pair.
#[derive(Debug, Clone)]
enum Test {
    /// `cached`: the last e-values (fail up, fail down, pass up, pass down), reused until
    /// new events arrive.
    Counts {
        test: Box<RateRatioTest>,
        cached: Option<[f64; 4]>,
    },
    Distribution {
        test: DistributionTest,
        index: Option<LogIndex>,
        /// Tests restarted later: (start batch, test fed from it on).
        later: Vec<(usize, DistributionTest)>,
    },
    Mean(MeanTest),
}

/// Streaming state of one metric pair under the sequential judge.
#[derive(Debug, Clone)]
pub struct SequentialState {
    /// Where the count test's "no change" e-process restarts.
    grid: RestartGrid,
    /// Where the distribution and per-interval mean tests restart.
    distribution_grid: RestartGrid,
    /// Per-interval means: tests restarted later, (start batch, test fed from it on).
    later_means: Vec<(usize, MeanTest)>,
    /// Per-interval means: the restarted test that found the canary worse, whose numbers
    /// the judgement shows.
    shown_mean: Option<MeanTest>,
    /// For a failure found by a restarted test: the batch (0-based) its evidence starts
    /// at — about when the change began.
    pub onset: Option<usize>,
    /// The same in seconds from the start, when the caller knows the batches' times.
    pub onset_after_s: Option<f64>,
    test: Option<Test>,
    alpha: f64,
    config: SequentialConfig,
    options: MetricOptions,
    /// The first decision reached; it stands (stopping is part of the design).
    decided: Option<Outcome>,
    /// Observations per arm so far.
    pub samples: [f64; 2],
    /// Seconds of data seen so far, when the caller knows: what was ruled out then says
    /// how long the rest would take at the same rate.
    pub elapsed_s: Option<f64>,
    /// Batches seen so far, and at which one the decision came.
    pub batches: usize,
    pub decided_at: Option<usize>,
    /// Seconds from the start to the end of the deciding batch, when the caller knows
    /// the batches' times (the reason then says when, not only after how many batches).
    pub decided_after_s: Option<f64>,
    /// For a failure: whether the canary is worse by being higher (else lower).
    pub fail_higher: bool,
    /// Running minimum of the anytime-valid p-value of "no change" (counts).
    pub p_value: f64,
    /// Counts: the running maximum of ln E against "no change", up and down. The first
    /// crossing of ln(1/α) has probability ≤ α under the null (Ville), so a decision may
    /// use the maximum so far, not only the value now.
    max_log_e: [f64; 2],
    /// Distributions: whether a difference is significant now, `[slower, faster]`.
    significant: [bool; 2],
    /// Whether the last update proved the canary inside the pass bands (a pass, once due).
    within: bool,
    /// Whether the bounds shown come from the horizon's one-look equivalence test.
    horizon_look: bool,
    /// Batches the analysis is expected to see ([`SequentialConfig::pass_from`] is a share
    /// of them).
    horizon: usize,
    last_bounds: Vec<QuantileBounds>,
    /// The horizon's share checks where the buckets were too coarse for a quantile.
    last_shares: Vec<ShareBounds>,
    error: Option<String>,
    /// Counts: the fixed-sample p-value of the test at the horizon, once it ran.
    horizon_p: Option<f64>,
}

/// The sequential judge for one analysis.
#[derive(Debug, Clone)]
pub struct SequentialJudge {
    config: SequentialConfig,
    /// α of one metric pair.
    pair_alpha: f64,
    /// Batches the analysis is expected to see (the restart grid spans them).
    horizon: Option<usize>,
}

impl SequentialJudge {
    /// A judge whose pairs each get the whole α (a single pair).
    pub fn new(config: SequentialConfig) -> Self {
        let pair_alpha = config.alpha;
        SequentialJudge {
            config,
            pair_alpha,
            horizon: None,
        }
    }

    /// The number of batches (scrapes) the analysis is expected to see: the restarts that
    /// watch for a late regression are spread over them. Without it
    /// [`restart::DEFAULT_HORIZON_BATCHES`] (30 minutes of 10-s scrapes). It must not
    /// depend on the data: every look of one analysis must use the same grid.
    pub fn with_horizon(mut self, batches: usize) -> Self {
        self.horizon = Some(batches.max(1));
        self
    }

    /// Where the count test's restarts begin.
    pub fn grid(&self) -> RestartGrid {
        RestartGrid::new(
            self.horizon.unwrap_or(restart::DEFAULT_HORIZON_BATCHES),
            self.config.restarts,
        )
    }

    /// Where the distribution test's restarts begin.
    pub fn distribution_grid(&self) -> RestartGrid {
        RestartGrid::new(
            self.horizon.unwrap_or(restart::DEFAULT_HORIZON_BATCHES),
            self.config.distribution_restarts,
        )
    }

    /// Split α across the `pairs` metric pairs an analysis judges sequentially
    /// (Bonferroni: valid for e-processes and confidence sequences alike).
    pub fn with_pairs(mut self, pairs: usize) -> Self {
        self.pair_alpha = self.config.alpha / pairs.max(1) as f64;
        self
    }

    pub fn config(&self) -> &SequentialConfig {
        &self.config
    }

    pub fn pair_alpha(&self) -> f64 {
        self.pair_alpha
    }

    /// A fresh state for one metric pair.
    pub fn start(&self, options: &MetricOptions) -> SequentialState {
        self.start_on(options, self.grid(), self.distribution_grid())
    }

    fn start_on(
        &self,
        options: &MetricOptions,
        grid: RestartGrid,
        distribution_grid: RestartGrid,
    ) -> SequentialState {
        SequentialState {
            grid,
            distribution_grid,
            later_means: Vec::new(),
            shown_mean: None,
            onset: None,
            onset_after_s: None,
            test: None,
            alpha: self.pair_alpha,
            config: self.config.clone(),
            options: *options,
            decided: None,
            samples: [0.0; 2],
            elapsed_s: None,
            batches: 0,
            decided_at: None,
            decided_after_s: None,
            fail_higher: options.direction != Direction::Decrease,
            p_value: 1.0,
            max_log_e: [f64::NEG_INFINITY; 2],
            significant: [false; 2],
            within: false,
            horizon_look: false,
            horizon: self.horizon.unwrap_or(restart::DEFAULT_HORIZON_BATCHES),
            last_bounds: Vec::new(),
            last_shares: Vec::new(),
            error: None,
            horizon_p: None,
        }
    }
}

impl SequentialState {
    /// The α of the distribution test started at start `k` of its grid: the whole pair's
    /// without restarts; else half for the start at 0 and an equal share of the other
    /// half for each later start (Bonferroni over the starts).
    fn distribution_alpha(&self, k: usize) -> f64 {
        let g = self.distribution_grid;
        if g.count <= 1 {
            self.alpha
        } else if k == 0 {
            self.alpha / 2.0
        } else {
            self.alpha / 2.0 / (g.count - 1) as f64
        }
    }

    fn new_distribution(&self, buckets: Buckets, alpha: f64) -> DistributionTest {
        let c = &self.config;
        let bands = c
            .quantiles
            .iter()
            .chain(&c.fixed_quantiles)
            .map(|&p| (p, c.quantile_pass_band(p)))
            .collect();
        DistributionTest::new(
            buckets,
            alpha,
            c.tolerance,
            c.quantiles.clone(),
            c.fixed_quantiles.clone(),
            self.options.direction,
        )
        .with_pass_bands(bands)
    }

    fn distribution_test(&self, buckets: Buckets, index: Option<LogIndex>) -> Test {
        let test = self.new_distribution(buckets, self.distribution_alpha(0));
        Test::Distribution {
            test,
            index,
            later: Vec::new(),
        }
    }

    /// Begin the distribution test's restart due before this batch, if any.
    fn restart_distribution(&mut self) {
        let Some(k) = self
            .distribution_grid
            .start_at(self.batches)
            .filter(|k| *k > 0)
        else {
            return;
        };
        let alpha = self.distribution_alpha(k);
        let batch = self.batches;
        let fresh = match &self.test {
            Some(Test::Distribution { test, .. }) => {
                Some(self.new_distribution(test.buckets().clone(), alpha))
            }
            _ => None,
        };
        if let (Some(fresh), Some(Test::Distribution { later, .. })) = (fresh, self.test.as_mut()) {
            later.push((batch, fresh));
        }
    }

    fn counts_test(&self) -> Test {
        let k = 1.0 + self.config.tolerance;
        let kp = 1.0 + self.config.pass_band("rate");
        let prior = [(0.5, self.config.prior_k), (0.5, self.config.broad_prior_k)];
        let nulls = [1.0, k, 1.0 / k, kp, 1.0 / kp];
        Test::Counts {
            test: Box::new(if self.grid.count > 1 {
                RateRatioTest::with_prior(&nulls, &prior).with_onsets(self.grid)
            } else {
                RateRatioTest::with_prior(&nulls, &prior)
            }),
            cached: None,
        }
    }

    fn make_test(&self, batch: &MetricPair) -> Result<Test, String> {
        let c = &self.config;
        let dir = self.options.direction;
        Ok(match (&batch.baseline, &batch.canary) {
            (Sample::Counts { .. }, _) | (_, Sample::Counts { .. }) => self.counts_test(),
            (Sample::Histogram { bounds, .. }, _) | (_, Sample::Histogram { bounds, .. }) => {
                let floor = if bounds.first().is_some_and(|b| *b > 0.0) {
                    0.0
                } else {
                    f64::NEG_INFINITY
                };
                let buckets =
                    Buckets::new(bounds.clone(), floor).map_err(|e| format!("histogram: {e}"))?;
                self.distribution_test(buckets, None)
            }
            (
                Sample::Values(_) | Sample::Aggregates { .. },
                Sample::Values(_) | Sample::Aggregates { .. },
            ) => match c.values {
                ValueKind::Requests => {
                    let (min, max) = (1e-6, 1e9);
                    let buckets = Buckets::log_spaced(min, max, c.bucket_width);
                    let index = LogIndex::new(min, c.bucket_width, &buckets);
                    self.distribution_test(buckets, Some(index))
                }
                ValueKind::Intervals => Test::Mean(
                    MeanTest::new(
                        self.distribution_alpha(0),
                        c.tolerance,
                        dir,
                        c.burn_in,
                        50.0,
                    )
                    .with_pass_band(c.pass_band("mean")),
                ),
            },
        })
    }

    /// Add one scrape's worth of data and return where the test stands. Once a decision
    /// is reached it stands.
    pub fn update(&mut self, batch: &MetricPair) -> Outcome {
        if let Some(d) = self.frozen() {
            return d;
        }
        if self.test.is_none() {
            match self.make_test(batch) {
                Ok(t) => self.test = Some(t),
                Err(e) => {
                    self.batches += 1;
                    self.error = Some(e);
                    return Outcome::Continue;
                }
            }
        }
        match self.test.as_mut().expect("created above") {
            Test::Counts { .. } => {
                let (Some(req), Some(err)) = (counts_of(batch, false), counts_of(batch, true))
                else {
                    self.batches += 1;
                    self.error = Some("a count metric needs event counts on both arms".into());
                    return Outcome::Continue;
                };
                self.update_counts(req, err)
            }
            Test::Distribution { .. } => {
                self.restart_distribution();
                let Some(Test::Distribution { test, index, later }) = self.test.as_mut() else {
                    unreachable!("matched above");
                };
                for t in std::iter::once(test).chain(later.iter_mut().map(|(_, t)| t)) {
                    for (arm, sample) in [(0, &batch.baseline), (1, &batch.canary)] {
                        match sample {
                            Sample::Histogram { counts, .. } => t.add_counts(arm, counts),
                            Sample::Values(v) | Sample::Aggregates { values: v, .. } => match index
                            {
                                Some(ix) => t.add_values(arm, v, |x| ix.index(x)),
                                None => {
                                    let b = t.buckets().clone();
                                    t.add_values(arm, v, |x| b.index(x));
                                }
                            },
                            Sample::Counts { .. } => {}
                        }
                    }
                }
                self.batches += 1;
                let outcome = self.decide_distribution();
                self.settle(outcome)
            }
            Test::Mean(_) => {
                // A restart due before this batch: a fresh test at its share of α.
                if let Some(k) = self
                    .distribution_grid
                    .start_at(self.batches)
                    .filter(|k| *k > 0)
                {
                    let c = &self.config;
                    let fresh = MeanTest::new(
                        self.distribution_alpha(k),
                        c.tolerance,
                        self.options.direction,
                        c.burn_in,
                        50.0,
                    )
                    .with_pass_band(c.pass_band("mean"));
                    self.later_means.push((self.batches, fresh));
                }
                let Some(Test::Mean(test)) = self.test.as_mut() else {
                    unreachable!("matched above");
                };
                if let (Sample::Values(b), Sample::Values(c)) = (&batch.baseline, &batch.canary) {
                    for (x, y) in b.iter().zip(c) {
                        test.update(*x, *y);
                        for (_, t) in self.later_means.iter_mut() {
                            t.update(*x, *y);
                        }
                    }
                }
                let n = test.intervals() as f64;
                self.samples = [n, n];
                self.batches += 1;
                // Worse when the test from 0 or a restarted one finds it (the latter's start
                // is the onset); within only when the test from 0 proves the whole run.
                let (found, within) = test.finding();
                let later = self
                    .later_means
                    .iter()
                    .find_map(|(start, t)| t.finding().0.map(|h| (h, *start, t.clone())));
                let outcome = match (found, later) {
                    (Some(higher), _) => {
                        self.fail_higher = higher;
                        Outcome::Fail
                    }
                    (None, Some((higher, start, t))) => {
                        self.fail_higher = higher;
                        self.onset = Some(start);
                        self.shown_mean = Some(t);
                        Outcome::Fail
                    }
                    _ => Outcome::Continue,
                };
                self.within = within && outcome == Outcome::Continue;
                let outcome = if self.within && self.pass_due() {
                    Outcome::Pass
                } else {
                    outcome
                };
                self.settle(outcome)
            }
        }
    }

    /// Add one scrape of an event-count metric: requests and events (errors) per arm,
    /// `[baseline, canary]` — [`SequentialState::update`] without building a batch.
    pub fn update_counts(&mut self, requests: [f64; 2], events: [f64; 2]) -> Outcome {
        if let Some(d) = self.frozen() {
            return d;
        }
        if self.test.is_none() {
            self.test = Some(self.counts_test());
        }
        self.batches += 1;
        let alpha = self.anytime_alpha();
        let k = 1.0 + self.config.tolerance;
        let kp = 1.0 + self.config.pass_band("rate");
        // Event counts are errors unless the metric says fewer events are bad: one-sided
        // "the canary has more events" by default, also for `either`.
        let (up, down) = match self.options.direction {
            Direction::Decrease => (false, true),
            _ => (true, false),
        };
        let Some(Test::Counts { test, cached }) = self.test.as_mut() else {
            self.error = Some("a count metric was given a distribution".into());
            return Outcome::Continue;
        };
        let changed = test.update(requests, events);
        self.samples = test.requests;
        // Both directions watched: each side gets half the budget.
        let thr = if up && down {
            (2.0 / alpha).ln()
        } else {
            (1.0 / alpha).ln()
        };
        // The e-values change only when errors arrive; reuse them otherwise.
        let [e_up, e_down, pass_up, pass_down] = match (*cached, changed) {
            (Some(c), false) => c,
            _ => {
                let v = [
                    if up {
                        test.log_e_value_any_onset(true)
                    } else {
                        f64::NEG_INFINITY
                    },
                    if down {
                        test.log_e_value_any_onset(false)
                    } else {
                        f64::NEG_INFINITY
                    },
                    if up {
                        test.log_e_value(kp, false)
                    } else {
                        f64::INFINITY
                    },
                    if down {
                        test.log_e_value(1.0 / kp, true)
                    } else {
                        f64::INFINITY
                    },
                ];
                *cached = Some(v);
                v
            }
        };
        let ratio = test.observed_ratio();
        self.max_log_e = [self.max_log_e[0].max(e_up), self.max_log_e[1].max(e_down)];
        self.p_value = self
            .p_value
            .min((-self.max_log_e[0].max(self.max_log_e[1])).exp().min(1.0));
        // Fail: "no change" rejected in a watched direction (at any time so far, from the
        // start or from a later change point) and the observed ratio beyond the band now —
        // over the whole run, or since the change point carrying the most evidence (a
        // change that began late is not diluted by the calm before it). Pass: "at the
        // band's edge or worse" rejected.
        let beyond = |above: bool| -> (bool, Option<usize>) {
            let out = |r: f64| if above { r > k } else { r < 1.0 / k };
            // The start carrying the most evidence, when it is a later one.
            let late = test
                .best_onset(above)
                .filter(|o| o.batch > 0 && out(o.ratio))
                .map(|o| o.batch);
            (out(ratio) || late.is_some(), late)
        };
        let (higher, onset_up) = if self.max_log_e[0] >= thr {
            beyond(true)
        } else {
            (false, None)
        };
        let (lower, onset_down) = if !higher && self.max_log_e[1] >= thr {
            beyond(false)
        } else {
            (false, None)
        };
        self.within = pass_up >= thr && pass_down >= thr;
        let outcome = if higher || lower {
            self.fail_higher = higher;
            self.onset = onset_up.or(onset_down);
            Outcome::Fail
        } else if self.within && self.pass_due() {
            Outcome::Pass
        } else {
            Outcome::Continue
        };
        self.settle(outcome)
    }

    /// Add one scrape of a histogram: bucket counts per arm over `bounds` —
    /// [`SequentialState::update`] without building a batch.
    pub fn update_histograms(
        &mut self,
        bounds: &[f64],
        baseline: &[f64],
        canary: &[f64],
    ) -> Outcome {
        if let Some(d) = self.frozen() {
            return d;
        }
        if self.test.is_none() {
            let batch = MetricPair {
                baseline: Sample::Histogram {
                    bounds: bounds.to_vec(),
                    counts: Vec::new(),
                },
                canary: Sample::Histogram {
                    bounds: bounds.to_vec(),
                    counts: Vec::new(),
                },
            };
            match self.make_test(&batch) {
                Ok(t) => self.test = Some(t),
                Err(e) => {
                    self.batches += 1;
                    self.error = Some(e);
                    return Outcome::Continue;
                }
            }
        }
        if !matches!(self.test, Some(Test::Distribution { .. })) {
            self.batches += 1;
            self.error = Some("a distribution metric was given counts".into());
            return Outcome::Continue;
        }
        self.restart_distribution();
        self.batches += 1;
        let Some(Test::Distribution { test, later, .. }) = self.test.as_mut() else {
            unreachable!("checked above");
        };
        for t in std::iter::once(test).chain(later.iter_mut().map(|(_, t)| t)) {
            t.add_counts(0, baseline);
            t.add_counts(1, canary);
        }
        let outcome = self.decide_distribution();
        self.settle(outcome)
    }

    /// The distribution test's finding: worse when the test from 0 or any restarted one
    /// finds the canary worse (its numbers are then the ones shown, and its start the
    /// onset); within only when the test from 0 proves the whole run inside the band.
    fn decide_distribution(&mut self) -> Outcome {
        let Some(Test::Distribution { test, later, .. }) = self.test.as_ref() else {
            return Outcome::Continue;
        };
        self.samples = test.totals();
        let (finding, bounds) = test.finding();
        self.significant = test.significance(&bounds);
        if let Finding::Worse { higher } = finding {
            self.last_bounds = bounds;
            self.fail_higher = higher;
            return Outcome::Fail;
        }
        for (start, t) in later {
            let (f, b) = t.finding();
            if let Finding::Worse { higher } = f {
                self.significant = t.significance(&b);
                self.last_bounds = b;
                self.fail_higher = higher;
                self.onset = Some(*start);
                return Outcome::Fail;
            }
        }
        self.last_bounds = bounds;
        self.within = finding == Finding::Within;
        if self.within && self.pass_due() {
            Outcome::Pass
        } else {
            Outcome::Continue
        }
    }

    /// Whether a proven pass may take effect now: from `pass_from` of the horizon on (the
    /// horizon itself is [`SequentialState::finish`]'s).
    fn pass_due(&self) -> bool {
        !self.passes_at_horizon_only()
            && self.batches as f64 >= self.config.pass_from * self.horizon as f64
    }

    /// Apply the horizon and make a decision stand.
    fn settle(&mut self, outcome: Outcome) -> Outcome {
        let passed = self.decided == Some(Outcome::Pass);
        let outcome = match (outcome, self.config.max_samples) {
            (Outcome::Continue, Some(max))
                if !passed && self.samples[0].min(self.samples[1]) >= max =>
            {
                self.close()
            }
            (o, _) => o,
        };
        match outcome {
            Outcome::Continue => {}
            // A pass stands from its first batch; only a failure overrides it.
            Outcome::Pass if passed => {}
            o => {
                self.decided = Some(o);
                self.decided_at = Some(self.batches);
            }
        }
        self.outcome()
    }

    /// The decision that ends the test: a failure, or the horizon's verdict. A pass does
    /// not: the test keeps watching, so a regression that begins after the change was
    /// proven inside the band still fails it (the failure side's guarantee is Ville's,
    /// whatever the pass side decided).
    fn frozen(&self) -> Option<Outcome> {
        self.decided.filter(|d| *d != Outcome::Pass)
    }

    /// The decision so far (Continue until one is reached).
    pub fn outcome(&self) -> Outcome {
        self.decided.unwrap_or(Outcome::Continue)
    }

    /// Close the test at its horizon: an undecided count test takes its fixed-sample
    /// test ([`HORIZON_SHARE`] of α); then the pass bands decide (by the one-look
    /// equivalence test when passes wait for the horizon), else inconclusive.
    pub fn finish(&mut self) -> Outcome {
        if self.decided.is_none() {
            let outcome = self.close();
            self.decided = Some(outcome);
            if outcome != Outcome::Inconclusive {
                self.decided_at = Some(self.batches);
            }
        }
        self.outcome()
    }

    /// The α of the anytime-valid part: a count test keeps [`HORIZON_SHARE`] of its pair's
    /// α for the horizon; the other tests spend all of it as they go.
    fn anytime_alpha(&self) -> f64 {
        match self.test {
            Some(Test::Counts { .. }) | None => self.alpha * (1.0 - HORIZON_SHARE),
            _ => self.alpha,
        }
    }

    /// The horizon's verdict on an undecided test: a count test fails when its
    /// fixed-sample p-value of "no change" is ≤ [`HORIZON_SHARE`]·α and the observed ratio
    /// is beyond the band (the same two conditions as the anytime decision); otherwise
    /// a pass when the canary is proven inside the pass bands, else inconclusive.
    fn close(&mut self) -> Outcome {
        let fail = match &self.test {
            Some(Test::Counts { test, .. }) => {
                let k = 1.0 + self.config.tolerance;
                let up = self.options.direction != Direction::Decrease;
                let p = test.horizon_p_value(up);
                let ratio = test.observed_ratio();
                self.horizon_p = Some(p);
                let beyond = if up { ratio > k } else { ratio < 1.0 / k };
                p <= self.alpha * HORIZON_SHARE && beyond
            }
            _ => false,
        };
        if fail {
            self.fail_higher = self.options.direction != Direction::Decrease;
            return Outcome::Fail;
        }
        let within = if self.passes_at_horizon_only() {
            self.horizon_within()
        } else {
            self.within
        };
        if within {
            Outcome::Pass
        } else {
            Outcome::Inconclusive
        }
    }

    /// `more` observations per arm in seconds at the rate seen so far, when the caller
    /// said how long the data took ([`SequentialState::elapsed_s`]).
    fn more_time(&self, more: Option<f64>) -> Option<f64> {
        let n = self.samples[0].min(self.samples[1]);
        match (more, self.elapsed_s) {
            (Some(m), Some(elapsed)) if elapsed > 0.0 && n > 0.0 => Some(m * elapsed / n),
            _ => None,
        }
    }

    /// Whether passes wait for the horizon ([`SequentialConfig::pass_from`] = 1): then the
    /// pass is decided once, there, by a fixed-sample equivalence test.
    fn passes_at_horizon_only(&self) -> bool {
        self.config.pass_from >= 1.0
    }

    /// The horizon's equivalence test, one look at the analysis' α per side (a promotion
    /// needs every pair to pass, so by the intersection–union principle no pair's α is
    /// split among the pairs): counts by the
    /// exact conditional binomial test at the pass band's ratio, distributions by
    /// order-statistic intervals of every quantile, per-interval means by a Student-t
    /// interval. Keeps the bounds it decided on for the judgement.
    fn horizon_within(&mut self) -> bool {
        let alpha = self.config.alpha;
        self.horizon_look = true;
        match &self.test {
            Some(Test::Counts { test, .. }) => {
                let kp = 1.0 + self.config.pass_band("rate");
                let (r0, below) = if self.options.direction != Direction::Decrease {
                    (kp, true)
                } else {
                    (1.0 / kp, false)
                };
                // The whole run, and every later stretch from a restart point whose
                // errors could prove the band had nothing changed: a regression that
                // began late is not averaged away by the calm start. Every stretch must
                // pass (intersection–union), so no α is split among them.
                let grid = self.distribution_grid;
                let later = (1..grid.count)
                    .map(|k| grid.batch_of(k))
                    .take_while(|&from| from < self.batches)
                    .filter(|&from| {
                        test.equivalence_testable_since(from, r0, below, alpha, STRETCH_POWER)
                    });
                test.equivalence_p_value(r0, below) <= alpha
                    && later
                        .into_iter()
                        .all(|from| test.equivalence_p_value_since(from, r0, below) <= alpha)
            }
            Some(Test::Distribution { test, .. }) => {
                let (within, bounds, shares) = test.horizon_within(alpha);
                self.last_bounds = bounds;
                self.last_shares = shares;
                within
            }
            Some(Test::Mean(main)) => main.horizon_within(alpha),
            None => false,
        }
    }

    /// "; the change began about 600 s after the start (`detail`)" when a later start
    /// found the change, else nothing.
    fn onset_phrase(&self, detail: &str) -> String {
        match (self.onset, self.onset_after_s) {
            (Some(_), Some(s)) => {
                format!(
                    "; the change began about {} s after the start ({detail})",
                    num(s)
                )
            }
            (Some(b), None) => format!("; the change began about batch {} ({detail})", b + 1),
            _ => String::new(),
        }
    }

    /// "4.1× since then, 40 vs 10 errors": the ratio since the reported onset.
    fn onset_ratio_text(&self, test: &RateRatioTest) -> String {
        let up = self.options.direction != Direction::Decrease;
        test.onsets(up)
            .into_iter()
            .find(|o| Some(o.batch) == self.onset)
            .map(|o| {
                format!(
                    "ratio {} since then, {} vs {} errors",
                    num(o.ratio),
                    num(o.errors[1]),
                    num(o.errors[0])
                )
            })
            .unwrap_or_default()
    }

    /// The numbers behind the current state, as a judgement.
    pub fn judgement(&self) -> Judgement {
        let outcome = self.outcome();
        let mut j = Judgement::bare(Classification::Pass, String::new());
        if let Some(e) = &self.error {
            j.classification = Classification::Error;
            j.reason = e.clone();
            return j;
        }
        let worse_class = if self.fail_higher {
            Classification::High
        } else {
            Classification::Low
        };
        j.classification = match (outcome, self.config.on_inconclusive) {
            (Outcome::Fail, _) => worse_class,
            (Outcome::Pass, _) => Classification::Pass,
            (Outcome::Continue, _) | (Outcome::Inconclusive, InconclusiveAction::Hold) => {
                Classification::Inconclusive
            }
            (Outcome::Inconclusive, InconclusiveAction::Fail) => worse_class,
            (Outcome::Inconclusive, InconclusiveAction::Pass) => Classification::Pass,
        };
        // A proven regression is controlled across the analysis's pairs (α is split); an
        // undecided one failed by `on_inconclusive = "fail"` is a policy, not evidence.
        j.familywise = outcome == Outcome::Fail;
        // Only the count test keeps an anytime-valid p-value; the others decide by their
        // confidence sequences alone, and a p-value of 1 beside their verdict would lie.
        j.p_value = matches!(self.test, Some(Test::Counts { .. })).then_some(self.p_value);
        let band = num(self.config.tolerance * 100.0);
        let at_horizon = outcome == Outcome::Fail && self.horizon_p.is_some();
        let verb = match outcome {
            Outcome::Fail if at_horizon => {
                "regression beyond the band at the horizon (fixed-sample test of all errors)"
            }
            Outcome::Fail => "regression beyond the band",
            Outcome::Pass => "proven inside the pass bands",
            Outcome::Continue if self.within => {
                "inside the pass bands, promotes at the horizon unless a regression begins"
            }
            Outcome::Continue => "not decided yet",
            Outcome::Inconclusive => "inconclusive at the horizon",
        };
        let plural = |n: usize| if n == 1 { "" } else { "es" };
        let at = match (self.decided_at, self.decided_after_s) {
            _ if at_horizon => String::new(),
            (Some(b), Some(s)) => format!(" {} s after the start (batch {b})", num(s)),
            (Some(b), None) => format!(" after {b} batch{}", plural(b)),
            (None, _) => String::new(),
        };
        // The band the ratio is held against, on the watched sides, and the anytime-valid
        // interval's name: the judged numbers every output shows. Each check is ✗ when it
        // argues against the canary; the rule says how they combine.
        let k = 1.0 + self.config.tolerance;
        // Intervals are at the pair's share of α, so together they hold at the configured
        // level: that is the level they are labelled with.
        let level = num((1.0 - self.config.alpha) * 100.0);
        let pairs = (self.config.alpha / self.alpha).round().max(1.0);
        let alpha_text = if pairs > 1.0 {
            format!(
                "α {} shared by {} pairs",
                num(self.config.alpha),
                num(pairs)
            )
        } else {
            format!("α {}", num(self.config.alpha))
        };
        let cs = Some(format!("{level}% confidence sequence"));
        // After the horizon's equivalence test the bounds shown are its one-look ones.
        let one_look = Some(format!(
            "one-look interval at the horizon, {}% per side",
            num((1.0 - self.config.alpha) * 100.0)
        ));
        let bounds = |up: bool, down: bool| (down.then_some(1.0 / k), up.then_some(k));
        let finite = |v: f64| v.is_finite().then_some(v);
        let watched = (
            self.options.direction.watches_increase(),
            self.options.direction.watches_decrease(),
        );
        let undecided = !matches!(outcome, Outcome::Pass | Outcome::Fail);
        let pass_from = if self.config.pass_from >= 1.0 {
            " at the horizon".to_string()
        } else if self.config.pass_from > 0.0 {
            format!(
                " from {}% of the horizon on",
                num(self.config.pass_from * 100.0)
            )
        } else {
            String::new()
        };
        let pass_rule = |up: bool, down: bool, kp: &str, kp_inv: &str| match (up, down) {
            (true, false) => format!("pass{pass_from} once the interval lies below {kp}"),
            (false, true) => format!("pass{pass_from} once the interval lies above {kp_inv}"),
            _ => format!("pass{pass_from} once the interval lies inside [{kp_inv}, {kp}]"),
        };
        match &self.test {
            Some(Test::Counts { test, .. }) => {
                let anytime = self.anytime_alpha();
                let (lo, hi) = test.confidence_interval(anytime);
                let ratio = test.observed_ratio();
                j.estimate = Some(ratio);
                j.ci = Some((lo, hi));
                j.mean_ratio = Some(ratio);
                j.baseline = count_summary(test.errors[0], test.requests[0]);
                j.canary = count_summary(test.errors[1], test.requests[1]);
                // Counts are one-sided (more events are worse) unless fewer are.
                let up = self.options.direction != Direction::Decrease;
                let kp = 1.0 + self.config.pass_band("rate");
                // What is ruled out: by the one-look test once the horizon decided on it.
                let (lo_out, hi_out) = if self.horizon_look {
                    (
                        test.fixed_sample_bound(self.config.alpha, false),
                        test.fixed_sample_bound(self.config.alpha, true),
                    )
                } else {
                    (lo, hi)
                };
                let (min, max) = bounds(up, !up);
                let rate = |e: f64, r: f64| (r > 0.0).then(|| e / r);
                let e = self.max_log_e[usize::from(!up)];
                let p_side = (-e).exp().min(1.0);
                let beyond = if up { ratio > k } else { ratio < 1.0 / k };
                let horizon_alpha = self.alpha * HORIZON_SHARE;
                let horizon_check = self.horizon_p.map(|p| Check {
                    name: "p-value at the horizon (fixed-sample)".into(),
                    value: Some(p),
                    interval: None,
                    interval_kind: None,
                    max: None,
                    min: Some(horizon_alpha),
                    compare: Compare::Value,
                    failed: p <= horizon_alpha,
                });
                j.judged = Some(Judged {
                    quantity: "error rate".into(),
                    baseline: rate(test.errors[0], test.requests[0]),
                    canary: rate(test.errors[1], test.requests[1]),
                    checks: [
                        Some(Check {
                            name: "p-value (anytime)".into(),
                            value: Some(p_side),
                            interval: None,
                            interval_kind: None,
                            max: None,
                            min: Some(anytime),
                            compare: Compare::Value,
                            failed: p_side <= anytime,
                        }),
                        horizon_check,
                        Some(Check {
                            name: "rate ratio".into(),
                            value: finite(ratio),
                            interval: Some([lo, hi]),
                            interval_kind: cs.clone(),
                            max,
                            min,
                            compare: Compare::Value,
                            failed: beyond,
                        }),
                    ]
                    .into_iter()
                    .flatten()
                    .collect(),
                    rule: Some(format!(
                        "fail when a p-value and the rate ratio are ✗ (more {} than chance explains, beyond the band); {}",
                        if up { "errors" } else { "events missing" },
                        pass_rule(up, !up, &num(kp), &num(1.0 / kp))
                    )),
                    ruled_out: vec![RuledOut {
                        quantity: "error rate".into(),
                        upper: up.then_some(hi_out).filter(|v| v.is_finite()),
                        lower: (!up).then_some(lo_out).filter(|v| *v > 0.0),
                        pass: if up { kp } else { 1.0 / kp },
                        more: undecided
                            .then(|| {
                                let n = test.requests[0].min(test.requests[1]);
                                let (bound, edge) =
                                    if up { (hi_out, kp) } else { (lo_out, 1.0 / kp) };
                                more_per_arm(n, ratio, bound, edge)
                            })
                            .flatten(),
                        more_s: None,
                    }],
                });
                let horizon_text = self
                    .horizon_p
                    .map(|p| {
                        format!(
                            "; fixed-sample p-value at the horizon {} (α share {})",
                            crate::format::p_value(Some(p)),
                            num(horizon_alpha)
                        )
                    })
                    .unwrap_or_default();
                let onset_text = self.onset_phrase(&self.onset_ratio_text(test));
                j.reason = format!(
                    "{verb}{at}{onset_text}: error-rate ratio {} ({level}% confidence sequence {} .. {}), {} vs {} errors in {} vs {} requests; anytime p-value {}{horizon_text}; band +{band}%, {alpha_text}",
                    num(ratio),
                    num(lo),
                    num(hi),
                    num(test.errors[1]),
                    num(test.errors[0]),
                    num(test.requests[1]),
                    num(test.requests[0]),
                    num(p_side)
                );
            }
            Some(Test::Distribution { test, .. }) => {
                let totals = test.totals();
                let parts: Vec<String> = self
                    .last_bounds
                    .iter()
                    .map(|q| {
                        format!(
                            "p{} ratio {} ({} .. {})",
                            num(q.p * 100.0),
                            num(q.estimate),
                            num(q.ratio[0]),
                            num(q.ratio[1])
                        )
                    })
                    .collect();
                // The buckets were too coarse for some quantile: what its shares showed.
                let parts: Vec<String> = parts
                    .into_iter()
                    .chain(self.last_shares.iter().map(|s| {
                        format!(
                            "share above {} (for p{}, whose bucket is wider than its band) {} → {} (difference {} .. {} points, pass band ±{} points)",
                            num(s.above),
                            num(s.p * 100.0),
                            crate::format::percent(s.share[0]),
                            crate::format::percent(s.share[1]),
                            num(s.difference[0] * 100.0),
                            num(s.difference[1] * 100.0),
                            num(s.band * 100.0)
                        )
                    }))
                    .collect();
                if let Some(q) = self.last_bounds.first() {
                    j.ci = Some((q.ratio[0], q.ratio[1]));
                }
                let (up, down) = watched;
                let (min, max) = bounds(up, down);
                let direction = match (up, down) {
                    (true, false) => "slower",
                    (false, true) => "faster",
                    _ => "slower or faster",
                };
                let n = totals[0].min(totals[1]);
                let ruled_out: Vec<RuledOut> = self
                    .last_bounds
                    .iter()
                    .map(|q| {
                        let kp = 1.0 + self.config.quantile_pass_band(q.p);
                        let upper = up.then_some(q.ratio[1]).filter(|v| v.is_finite());
                        let lower = down.then_some(q.ratio[0]).filter(|v| *v > 0.0);
                        let more = [
                            upper.and_then(|u| more_per_arm(n, q.estimate, u, kp)),
                            lower.and_then(|l| more_per_arm(n, q.estimate, l, 1.0 / kp)),
                        ]
                        .into_iter()
                        .flatten()
                        .reduce(f64::max)
                        .filter(|_| undecided);
                        RuledOut {
                            quantity: quantile_key(q.p),
                            upper,
                            lower,
                            pass: kp,
                            more,
                            more_s: None,
                        }
                    })
                    .collect();
                // Where the buckets were too coarse for a quantile, its shares stand in.
                let ruled_out: Vec<RuledOut> = ruled_out
                    .into_iter()
                    .zip(&self.last_bounds)
                    .flat_map(|(r, q)| {
                        let shares: Vec<&ShareBounds> =
                            self.last_shares.iter().filter(|s| s.p == q.p).collect();
                        if shares.is_empty() {
                            return vec![r];
                        }
                        shares
                            .into_iter()
                            .map(|s| RuledOut {
                                quantity: format!("share above {}", num(s.above)),
                                upper: up.then_some(s.difference[1]),
                                lower: down.then_some(s.difference[0]),
                                pass: s.band,
                                more: None,
                                more_s: None,
                            })
                            .collect()
                    })
                    .collect();
                // The pass edges per quantile, as the rule states them.
                let pass_edges = |inverse: bool| {
                    ruled_out
                        .iter()
                        .map(|r| {
                            let v = if inverse { 1.0 / r.pass } else { r.pass };
                            format!("{} ({})", num(v), r.quantity)
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let mut checks = vec![Check::finding(
                    format!("significant difference ({direction})"),
                    self.significant[0] || self.significant[1],
                )];
                checks.extend(self.last_bounds.iter().map(|q| Check {
                    name: format!("p{} ratio", num(q.p * 100.0)),
                    value: finite(q.estimate),
                    interval: Some(q.ratio),
                    interval_kind: if self.horizon_look {
                        one_look.clone()
                    } else {
                        cs.clone()
                    },
                    max,
                    min,
                    compare: Compare::Value,
                    failed: (up && q.estimate > k) || (down && q.estimate < 1.0 / k),
                }));
                j.judged = Some(Judged {
                    quantity: self
                        .last_bounds
                        .iter()
                        .map(|q| format!("p{}", num(q.p * 100.0)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    baseline: None,
                    canary: None,
                    checks,
                    rule: Some(format!(
                        "fail when the difference is significant and a quantile ratio is ✗ on the same side; {}",
                        pass_rule(up, down, &pass_edges(false), &pass_edges(true))
                    )),
                    ruled_out,
                });
                let onset_text = self.onset_phrase("a test restarted then found it");
                j.reason = format!(
                    "{verb}{at}{onset_text}: {}{} ({} vs {} samples); band ±{band}%, {alpha_text}",
                    if self.significant[0] || self.significant[1] {
                        "significant difference, "
                    } else {
                        ""
                    },
                    parts.join(", "),
                    num(totals[1]),
                    num(totals[0])
                );
                j.baseline.count = totals[0] as usize;
                j.canary.count = totals[1] as usize;
            }
            Some(Test::Mean(main)) => {
                let test = self.shown_mean.as_ref().unwrap_or(main);
                let ratio = test.mean_ratio();
                j.mean_ratio = Some(ratio);
                j.estimate = Some(ratio);
                let (b, c) = test.means();
                let (dlo, dhi) = test.difference_interval();
                let (up, down) = watched;
                let (min, max) = bounds(up, down);
                let kp = 1.0 + self.config.pass_band("mean");
                let (dlo, dhi) = if self.horizon_look {
                    main.fixed_sample_difference_interval(self.config.alpha)
                } else {
                    (dlo, dhi)
                };
                j.judged = Some(Judged {
                    quantity: "mean per interval".into(),
                    baseline: finite(b),
                    canary: finite(c),
                    checks: vec![
                        Check {
                            name: "difference".into(),
                            value: finite(c - b),
                            interval: (dlo.is_finite() && dhi.is_finite()).then_some([dlo, dhi]),
                            interval_kind: if self.horizon_look {
                                one_look.clone()
                            } else {
                                cs.clone()
                            },
                            max: up.then_some(0.0),
                            min: down.then_some(0.0),
                            compare: Compare::Interval,
                            failed: (up && dlo > 0.0) || (down && dhi < 0.0),
                        },
                        Check {
                            name: "mean ratio".into(),
                            value: finite(ratio),
                            interval: None,
                            interval_kind: None,
                            max,
                            min,
                            compare: Compare::Value,
                            failed: (up && ratio > k) || (down && ratio < 1.0 / k),
                        },
                    ],
                    rule: Some(format!(
                        "fail when both checks are ✗ on the same side; {}",
                        pass_rule(up, down, &num(kp), &num(1.0 / kp))
                    )),
                    ruled_out: vec![RuledOut {
                        quantity: "mean".into(),
                        upper: (up && b > 0.0 && dhi.is_finite()).then(|| (b + dhi) / b),
                        lower: (down && b > 0.0 && dlo.is_finite())
                            .then(|| (b + dlo) / b)
                            .filter(|v| *v > 0.0),
                        pass: kp,
                        more: undecided
                            .then(|| {
                                let n = test.intervals() as f64;
                                let up_more = (up && b > 0.0)
                                    .then(|| more_per_arm(n, ratio, (b + dhi) / b, kp))
                                    .flatten();
                                let down_more = (down && b > 0.0)
                                    .then(|| more_per_arm(n, ratio, (b + dlo) / b, 1.0 / kp))
                                    .flatten();
                                up_more.into_iter().chain(down_more).reduce(f64::max)
                            })
                            .flatten(),
                        more_s: None,
                    }],
                });
                j.baseline.mean = b;
                j.canary.mean = c;
                let onset_text = self.onset_phrase("the intervals since then");
                j.reason = format!(
                    "{verb}{at}{onset_text}: mean ratio {} over {} paired intervals, difference {} ({level}% confidence sequence {} .. {}); band ±{band}%, {alpha_text}",
                    num(ratio),
                    test.intervals(),
                    num(c - b),
                    num(dlo),
                    num(dhi)
                );
                j.baseline.count = test.intervals();
                j.canary.count = test.intervals();
            }
            None => {
                j.classification = Classification::Nodata;
                j.reason = "no data yet".into();
            }
        }
        // Every test's reason ends with what it ruled out (and how long the rest would
        // take at the rate seen so far).
        if let Some(judged) = j.judged.as_mut().filter(|d| !d.ruled_out.is_empty()) {
            for r in &mut judged.ruled_out {
                r.more_s = self.more_time(r.more);
            }
            j.reason = format!("{}; {}", j.reason, RuledOut::sentence(&judged.ruled_out));
        }
        j
    }

    /// The current estimate and confidence interval on the ratio canary / baseline — the
    /// numbers of [`SequentialState::judgement`] without its text, cheap enough to call
    /// after every batch (charts of the confidence sequence). For distributions the
    /// interval is the first quantile's ratio bounds and there is no point estimate.
    pub fn interval(&self) -> (Option<f64>, Option<(f64, f64)>) {
        match &self.test {
            Some(Test::Counts { test, .. }) => (
                Some(test.observed_ratio()),
                Some(test.confidence_interval(self.anytime_alpha())),
            ),
            Some(Test::Distribution { .. }) => (
                None,
                self.last_bounds.first().map(|q| (q.ratio[0], q.ratio[1])),
            ),
            Some(Test::Mean(main)) => (
                Some(self.shown_mean.as_ref().unwrap_or(main).mean_ratio()),
                None,
            ),
            None => (None, None),
        }
    }

    /// Quantile bounds of the last update (distributions only).
    pub fn quantile_bounds(&self) -> &[QuantileBounds] {
        &self.last_bounds
    }
}

/// Roughly how many more observations per arm would bring a bound at `bound` inside the
/// pass edge `edge`, when the estimate `est` already lies inside it: a confidence
/// sequence's half-width on the log scale narrows about as 1/√n (slightly slower, by its
/// log log n). `None` when the bound is inside already or the estimate is not.
fn more_per_arm(n: f64, est: f64, bound: f64, edge: f64) -> Option<f64> {
    if !(n > 0.0 && est > 0.0 && bound > 0.0 && bound.is_finite() && edge > 0.0) {
        return None;
    }
    let width = (bound / est).ln().abs();
    let target = (edge / est).ln().abs();
    // The bound lies beyond the edge, the estimate on the near side of it.
    if (bound - est) * (edge - est) <= 0.0 || width <= target || target <= 0.0 {
        return None;
    }
    Some(n * ((width / target).powi(2) - 1.0))
}

fn count_summary(errors: f64, requests: f64) -> Summary {
    let rate = if requests > 0.0 {
        errors / requests
    } else {
        0.0
    };
    Summary {
        count: requests as usize,
        mean: rate,
        std: 0.0,
        min: rate,
        max: rate,
    }
}

/// Totals of a batch's counts per arm: requests (`events = false`) or errors.
fn counts_of(batch: &MetricPair, events: bool) -> Option<[f64; 2]> {
    let sum = |s: &Sample| match s {
        Sample::Counts {
            events: e,
            totals: t,
        } => {
            let v = if events { e } else { t };
            Some(v.iter().filter(|x| x.is_finite()).sum::<f64>())
        }
        _ => None,
    };
    Some([sum(&batch.baseline)?, sum(&batch.canary)?])
}

impl Judge for SequentialJudge {
    fn kind(&self) -> JudgeKind {
        JudgeKind::Sequential
    }

    /// One-shot use (files, `/judge`): the whole pair is one batch; an undecided test
    /// is inconclusive.
    fn judge(&self, options: &MetricOptions, pair: &MetricPair) -> Judgement {
        if let Some(problem) = pair.problem() {
            return Judgement::bare(
                Classification::Error,
                format!("the data is not a valid sample: {problem}"),
            );
        }
        let missing = match (pair.baseline.is_empty(), pair.canary.is_empty()) {
            (true, true) => Some("baseline and canary"),
            (true, false) => Some("baseline"),
            (false, true) => Some("canary"),
            (false, false) => None,
        };
        if let Some(which) = missing {
            return no_data(options, which);
        }
        // One batch: no later change point to watch.
        let mut state = self.start_on(options, RestartGrid::single(), RestartGrid::single());
        state.update(pair);
        state.finish();
        if state.error.is_none() && state.samples.iter().any(|n| *n <= 0.0) {
            let which = match (state.samples[0] <= 0.0, state.samples[1] <= 0.0) {
                (true, true) => "baseline and canary",
                (true, false) => "baseline",
                _ => "canary",
            };
            return no_data(options, which);
        }
        let mut j = with_summaries(state.judgement(), options, pair);
        j.critical = options.critical && j.classification.is_failure();
        j
    }
}

/// The judgement with the arms' value summaries (count, mean, spread after the NaN
/// strategy and outlier removal) when the pair holds values: the state keeps only what its
/// test needs, and a summary of zeros would contradict the data. Event counts keep their
/// rate summaries, histograms their totals.
pub fn with_summaries(mut j: Judgement, options: &MetricOptions, pair: &MetricPair) -> Judgement {
    let values = matches!(
        (&pair.baseline, &pair.canary),
        (Sample::Values(_), Sample::Values(_))
    );
    if !values || j.classification == Classification::Error {
        return j;
    }
    let prep = crate::judge::Prepared::new(options, pair);
    let (mean_b, mean_c) = (j.baseline.mean, j.canary.mean);
    j.baseline = prep.baseline_summary;
    j.canary = prep.canary_summary;
    // A per-interval mean test's means are its own (the same data, paired by interval).
    if matches!(j.judged.as_ref(), Some(d) if d.quantity == "mean per interval") {
        j.baseline.mean = mean_b;
        j.canary.mean = mean_c;
    }
    j
}

/// Kayenta's no-data rule (critical → nodata marked critical; must-have-data →
/// nodata_fail; else nodata), for an arm without usable observations.
fn no_data(options: &MetricOptions, which: &str) -> Judgement {
    let class = if options.must_have_data && !options.critical {
        Classification::NodataFail
    } else {
        Classification::Nodata
    };
    let mut j = Judgement::bare(class, format!("no usable observations for the {which}"));
    j.critical = options.critical;
    j
}
