//! `band`: short, coarse series — 3 to ~12 points per arm, each point already an aggregate
//! (a 5-minute p99, an availability percentage) — judged against the baseline's own
//! interval-to-interval variation: "is the canary outside what the baseline's intervals
//! allow?"
//!
//! Method, per metric pair (the watched side; `either` runs both sides at half the budget):
//! 1. Centre and scale of the baseline's intervals: median m and
//!    s = max(1.4826·MAD, (P90 − m) / 1.2816), the latter an upper-tail scale that sees a
//!    series which often bursts (a MAD of 12 points ignores 20% bursts; a single outlier
//!    does not move P90 of ≥ 10 points). s is raised to its floors: `floor` (relative to
//!    |m|, or in log units with `log = true`), `resolution` (absolute) and, for shares of
//!    requests (`proportion`), their binomial spread √(q(1 − q) / R) with q the baseline's
//!    pooled minority share at its 95% upper bound. Intervals of fewer than
//!    `min_requests` requests are dropped first.
//! 2. Each canary interval's robust z = (x − m) / s. An interval is **beyond** the band when
//!    z > c and it is also beyond every baseline interval (the baseline never went there;
//!    for baselines over 20 intervals, beyond their 95th percentile).
//!    With request counts beside the values ([`Sample::Aggregates`], or event counts'
//!    totals) a canary interval of r requests against baseline intervals of typically R
//!    is judged on the scale s·max(1, √(R / r)): an aggregate of fewer requests scatters
//!    more (see `requests.rs` for why that keeps the bound).
//! 3. **Fail** when, for some k from 2 to n (one interval when there is one; `min_beyond`
//!    alone when set), at least k of the canary's n intervals are beyond c_k: one noisy
//!    interval never fails a canary, two far beyond or many a little beyond do.
//! 4. For shares with request counts (`proportion`, event counts), also when the canary's
//!    pooled share is beyond the baseline's (`shares.rs`: the larger of an exact
//!    conditional binomial and a quasi-binomial p-value); it takes half of the majority
//!    rule's share of α.
//!
//! Calibration: c_k is the smallest value for which, if baseline and canary intervals were
//! independent draws of one normal distribution (after the log when `log = true`),
//! P(at least k of n canary intervals have z > c_k) ≤ w_k·α / M, M the pairs this kind
//! judges in the analysis and w_k the rule's weight — ½ for the majority rule, the other ½
//! shared by the other rules (weighted Bonferroni over both: the analysis's family-wise
//! false-alarm rate is ≤ α). The
//! probability is computed exactly given (m, s) — a binomial tail — and averaged over a
//! fixed sample of 8,192 simulated baselines of the same size (at most 32 intervals: a
//! smaller baseline is noisier, so that is conservative), so small α/M (1e-5) costs no
//! more than large; for more than 32 canary intervals the binomial tail is replaced by
//! Chernoff's bound exp(−n·KL(k/n ‖ q)). The floors and the "beyond every baseline interval" condition only
//! remove failures, so they keep the bound. Real interval data is not normal (bursts,
//! daily cycles); the real-incident benchmark (docs/evaluation.md) measures what the bound
//! is worth there.

mod calibration;
mod hosts;
mod requests;
mod shares;

use serde::{Deserialize, Serialize};

pub use self::calibration::{centre_and_scale, critical_z};
pub use self::hosts::{BandHostRow, BandHosts, MIN_BASELINE_HOSTS};
use self::requests::{Widening, enough_requests};
use self::shares::{Pooled, PooledShares};
use super::num;
use crate::effect::mean_ratio;
use crate::judge::{FieldError, Judge, JudgeKind, Prepared};
use crate::judgement::{Check, Classification, Judged, Judgement};
use crate::options::MetricOptions;
use crate::sample::{MetricPair, Sample};
use crate::stats::{clopper_pearson, percentile_sorted};

