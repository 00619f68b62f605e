//! Hosts as the unit: judging a canary fleet against a baseline fleet when hosts differ
//! from one another.
//!
//! Real fleets differ host to host by 5–15% (hardware, neighbours, caches, JIT state). A
//! test that takes requests as the replicates sees millions of them and calls that spread
//! "significant"; and one broken canary host among healthy ones barely moves the pooled
//! numbers. Here each host is summarised on its own and **hosts are the replicates**.
//!
//! Per host h of an arm, from everything it served so far (cumulative):
//! - latency: θ_h = ln q_p(h), the log of its p-quantile from its own histogram, with the
//!   sampling variance v_h of that estimate (Woodruff's interval: the log-quantiles at
//!   ranks n·p ∓ 1.96·√(n·p·(1−p)), half their distance over 1.96, squared);
//! - errors: its error and request counts.
//!
//! **Arm-level decision** (is the canary fleet worse?), per latency quantile: the two-sample
//! t statistic on the hosts' θ — Δ = mean(canary) − mean(baseline), the variance pooled
//! within arms (s², df = k_b + k_c − 2, so the spread includes each host's sampling noise),
//! SE = s·√(1/k_b + 1/k_c). For errors: the canary's share of all errors given the requests,
//! an exact conditional binomial test with counts divided by the hosts' overdispersion φ
//! (Pearson X² within arms over its df, at least 1: a quasi-Poisson model). Fail when the
//! difference is significant and the estimate lies beyond the band, as the sequential
//! judge does; pass when the one-sided confidence bound lies inside the band; otherwise
//! continue, and at the horizon inconclusive — with the reason "host-to-host spread ±9%
//! exceeds the ±5% band: add hosts or widen the band" when the hosts could never resolve
//! the band.
//!
//! **Host-level rule** (is one canary host broken?): canary host j against the other hosts'
//! spread — its θ_j against the baseline mean with the variance s² (pooled within arms from
//! the baseline hosts and the *other* canary hosts) + the excess sampling noise of host j
//! over the pooled hosts' mean + s²/k_b, referred to Student's t with that df: a
//! prediction interval. Errors: host j's errors against the baseline's rate (conditional
//! binomial, counts divided by φ of the baseline and the other canary hosts). A host
//! beyond the critical value **fails the analysis with the host named**.
//!
//! **Guarantee.** If under "no change" the hosts' summaries are independent draws of one
//! normal distribution (latency: host effects normal, each host's quantile estimate close
//! to normal, and hosts in both arms serving similar traffic, or the excess-noise term
//! covers the difference), each test at each look is exact at its level; errors are exact
//! for Poisson counts and conservative for overdispersion estimated at or below the
//! truth. The levels are split by Bonferroni — over the metrics (the caller's `pairs`),
//! between the arm-level and the host-level rule (half each), over the quantiles, over the
//! canary hosts (host rule) and over the looks of a fixed schedule ([`schedule`]) — so
//! P(any false failure) ≤ α. Looks are not every scrape: a fleet's host spread is fixed,
//! so looking more often buys little but costs α. Latency looks at 1, 2, 3 and 5 minutes,
//! then every 5 (9 looks in 30 minutes); error counts every minute. The fleet test and the
//! error tests spend equally over their looks; the host rule spends ⅔ of its α on the four
//! looks of the first 5 minutes and ⅓ on the later ones ([`front_loaded`]; the shares sum
//! to 1, a weighted Bonferroni): once a host's quantile has a few minutes of requests
//! behind it, its sampling noise is below the host spread, so later looks add little
//! evidence about a host broken from the start — they remain for hosts that break later,
//! at a larger critical value. A fleet-wide shift of a tail quantile, by contrast, gathers
//! evidence with every request, so the fleet test keeps its equal shares.
//!
//! **What hosts can resolve.** The smallest fleet-wide shift the arm test can tell apart
//! is about t·s·√(1/k_b + 1/k_c): with 3 hosts per arm and 10% host spread, t(4 df, at
//! 0.1% one-sided) ≈ 7.2 gives ±59% — a ±5% band cannot be resolved; with 10 hosts per
//! arm and 5% spread, ≈ ±9%. The host rule needs a broken host to stand t·s·√(1 + 1/k_b)
//! above the fleet: with 5 hosts per arm and 5% spread, about 1.6×.

use ndarray::{Array2, Axis};
use serde::Serialize;
use statrs::distribution::{Beta, ContinuousCDF, StudentsT};
use statrs::function::beta::beta_reg;

