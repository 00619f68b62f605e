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
mod config;
pub mod counts;
pub mod distribution;
pub mod histogram;
mod judge;
pub mod mean;
pub mod rank;
mod report;
pub mod restart;

pub use self::config::*;
pub use self::judge::SequentialJudge;
use self::report::no_data;
pub use self::report::with_summaries;

use serde::Serialize;

use self::counts::RateRatioTest;
use self::distribution::{DistributionTest, Finding, QuantileBounds, ShareBounds};
use self::histogram::{Buckets, LogIndex};
use self::mean::MeanTest;
use self::restart::RestartGrid;
use crate::judge::{Judge, JudgeKind};
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
            Test::Distribution { .. } => self.update_distribution(batch),
            Test::Mean(_) => self.update_mean(batch),
        }
    }

    /// [`SequentialState::update`] for the quantile tests: every test (from the start and
    /// restarted later) takes the batch's values or bucket counts.
    fn update_distribution(&mut self, batch: &MetricPair) -> Outcome {
        self.restart_distribution();
        let Some(Test::Distribution { test, index, later }) = self.test.as_mut() else {
            unreachable!("matched above");
        };
        for t in std::iter::once(test).chain(later.iter_mut().map(|(_, t)| t)) {
            for (arm, sample) in [(0, &batch.baseline), (1, &batch.canary)] {
                match sample {
                    Sample::Histogram { counts, .. } => t.add_counts(arm, counts),
                    Sample::Values(v) | Sample::Aggregates { values: v, .. } => match index {
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

    /// [`SequentialState::update`] for the per-interval mean test and its restarts.
    fn update_mean(&mut self, batch: &MetricPair) -> Outcome {
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
                let v = count_e_values(test, up, down, kp);
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

/// The count test's log e-values: fail up, fail down (any onset), pass up, pass down
/// (against the pass band `kp`); a side not watched can neither fail nor block a pass.
fn count_e_values(test: &RateRatioTest, up: bool, down: bool, kp: f64) -> [f64; 4] {
    [
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
    ]
}