/// Options of the `band` judge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BandConfig {
    /// False-alarm rate of the whole analysis for the pairs judged by `band` (split
    /// equally among them).
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Canary intervals beyond the band needed to fail; default: more than half of them,
    /// and at least 2 when there are 2 or more.
    #[serde(default)]
    pub min_beyond: Option<usize>,
    /// Judge on the log scale (ratios): for positive data such as latency.
    #[serde(default)]
    pub log: bool,
    /// Floor of the scale: a fraction of |centre| (with `log`, in log units: 0.02 ≈ 2%),
    /// so a flat baseline does not make every wiggle a regression.
    #[serde(default = "default_floor")]
    pub floor: f64,
    /// Absolute floor of the scale in the metric's unit: its resolution.
    #[serde(default)]
    pub resolution: f64,
    /// Baseline intervals needed for a band (at least 3).
    #[serde(default = "default_min_baseline")]
    pub min_baseline: usize,
    /// With request counts beside the values: intervals of fewer requests are no evidence
    /// (on either arm). A p-quantile of n requests is a quantile only when n·(1 − p)
    /// requests lie beyond it — fewer, and it is a sample maximum with a maximum's tail.
    #[serde(default)]
    pub min_requests: f64,
    /// The values are shares of their requests (availability in %, an error ratio): the
    /// scale never goes below the binomial sampling spread √(q(1 − q) / R) of a share of
    /// R requests (the baseline's usual), q the baseline's pooled share. Needs request
    /// counts (event counts bring their own).
    #[serde(default)]
    pub proportion: Option<Proportion>,
}

/// How a share is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proportion {
    /// 0–100.
    Percent,
    /// 0–1.
    Fraction,
}

fn default_alpha() -> f64 {
    0.01
}
fn default_floor() -> f64 {
    0.02
}
fn default_min_baseline() -> usize {
    3
}

impl Default for BandConfig {
    fn default() -> Self {
        BandConfig {
            alpha: default_alpha(),
            min_beyond: None,
            log: false,
            floor: default_floor(),
            resolution: 0.0,
            min_baseline: default_min_baseline(),
            min_requests: 0.0,
            proportion: None,
        }
    }
}

impl BandConfig {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            errors.push(FieldError {
                field: "alpha",
                message: format!("must be between 0 and 1 (exclusive), got {}", self.alpha),
            });
        }
        if self.min_beyond == Some(0) {
            errors.push(FieldError {
                field: "min_beyond",
                message: "must be at least 1".into(),
            });
        }
        for (field, v) in [
            ("floor", self.floor),
            ("resolution", self.resolution),
            ("min_requests", self.min_requests),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                errors.push(FieldError {
                    field,
                    message: format!("must be a number ≥ 0, got {v}"),
                });
            }
        }
        if self.proportion.is_some() && self.log {
            errors.push(FieldError {
                field: "proportion",
                message: "shares are judged on their own scale; `log = true` cannot apply too"
                    .into(),
            });
        }
        if self.proportion.is_some() && self.resolution > 0.0 {
            errors.push(FieldError {
                field: "resolution",
                message: "with `proportion`, the sampling spread of each interval's requests is the scale's floor; drop `resolution`".into(),
            });
        }
        if self.min_baseline < 3 {
            errors.push(FieldError {
                field: "min_baseline",
                message: format!(
                    "a band needs at least 3 baseline intervals, got {}",
                    self.min_baseline
                ),
            });
        }
        errors
    }
}

/// The `band` judge of one analysis.
#[derive(Debug, Clone)]
pub struct BandJudge {
    config: BandConfig,
    /// α of one metric pair.
    pair_alpha: f64,
    pairs: usize,
}

impl BandJudge {
    /// A judge whose pairs each get the whole α (a single pair).
    pub fn new(config: BandConfig) -> Self {
        BandJudge {
            pair_alpha: config.alpha,
            config,
            pairs: 1,
        }
    }

    /// Split α across the `pairs` metric pairs an analysis judges with `band`.
    pub fn with_pairs(mut self, pairs: usize) -> Self {
        self.pairs = pairs.max(1);
        self.pair_alpha = self.config.alpha / self.pairs as f64;
        self
    }

    pub fn pair_alpha(&self) -> f64 {
        self.pair_alpha
    }