use crate::format::num;

/// Baseline and canary, by index.
pub const BASELINE: usize = 0;
pub const CANARY: usize = 1;

/// z of the Woodruff interval used for a host quantile's sampling variance.
const WOODRUFF_Z: f64 = 1.96;

/// Fewest requests a host needs before its latency quantile is used.
pub const MIN_HOST_REQUESTS: f64 = 20.0;

/// Fewest requests expected beyond a host's quantile (n·min(p, 1 − p)) before it is used:
/// below that the estimate is far from normal (a p99 of 50 requests is their maximum) and
/// the t reference does not hold.
pub const MIN_TAIL_REQUESTS: f64 = 10.0;

/// A look schedule over `horizon` batches with a minute (or any unit) of `every` batches:
/// batch counts (1-based, ascending) at which a test looks, the last at the horizon.
/// `sparse`: at 1, 2, 3 and 5 units, then every 5 (a 30-minute analysis looks 9 times) —
/// for latency quantiles over few hosts, where each look costs a larger t; otherwise at
/// every unit (30 looks) — for error counts, tested exactly, where a broken host's counts
/// are extreme and a look costs little.
pub fn schedule(horizon: usize, every: usize, sparse: bool) -> Vec<usize> {
    let top = horizon.max(1);
    let every = every.max(1);
    let mut v: Vec<usize> = if sparse {
        [1, 2, 3, 5]
            .into_iter()
            .map(|k| k * every)
            .chain((2..).map(|k| k * 5 * every).take_while(|&b| b < top))
            .collect()
    } else {
        (1..).map(|k| k * every).take_while(|&b| b < top).collect()
    };
    v.retain(|&b| b < top);
    v.push(top);
    v
}

/// Settings of a host-level analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct HostsConfig {
    /// False-alarm budget of this metric pair (the caller's share of the analysis' α).
    pub alpha: f64,
    /// The deviation band (0.05: the canary may be 5% worse).
    pub tolerance: f64,
    /// Latency quantiles compared host by host (the first is the host rule's).
    pub quantiles: Vec<f64>,
    /// Batch counts at which the test looks ([`schedule`]). Data that ends before the
    /// last look gets one more look at its end, on the next look's share.
    pub looks: Vec<usize>,
    /// The host rule's share of α at each look, in the order of `looks` (summing to at
    /// most 1; [`front_loaded`]). Empty: α / (number of looks) at every look. The fleet
    /// test and the error-count tests always spend equally over the looks: a fleet-wide
    /// shift of a tail quantile gathers evidence with every request, while a broken host
    /// stands out of a host spread that more requests do not shrink.
    pub spend: Vec<f64>,
    /// When and inside which bands the canary fleet passes.
    pub pass: PassRule,
}

impl HostsConfig {
    /// The host-level test of one metric pair judged by `seq`: latency (its quantiles and
    /// their pass bands, looks front-loaded for the host rule) or error counts (`counts`:
    /// the `rate` pass band, looks every minute), at the pair's share `pair_alpha` of the
    /// analysis' α, over `planned` batches with a look every `every` batches; the pass side
    /// at the horizon (`pass_from` ≥ 1) on the whole α, on the whole run and its later
    /// stretches. One definition for analyses and the evaluation harness.
    pub fn from_sequential(
        seq: &crate::sequential::SequentialConfig,
        pair_alpha: f64,
        counts: bool,
        planned: usize,
        every: usize,
    ) -> HostsConfig {
        let looks = schedule(planned, every, !counts);
        let bands = if counts {
            vec![seq.pass_band("rate")]
        } else {
            seq.quantiles
                .iter()
                .map(|&p| seq.quantile_pass_band(p))
                .collect()
        };
        HostsConfig {
            alpha: pair_alpha,
            tolerance: seq.tolerance,
            quantiles: seq.quantiles.clone(),
            spend: if counts {
                Vec::new()
            } else {
                front_loaded(&looks, every)
            },
            looks,
            // A promotion needs every pair to pass (intersection–union): the whole α each.
            pass: PassRule {
                bands,
                alpha: seq.alpha,
                at_horizon: seq.pass_from >= 1.0,
                stretches: stretch_starts(planned),
            },
        }
    }
}