    /// The rules "at least k of `n` intervals beyond that k's band" the pair is judged by:
    /// `min_beyond` alone when set; by default every k from 2 to n (one interval when there
    /// is one), each at an equal share of the pair's α — so two intervals far beyond fail
    /// as surely as three a little beyond, and one noisy interval never fails.
    ///
    /// Beyond [`EVERY_K_UP_TO`] canary intervals (longer than a short series), six rules
    /// instead — short bursts of 2, 3 and 4 intervals, a quarter, half and all of them —
    /// so the rules, and α's split, stay few.
    fn rules(&self, n: usize) -> Vec<usize> {
        match self.config.min_beyond {
            Some(k) => vec![k.clamp(1, n.max(1))],
            None if n <= 1 => vec![1],
            None if n <= EVERY_K_UP_TO => (2..=n).collect(),
            None => {
                let mut ks = vec![2, 3, 4, n.div_ceil(4), majority(n), n];
                ks.sort_unstable();
                ks.dedup();
                ks
            }
        }
    }
}

/// The binomial sampling spread of a share of `r` requests, √(q(1 − q) / r) in the share's
/// `unit`, q the baseline's pooled minority share (over its (share, requests) pairs; pairs
/// without a count are left out) at its 95% upper Clopper–Pearson bound — toward ½, so a
/// baseline that happened to see no failure is not taken for one that cannot fail. 0 when
/// `r` is not positive.
fn binomial_floor(baseline: impl Iterator<Item = (f64, f64)>, unit: f64, r: f64) -> f64 {
    if r.is_nan() || r <= 0.0 {
        return 0.0;
    }
    let (mut share, mut total) = (0.0, 0.0);
    for (x, n) in baseline {
        if n.is_finite() {
            share += (x / unit).clamp(0.0, 1.0) * n;
            total += n;
        }
    }
    let minority = share.min(total - share).max(0.0);
    let q = clopper_pearson(minority, total, 0.05, true).min(0.5);
    unit * (q * (1.0 - q) / r).sqrt()
}

/// More than half of `n` intervals, and at least 2 (the rule that keeps half of α).
fn majority(n: usize) -> usize {
    (n / 2 + 1).max(2).min(n)
}

/// Up to this many canary intervals, every k from 2 to n has its rule.
const EVERY_K_UP_TO: usize = 12;

/// Baselines up to this many intervals must be exceeded entirely (their maximum) for a
/// canary interval to count; longer ones up to their 95th percentile.
const WHOLE_RANGE_UP_TO: usize = 20;
/// The value a canary interval must also exceed: the sorted baseline's maximum, or its
/// 95th percentile for a long baseline.
fn guard(sorted: &[f64]) -> f64 {
    if sorted.len() <= WHOLE_RANGE_UP_TO {
        sorted[sorted.len() - 1]
    } else {
        percentile_sorted(sorted, 0.95)
    }
}

/// (v − m) / s; with no spread at all, infinitely far when above the centre.
fn robust_z(v: f64, m: f64, s: f64) -> f64 {
    if s > 0.0 {
        (v - m) / s
    } else if v > m {
        f64::INFINITY
    } else {
        0.0
    }
}

/// What both sides are judged on (values on the judged scale).
#[derive(Clone, Copy)]
/// The side a judgement speaks of.
struct Shown<'a> {
    side: &'a Side,
    /// The side watched for decreases.
    low: bool,
    classification: Classification,
}

impl<'a> Shown<'a> {
    /// The verdict of the watched sides (`high`: increases, `low`: decreases) and the side
    /// the reason speaks of: the failing one (both failing: the one with more intervals
    /// beyond), else the one nearer to failing. `None` when no side is watched.
    fn of(high: Option<&'a Side>, low: Option<&'a Side>) -> Option<Shown<'a>> {
        let fails = |s: Option<&Side>| s.is_some_and(Side::fails);
        let classification = match (fails(high), fails(low)) {
            (true, true) => {
                if high.map(|s| s.beyond) >= low.map(|s| s.beyond) {
                    Classification::High
                } else {
                    Classification::Low
                }
            }
            (true, false) => Classification::High,
            (false, true) => Classification::Low,
            (false, false) => Classification::Pass,
        };
        let (side, low) = match (high, low) {
            (Some(h), Some(l)) => match classification {
                Classification::Low => (l, true),
                Classification::High => (h, false),
                _ if l.z > h.z => (l, true),
                _ => (h, false),
            },
            (Some(h), None) => (h, false),
            (None, Some(l)) => (l, true),
            (None, None) => return None,
        };
        Some(Shown {
            side,
            low,
            classification,
        })
    }
}