/// The pass side of a host-level analysis: a promotion proves, with hosts as the unit,
/// that the canary fleet is no worse than a band.
///
/// **Guarantee.** With `at_horizon`, the pass is decided once, at the horizon: per compared
/// quantile the one-sided upper confidence bound of the fleets' difference (Student's t
/// on the hosts' log-quantiles, the same model as the fleet test) at level `alpha` must lie
/// inside that quantile's band, and for error counts the upper bound of the rate ratio
/// (exact, counts divided by the hosts' dispersion) inside its band. A promotion needs
/// every quantile and every metric pair to pass, so by the intersection–union principle
/// each test may use the whole `alpha`: if the canary fleet is worse than the band at any
/// quantile, that quantile's test passes with probability ≤ `alpha`, and so does the
/// promotion — nothing is split over pairs, quantiles or looks. Without `at_horizon`, a
/// pass may come at any look, each on that look's share of the fail side's level
/// (Bonferroni over the looks), which keeps the same bound at a much larger t.
#[derive(Debug, Clone, PartialEq)]
pub struct PassRule {
    /// Bands inside which the canary fleet passes: one per compared quantile (latency,
    /// as a fraction: 0.05 for +5%) or one for the error-rate ratio (1.0 for ×2). A
    /// missing entry: the fail band (`tolerance`).
    pub bands: Vec<f64>,
    /// α of the pass decision (the analysis' whole α; see the guarantee).
    pub alpha: f64,
    /// Passes wait for the horizon and are decided there, once.
    pub at_horizon: bool,
    /// Batch counts at which later stretches begin (ascending; with `at_horizon`;
    /// [`stretch_starts`]). A pass at the horizon needs the whole run **and** every
    /// stretch from one of these batches to the horizon to lie inside the bands — each at
    /// the whole `alpha`, nothing split (intersection–union) — so a regression that began
    /// late is not averaged away by a calm start. Latency: every stretch must be proven
    /// (one without enough hosts with data refuses the pass: missing data never promotes).
    /// Error counts: a stretch whose errors are too few for a canary without change to
    /// pass it (fewer than 99% of such canaries would: [`STRETCH_Z`]) is left out, as the
    /// sequential judge does — error counts of a regression are larger, so a regressed
    /// stretch is the more likely to count.
    pub stretches: Vec<usize>,
}

/// z of the power a stretch needs before it is part of the pass (99%: a canary without
/// change would pass it at least that often).
pub const STRETCH_Z: f64 = 2.326_347_874_040_841;

impl Default for PassRule {
    fn default() -> Self {
        PassRule {
            bands: Vec::new(),
            alpha: 0.01,
            at_horizon: true,
            stretches: Vec::new(),
        }
    }
}

impl HostsConfig {
    /// The pass band of compared quantile (or count band) `i`, as a fraction.
    pub fn pass_band(&self, i: usize) -> f64 {
        self.pass.bands.get(i).copied().unwrap_or(self.tolerance)
    }

    /// The critical value's level for a pass at this look, or `None` when no pass may
    /// be decided at it; `fail_level` is the look's fail-side level.
    fn pass_level(&self, fail_level: f64, horizon: bool) -> Option<f64> {
        match (self.pass.at_horizon, horizon) {
            (true, true) => Some(self.pass.alpha),
            (true, false) => None,
            (false, _) => Some(fail_level),
        }
    }
}

/// Where the pass's later stretches begin ([`PassRule::stretches`]): at a third and at two
/// thirds of the `horizon` (batches), fixed before any data is seen. A canary worse than
/// the band over its last third is caught whole; a change in the last sixth is seen in
/// the last third at half its size or more.
pub fn stretch_starts(horizon: usize) -> Vec<usize> {
    let mut v: Vec<usize> = [horizon / 3, 2 * horizon / 3]
        .into_iter()
        .filter(|&b| b > 0 && b < horizon)
        .collect();
    v.dedup();
    v
}

/// Share of α spent by the looks of the first [`EARLY_UNITS`] units (minutes) of a sparse
/// schedule.
pub const EARLY_SHARE: f64 = 2.0 / 3.0;

/// The looks that count as early: those at or before this many units (minutes).
pub const EARLY_UNITS: usize = 5;

/// Shares of α for the looks of a sparse [`schedule`] with a unit of `every` batches: the
/// looks at or before [`EARLY_UNITS`] units share [`EARLY_SHARE`] equally, the later ones
/// the rest equally (a group without looks leaves its share to the other). The shares sum
/// to 1.
pub fn front_loaded(looks: &[usize], every: usize) -> Vec<f64> {
    let limit = EARLY_UNITS * every.max(1);
    let early = looks.iter().filter(|&&b| b <= limit).count();
    let late = looks.len() - early;
    let (early_share, late_share) = match (early, late) {
        (0, _) => (0.0, 1.0),
        (_, 0) => (1.0, 0.0),
        _ => (EARLY_SHARE, 1.0 - EARLY_SHARE),
    };
    looks
        .iter()
        .map(|&b| {
            if b <= limit {
                early_share / early as f64
            } else {
                late_share / late as f64
            }
        })
        .collect()
}