struct SideInput<'a> {
    baseline: &'a [f64],
    canary: &'a [f64],
    /// Per canary value, the factor ≥ 1 its band's scale is widened by.
    widen: &'a [f64],
    /// The side's share of the pair's α.
    p: f64,
    rules: &'a [usize],
    /// The scale's floor from sampling (shares of requests).
    sampling_floor: f64,
    /// Shares with their requests: the pooled-share test takes the majority rule's half
    /// of α (see `shares.rs`).
    pooled: Option<&'a PooledShares>,
}

/// One side's findings.
struct Side {
    /// Canary intervals beyond the shown rule's band on this side.
    beyond: usize,
    /// The shown rule: at least `k` intervals beyond its band.
    k: usize,
    /// How many rules share the side's α.
    rules: usize,
    /// The band's edge, in the data's unit.
    edge: f64,
    /// Median robust z of the canary's intervals on this side (positive = worse).
    z: f64,
    critical: f64,
    /// The pooled-share test, when the series is shares with requests: its result and
    /// its share of α.
    pooled: Option<(Pooled, f64)>,
}

impl Side {
    /// The pooled-share test failed.
    fn pooled_fails(&self) -> bool {
        self.pooled.is_some_and(|(t, p)| t.p <= p)
    }

    /// Any rule or the pooled test failed.
    fn fails(&self) -> bool {
        self.beyond >= self.k || self.pooled_fails()
    }
}