impl Default for HostsConfig {
    fn default() -> Self {
        let looks = schedule(180, 6, true);
        HostsConfig {
            alpha: 0.01,
            tolerance: 0.05,
            quantiles: vec![0.5, 0.9, 0.99],
            spend: front_loaded(&looks, 6),
            looks,
            pass: PassRule::default(),
        }
    }
}

/// Where a host-level analysis stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum HostOutcome {
    /// Not decided yet.
    Continue,
    /// The canary fleet is worse, or canary hosts are broken (`hosts`, canary host indices;
    /// empty when only the fleet as a whole is worse).
    Fail { hosts: Vec<usize>, reason: String },
    /// The canary fleet is proven inside the band.
    Pass { reason: String },
    /// The horizon came without a decision.
    Inconclusive { reason: String },
}

impl HostOutcome {
    /// True once decided (fail, pass or inconclusive).
    pub fn is_decided(&self) -> bool {
        !matches!(self, HostOutcome::Continue)
    }
}

/// What is kept per host.
#[derive(Debug, Clone)]
enum Data {
    /// Cumulative latency histograms, one row per host (bucket counts, not cumulative in
    /// `le`), with the buckets' upper bounds.
    Latency {
        bounds: Vec<f64>,
        hist: [Array2<f64>; 2],
    },
    /// Cumulative (requests, errors), one row per host.
    Counts { counts: [Array2<f64>; 2] },
}

impl Data {
    /// What came after `earlier`, a snapshot of the same cumulative data; `None` when
    /// `earlier` holds the other kind of data (a snapshot never does).
    fn since(&self, earlier: &Data) -> Option<Data> {
        match (self, earlier) {
            (Data::Latency { bounds, hist }, Data::Latency { hist: old, .. }) => {
                Some(Data::Latency {
                    bounds: bounds.clone(),
                    hist: [&hist[0] - &old[0], &hist[1] - &old[1]],
                })
            }
            (Data::Counts { counts }, Data::Counts { counts: old }) => Some(Data::Counts {
                counts: [&counts[0] - &old[0], &counts[1] - &old[1]],
            }),
            (Data::Latency { .. }, Data::Counts { .. })
            | (Data::Counts { .. }, Data::Latency { .. }) => None,
        }
    }

    /// The pass side on this (stretch of) data: see [`latency_stretch`].
    fn stretch_pass(&self, cfg: &HostsConfig) -> Result<bool, String> {
        match self {
            Data::Latency { bounds, hist } => latency_stretch(cfg, bounds, hist),
            Data::Counts { counts } => counts_stretch(cfg, counts),
        }
    }
}

/// The streaming host-level analysis of one metric pair.
#[derive(Debug, Clone)]
pub struct HostTest {
    config: HostsConfig,
    data: Data,
    batches: usize,
    /// Looks taken so far (an index into `config.looks`).
    looks: usize,
    /// Whether the last batch was looked at.
    looked: bool,
    outcome: HostOutcome,
    /// Host names per arm, for reasons (default: their indices).
    names: [Vec<String>; 2],
    /// The last look's per-host summaries, for reports: `[arm][host]`.
    pub last: [Vec<HostSummary>; 2],
    /// The cumulative data at each stretch start passed so far ([`PassRule::stretches`]).
    snapshots: Vec<(usize, Data)>,
    /// What the last look ruled out ([`HostBound`]); empty before the first look.
    pub bounds: Vec<HostBound>,
}

/// One host's summary at a look.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostSummary {
    /// Latency: exp(θ), the host's quantile (the host rule's); errors: its error rate.
    pub value: f64,
    /// Requests it served so far.
    pub requests: f64,
    /// Whether the host rule found it beyond the others (canary hosts only).
    pub beyond: bool,
}

impl HostTest {
    /// A latency test on histograms with these upper bounds (ascending, the last may be ∞),
    /// `hosts` per arm.
    pub fn latency(config: HostsConfig, bounds: &[f64], hosts: [usize; 2]) -> Self {
        let n = bounds.len();
        Self::new(
            config,
            Data::Latency {
                bounds: bounds.to_vec(),
                hist: hosts.map(|k| Array2::zeros((k, n))),
            },
        )
    }

    /// An error-count test, `hosts` per arm.
    pub fn counts(config: HostsConfig, hosts: [usize; 2]) -> Self {
        Self::new(
            config,
            Data::Counts {
                counts: hosts.map(|k| Array2::zeros((k, 2))),
            },
        )
    }

    fn new(config: HostsConfig, data: Data) -> Self {
        let hosts = match &data {
            Data::Latency { hist, .. } => [hist[0].nrows(), hist[1].nrows()],
            Data::Counts { counts } => [counts[0].nrows(), counts[1].nrows()],
        };
        HostTest {
            names: hosts.map(|k| (0..k).map(|h| h.to_string()).collect()),
            config,
            data,
            batches: 0,
            looks: 0,
            looked: false,
            outcome: HostOutcome::Continue,
            last: [Vec::new(), Vec::new()],
            snapshots: Vec::new(),
            bounds: Vec::new(),
        }
    }

    /// Name the hosts in reasons (`names[arm][host]`; missing names stay indices).
    pub fn with_names(mut self, names: [Vec<String>; 2]) -> Self {
        for arm in [BASELINE, CANARY] {
            for (slot, name) in self.names[arm].iter_mut().zip(&names[arm]) {
                slot.clone_from(name);
            }
        }
        self
    }

    /// The decision so far.
    pub fn outcome(&self) -> &HostOutcome {
        &self.outcome
    }

    /// Add one host's latency bucket increments `(bucket index, count)`.
    pub fn add_latency(&mut self, arm: usize, host: usize, buckets: &[(u32, f64)]) {
        if let Data::Latency { hist, .. } = &mut self.data {
            let mut row = hist[arm].row_mut(host);
            for &(i, c) in buckets {
                if let Some(slot) = row.get_mut(i as usize) {
                    *slot += c;
                }
            }
        }
    }

    /// Add one host's request and error increments.
    pub fn add_counts(&mut self, arm: usize, host: usize, requests: f64, errors: f64) {
        if let Data::Counts { counts } = &mut self.data {
            counts[arm][[host, 0]] += requests;
            counts[arm][[host, 1]] += errors;
        }
    }

    /// The end of a batch: decide when it is a look. A failure stands; a pass holds until
    /// a later look finds otherwise (a regression that begins later still fails: every
    /// look has its own share of α).
    pub fn end_batch(&mut self) -> &HostOutcome {
        self.batches += 1;
        self.looked = false;
        if self.config.pass.at_horizon && self.config.pass.stretches.contains(&self.batches) {
            self.snapshots.push((self.batches, self.data.clone()));
        }
        if self.config.looks.get(self.looks) == Some(&self.batches) {
            self.look(false);
        }
        &self.outcome
    }

    /// The end of the data: a last look (on the next look's share, unless the last batch
    /// was a look or every look is spent), and what is still undecided becomes
    /// inconclusive, with the reason.
    pub fn finish(&mut self) -> &HostOutcome {
        if matches!(
            self.outcome,
            HostOutcome::Fail { .. } | HostOutcome::Inconclusive { .. }
        ) {
            return &self.outcome;
        }
        if self.looked {
            // Judge the last look again as the horizon: the same test at the same level.
            self.looks -= 1;
            self.look(true);
        } else if self.looks < self.config.looks.len() {
            self.look(true);
        } else if matches!(self.outcome, HostOutcome::Continue) {
            self.outcome = HostOutcome::Inconclusive {
                reason: "every look of the schedule was spent without a decision".into(),
            };
        }
        &self.outcome
    }

    /// Looks taken so far.
    pub fn looks(&self) -> usize {
        self.looks
    }

    /// The share of α of look `k` (0-based): its entry of `spend`, or an equal share.
    fn share(&self, k: usize) -> f64 {
        let n = self.config.looks.len().max(1);
        match self.config.spend.get(k.min(n - 1)) {
            Some(&w) if self.config.spend.len() == self.config.looks.len() => w,
            _ => 1.0 / n as f64,
        }
    }

    /// Looks in the schedule.
    pub fn planned_looks(&self) -> usize {
        self.config.looks.len()
    }