impl BandJudge {
    /// Judge one side: `up` watches for a higher canary. Values are on the judged scale
    /// (logged when `log`); `widen[i]` ≥ 1 multiplies the band's scale for canary value
    /// `i` (an interval summarising fewer requests than the baseline's usually do).
    fn side(&self, input: &SideInput<'_>, up: bool) -> Side {
        let SideInput {
            baseline,
            canary,
            widen,
            p,
            rules,
            sampling_floor,
            pooled,
        } = *input;
        let sign = if up { 1.0 } else { -1.0 };
        let mut b: Vec<f64> = baseline.iter().map(|x| sign * x).collect();
        b.sort_by(f64::total_cmp);
        let (m, s) = centre_and_scale(&b);
        let s = s.max(self.scale_floor(m, sign, sampling_floor));
        let top = guard(&b);
        // Each interval's robust z, and whether it is beyond every baseline interval.
        let judged: Vec<(f64, bool)> = canary
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let v = sign * x;
                let z = robust_z(v, m, s * widen.get(i).copied().unwrap_or(1.0));
                (z, v > top)
            })
            .collect();
        // Weighted Bonferroni: the majority rule keeps half of the side's α (a sustained
        // shift is judged almost as before the other rules existed), the others share the
        // other half.
        let n = canary.len();
        // With the pooled-share test, it and the majority rule share the half of α the
        // majority rule keeps otherwise (both judge a sustained change).
        let sustained = if pooled.is_some() { p / 4.0 } else { p / 2.0 };
        let share = |k: usize| {
            if rules.len() <= 1 {
                if pooled.is_some() { p / 2.0 } else { p }
            } else if k == majority(n) {
                sustained
            } else {
                p / 2.0 / (rules.len() - 1) as f64
            }
        };
        let pooled = pooled.map(|t| {
            let a = if rules.len() <= 1 { p / 2.0 } else { sustained };
            (t.test(up), a)
        });
        let outcomes: Vec<(usize, f64, usize)> = rules
            .iter()
            .map(|&k| {
                let critical = critical_z(b.len(), canary.len(), k, share(k));
                let beyond = judged
                    .iter()
                    .filter(|(z, out)| *z > critical && *out)
                    .count();
                (k, critical, beyond)
            })
            .collect();
        // The rule shown: the firing one with the most intervals, else the one nearest to
        // firing.
        let (k, critical, beyond) = outcomes
            .iter()
            .copied()
            .filter(|(k, _, beyond)| beyond >= k)
            .max_by_key(|(k, _, _)| *k)
            .or_else(|| {
                outcomes.iter().copied().max_by(|a, b| {
                    (a.2 as f64 / a.0 as f64)
                        .total_cmp(&(b.2 as f64 / b.0 as f64))
                        .then(a.0.cmp(&b.0))
                })
            })
            .unwrap_or((1, f64::INFINITY, 0));
        let mut zs: Vec<f64> = judged.iter().map(|j| j.0).collect();
        zs.sort_by(f64::total_cmp);
        Side {
            beyond,
            k,
            rules: rules.len(),
            edge: sign * (m + critical * s),
            z: percentile_sorted(&zs, 0.5),
            critical,
            pooled,
        }
    }

    /// The floor of a scale around centre `m` (on the judged scale, signed by `sign`):
    /// `floor` (relative to |m|, or in log units), `resolution`, and the sampling floor of
    /// shares.
    fn scale_floor(&self, m: f64, sign: f64, sampling_floor: f64) -> f64 {
        let c = &self.config;
        let floor = if c.log { c.floor } else { c.floor * m.abs() };
        floor
            .max(self.resolution_scaled(m * sign))
            .max(sampling_floor)
    }

    /// The verdict when the pair cannot be judged: no data in an arm (after dropping the
    /// intervals of too few requests), too short a baseline, or values a log cannot take.
    fn unjudgeable(
        &self,
        options: &MetricOptions,
        prep: &Prepared,
        dropped: usize,
    ) -> Option<Judgement> {
        if let Some(which) = prep.missing_arms() {
            let mut j = prep.no_data(options, which);
            if dropped > 0 {
                j.reason = format!(
                    "{}; {dropped} intervals of fewer than {} requests are no evidence",
                    j.reason,
                    num(self.config.min_requests)
                );
            }
            return Some(j);
        }
        let c = &self.config;
        if prep.baseline.len() < c.min_baseline.max(3) {
            let mut j = prep.no_data(options, "baseline");
            j.reason = format!(
                "a band needs at least {} baseline intervals, the baseline has {}{}",
                c.min_baseline.max(3),
                prep.baseline.len(),
                if j.classification == Classification::NodataFail {
                    "; the metric must have data"
                } else {
                    ""
                }
            );
            return Some(j);
        }
        if c.log
            && let Some((arm, v)) = [("baseline", &prep.baseline), ("canary", &prep.canary)]
                .into_iter()
                .find_map(|(arm, v)| v.iter().find(|x| **x <= 0.0).map(|x| (arm, *x)))
        {
            return Some(prep.judgement(
                Classification::Error,
                format!("log = true needs positive values; the {arm} has {}", num(v)),
            ));
        }
        None
    }

    /// The judgement of the side shown: its reason, numbers, checks and rule.
    fn explain(
        &self,
        options: &MetricOptions,
        prep: &Prepared,
        input: &SideInput,
        widening: &Widening,
        unit: f64,
        shown: &Shown,
    ) -> Judgement {
        let c = &self.config;
        let (classification, is_low) = (shown.classification, shown.low);
        let shown = shown.side;
        let (b, k_values) = (input.baseline, input.canary);
        let n = k_values.len();
        let back = |x: f64| self.back(x);
        let mut sorted_b = b.to_vec();
        sorted_b.sort_by(f64::total_cmp);
        let mut sorted_c = k_values.to_vec();
        sorted_c.sort_by(f64::total_cmp);
        let usual = back(percentile_sorted(&sorted_b, 0.5));
        let canary_median = back(percentile_sorted(&sorted_c, 0.5));
        let edge = back(shown.edge);
        let word = if is_low { "below" } else { "above" };
        let pairs_text = self.pairs_text();
        let k = shown.k;
        let scan = Self::scan_text(shown, n);
        // The pooled-share test, in the data's unit.
        let pooled_text = shown.pooled.map_or_else(String::new, |(t, a)| {
            format!(
                "; pooled over the intervals, canary {} vs baseline {} of requests (z {}, dispersion {}): p {} against α {}",
                num(t.canary * unit),
                num(t.baseline * unit),
                num(t.z),
                num(t.dispersion),
                crate::format::p_value(Some(t.p)),
                num(a)
            )
        });
        let reason = format!(
            "canary median {} vs usual {} (median of {} baseline intervals): {} of {n} intervals {word} the band's edge {} ({} robust scales{}), {k} needed{scan}; robust z {}{}{pooled_text}; {pairs_text}",
            num(canary_median),
            num(usual),
            b.len(),
            shown.beyond,
            num(edge),
            num(shown.critical),
            if c.log { ", log scale" } else { "" },
            num(shown.z),
            widening.sentence(),
        );
        let mut j = prep.judgement(classification, reason);
        j.critical = options.critical && classification.is_failure();
        j.familywise = true;
        j.estimate = Some(canary_median - usual);
        j.mean_ratio = Some(mean_ratio(
            prep.canary_summary.mean,
            prep.baseline_summary.mean,
        ));
        let (zmin, zmax) = if is_low {
            (Some(-shown.critical), None)
        } else {
            (None, Some(shown.critical))
        };
        let signed_z = if is_low { -shown.z } else { shown.z };
        let mut checks = vec![
            Check::value("robust z", signed_z, zmin, zmax),
            Check::value(
                format!("intervals {word} {} (of {n})", num(edge)),
                shown.beyond as f64,
                None,
                Some(k as f64 - 1.0),
            ),
        ];
        if let Some((t, a)) = shown.pooled {
            let mut check = Check::value("pooled share p", t.p, Some(a), None);
            check.failed = t.p <= a;
            checks.push(check);
            j.p_value = Some(t.p);
        }
        j.judged = Some(Judged {
            quantity: "median interval".into(),
            baseline: Some(usual),
            canary: Some(canary_median),
            checks,
            rule: Some(self.band_rule(shown, n)),
            ruled_out: Vec::new(),
        });
        j
    }

    /// From the judged scale back to the data's unit.
    fn back(&self, y: f64) -> f64 {
        if self.config.log { y.exp() } else { y }
    }

    /// "α 0.01", or "α 0.01 shared by 4 pairs".
    fn pairs_text(&self) -> String {
        if self.pairs > 1 {
            format!(
                "α {} shared by {} pairs",
                num(self.config.alpha),
                self.pairs
            )
        } else {
            format!("α {}", num(self.config.alpha))
        }
    }

    /// How the rules share α, for the reason.
    fn scan_text(shown: &Side, n: usize) -> String {
        if shown.pooled.is_some() {
            if shown.rules > 1 {
                format!(
                    " (rules for 2 to {n} of {n} intervals share half of α, fewer intervals need a wider band; the pooled share the other half)"
                )
            } else {
                " (half of α; the pooled share the other half)".to_string()
            }
        } else if shown.rules > 1 {
            format!(
                " (rules for 2 to {n} of {n} intervals share α, half of it for {} of {n}; fewer intervals need a wider band)",
                majority(n)
            )
        } else {
            String::new()
        }
    }

    /// The rule the side was judged by, in words.
    fn band_rule(&self, shown: &Side, n: usize) -> String {
        let k = shown.k;
        let pooled_rule = if shown.pooled.is_some() {
            "; or when the canary's pooled share is beyond the baseline's (exact conditional binomial and overdispersed t, the larger p) at the other half of α"
        } else {
            ""
        };
        if shown.pooled.is_some() {
            format!(
                "fails when, for some k of {} rules from 2 to {n}, at least k of {n} intervals are beyond that k's band (the rules share half of α) and beyond every baseline interval{pooled_rule}",
                shown.rules
            )
        } else if shown.rules > 1 {
            format!(
                "fails when, for some k of {} rules from 2 to {n}, at least k of {n} intervals are beyond that k's band (half of α for {} of {n}, the rest split over the other rules) and beyond every baseline interval",
                shown.rules,
                majority(n)
            )
        } else {
            format!(
                "fails when at least {k} of {n} intervals are beyond the band and beyond every baseline interval"
            )
        }
    }

    /// `resolution` on the judged scale near `centre`: as is, or as a log-step.
    fn resolution_scaled(&self, centre: f64) -> f64 {
        let r = self.config.resolution;
        if r <= 0.0 {
            0.0
        } else if self.config.log {
            ((centre.exp() + r) / centre.exp()).ln()
        } else {
            r
        }
    }
}