    fn look(&mut self, horizon: bool) {
        if matches!(
            self.outcome,
            HostOutcome::Fail { .. } | HostOutcome::Inconclusive { .. }
        ) {
            return;
        }
        self.looks += 1;
        self.looked = true;
        // The host rule spends by the schedule's shares, the fleet test equally over the
        // looks (see `spend`).
        let level = self.config.alpha * self.share(self.looks - 1);
        let equal = self.config.alpha / self.config.looks.len().max(1) as f64;
        let (out, last, bounds) = match &self.data {
            Data::Latency { bounds, hist } => judge_latency(
                &self.config,
                &self.names,
                bounds,
                hist,
                Levels {
                    fleet: equal,
                    host: level,
                },
                horizon,
            ),
            Data::Counts { counts } => {
                judge_counts(&self.config, &self.names, counts, level, horizon)
            }
        };
        self.outcome = match out {
            HostOutcome::Pass { reason } if horizon && self.config.pass.at_horizon => {
                self.stretches_pass(reason)
            }
            other => other,
        };
        self.last = last;
        self.bounds = bounds;
    }

    /// A pass of the whole run at the horizon stands only if every testable later
    /// stretch passes too ([`PassRule::stretches`]).
    fn stretches_pass(&self, reason: String) -> HostOutcome {
        let mut tested = 0;
        for (at, snapshot) in &self.snapshots {
            if *at >= self.batches {
                continue;
            }
            // A stretch that cannot be read is not proven: no pass on it.
            let Some(stretch) = self.data.since(snapshot) else {
                return HostOutcome::Inconclusive {
                    reason: "a later stretch of the data could not be read apart from the run"
                        .into(),
                };
            };
            match stretch.stretch_pass(&self.config) {
                Ok(passed) => tested += usize::from(passed),
                Err(why) => {
                    return HostOutcome::Inconclusive {
                        reason: format!(
                            "the whole run is within the pass band, but the last {} of {} batches are not proven within it: {why}",
                            self.batches - at,
                            self.batches
                        ),
                    };
                }
            }
        }
        HostOutcome::Pass {
            reason: if tested > 0 {
                format!(
                    "{reason}; and so is each of the {tested} later stretches that could show it"
                )
            } else {
                reason
            },
        }
    }
}

type Judged = (HostOutcome, [Vec<HostSummary>; 2], Vec<HostBound>);

/// What a look ruled out, per compared quantile (or the error rate): the upper confidence
/// bound of the canary fleet's ratio to the baseline fleet's — at the horizon's pass level
/// on its last look, else at the look's own level (so every bound reported holds at the
/// analysis' α) — beside the pass band's edge.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostBound {
    /// `p50`, `p99`, `error rate`.
    pub quantity: String,
    /// Ratio (canary fleet / baseline fleet) the canary is proven no worse than.
    pub upper: f64,
    /// The pass band's edge as a ratio (1.05 for +5%).
    pub pass: f64,
}

mod counts;
mod latency;

use counts::*;
pub use latency::t_critical;
use latency::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_look_early_then_regularly() {
        assert_eq!(
            schedule(180, 6, true),
            vec![6, 12, 18, 30, 60, 90, 120, 150, 180]
        );
        assert_eq!(schedule(180, 6, false).len(), 30);
        assert_eq!(schedule(1, 6, true), vec![1]);
        assert_eq!(schedule(20, 6, true), vec![6, 12, 18, 20]);
    }

    #[test]
    fn t_critical_matches_tables() {
        // Student's t, one-sided 0.1%, 7 df: 4.785; 0.5%, 4 df: 4.604.
        assert!((t_critical(7.0, 0.001) - 4.785).abs() < 2e-3);
        assert!((t_critical(4.0, 0.005) - 4.604).abs() < 2e-3);
    }

    #[test]
    fn binomial_tail_matches_a_direct_sum() {
        // P(X ≥ 3), X ~ Bin(10, 0.2) = 1 − P(X ≤ 2) = 0.32220047.
        assert!((binomial_upper_tail(3.0, 10.0, 0.2) - 0.322_200_473_6).abs() < 1e-6);
        assert_eq!(binomial_upper_tail(0.0, 10.0, 0.2), 1.0);
    }

    #[test]
    fn a_histogram_quantile_lands_in_its_bucket() {
        let bounds = [1.0, 2.0, 4.0, f64::INFINITY];
        let counts = [10.0, 10.0, 10.0, 0.0];
        let q = log_quantile_at_rank(&bounds, &counts, 15.0).exp();
        assert!((1.0..=2.0).contains(&q), "{q}");
        assert!((q - 2f64.sqrt()).abs() < 1e-9, "geometric midpoint: {q}");
    }
}