impl Judge for BandJudge {
    fn kind(&self) -> JudgeKind {
        JudgeKind::Band
    }

    fn judge(&self, options: &MetricOptions, pair: &MetricPair) -> Judgement {
        if let Some(problem) = pair.problem() {
            return Judgement::bare(
                Classification::Error,
                format!("the data is not a valid sample: {problem}"),
            );
        }
        let (kept, dropped) = enough_requests(pair, self.config.min_requests);
        let pair = &kept;
        let prep = Prepared::new(options, pair);
        if let Some(j) = self.unjudgeable(options, &prep, dropped) {
            return j;
        }
        let c = &self.config;
        let widening = Widening::of(pair, &prep.baseline, &prep.canary);
        // A share's unit: 100 for percentages.
        let unit = match c.proportion {
            Some(Proportion::Percent) if !matches!(pair.baseline, Sample::Counts { .. }) => 100.0,
            _ => 1.0,
        };
        let scale = |v: &[f64]| -> Vec<f64> {
            if c.log {
                v.iter().map(|x| x.ln()).collect()
            } else {
                v.to_vec()
            }
        };
        let (b, k_values) = (scale(&prep.baseline), scale(&prep.canary));
        // A share of R requests (the baseline's usual) spreads at least √(q(1 − q) / R)
        // from binomial sampling alone. q is the baseline's pooled minority share at its
        // 95% upper (Clopper–Pearson) bound — toward ½ — so a baseline that happened to
        // see no failure is not taken for one that cannot fail.
        let sampling_floor = match (c.proportion, widening.requests) {
            (Some(_), Some((r, _))) => binomial_floor(
                prep.baseline
                    .iter()
                    .copied()
                    .zip(widening.baseline_requests.iter().copied()),
                unit,
                r,
            ),
            _ => 0.0,
        };
        let n = k_values.len();
        let rules = self.rules(n);
        let (up, down) = (
            options.direction.watches_increase(),
            options.direction.watches_decrease(),
        );
        let p = if up && down {
            self.pair_alpha / 2.0
        } else {
            self.pair_alpha
        };
        // Shares with their requests (event counts, or `proportion` aggregates): the
        // pooled-share test judges a sustained change.
        let pooled = if c.proportion.is_some() || matches!(pair.baseline, Sample::Counts { .. }) {
            PooledShares::of(pair, unit)
        } else {
            None
        };
        let input = SideInput {
            baseline: &b,
            canary: &k_values,
            widen: &widening.factors,
            p,
            rules: &rules,
            sampling_floor,
            pooled: pooled.as_ref(),
        };
        let side = |up: bool| self.side(&input, up);
        let high = up.then(|| side(true));
        let low = down.then(|| side(false));
        let Some(shown) = Shown::of(high.as_ref(), low.as_ref()) else {
            return prep.judgement(Classification::Error, "no direction is watched");
        };
        self.explain(options, &prep, &input, &widening, unit, &shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_run_from_two_to_n_unless_one_is_set() {
        let j = BandJudge::new(BandConfig::default());
        assert_eq!(j.rules(1), [1]);
        assert_eq!(j.rules(2), [2]);
        assert_eq!(j.rules(5), [2, 3, 4, 5]);
        assert_eq!(j.rules(12), (2..=12).collect::<Vec<_>>());
        assert_eq!(j.rules(40), [2, 3, 4, 10, 21, 40]);
        assert_eq!(j.rules(13), [2, 3, 4, 7, 13]);
        let j = BandJudge::new(BandConfig {
            min_beyond: Some(9),
            ..Default::default()
        });
        assert_eq!(j.rules(4), [4], "never more than there are");
    }
}
