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
//!    more (see [`Widening`] for why that keeps the bound).
//! 3. **Fail** when, for some k from 2 to n (one interval when there is one; `min_beyond`
//!    alone when set), at least k of the canary's n intervals are beyond c_k: one noisy
//!    interval never fails a canary, two far beyond or many a little beyond do.
//!
//! Calibration: c_k is the smallest value for which, if baseline and canary intervals were
//! independent draws of one normal distribution (after the log when `log = true`),
//! P(at least k of n canary intervals have z > c_k) ≤ α / (M·K), M the pairs this kind
//! judges in the analysis and K the rules (Bonferroni over both: the analysis's
//! family-wise false-alarm rate is ≤ α). The
//! probability is computed exactly given (m, s) — a binomial tail — and averaged over a
//! fixed sample of 8,192 simulated baselines of the same size (at most 32 intervals: a
//! smaller baseline is noisier, so that is conservative), so small α/M (1e-5) costs no
//! more than large; for more than 32 canary intervals the binomial tail is replaced by
//! Chernoff's bound exp(−n·KL(k/n ‖ q)). The floors and the "beyond every baseline interval" condition only
//! remove failures, so they keep the bound. Real interval data is not normal (bursts,
//! daily cycles); the real-incident benchmark (docs/evaluation.md) measures what the bound
//! is worth there.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

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
                let mut ks = vec![2, 3, 4, n.div_ceil(4), n.div_ceil(2), n];
                ks.sort_unstable();
                ks.dedup();
                ks
            }
        }
    }
}

/// Up to this many canary intervals, every k from 2 to n has its rule.
const EVERY_K_UP_TO: usize = 12;

/// Number of simulated baselines the critical value is averaged over.
const DRAWS: usize = 8192;
/// 1.4826: MAD → standard deviation for normal data.
const MAD_SCALE: f64 = 1.482_602_218_505_602;
/// z of the 90th percentile of the normal distribution.
const Z90: f64 = 1.281_551_565_544_600_5;

/// The robust centre and scale of values (before floors): median and
/// max(1.4826·MAD, (P90 − median) / 1.2816). `sorted` must be sorted and non-empty.
pub fn centre_and_scale(sorted: &[f64]) -> (f64, f64) {
    let m = percentile_sorted(sorted, 0.5);
    let mut dev: Vec<f64> = sorted.iter().map(|x| (x - m).abs()).collect();
    dev.sort_by(f64::total_cmp);
    let mad = MAD_SCALE * percentile_sorted(&dev, 0.5);
    let tail = (percentile_sorted(sorted, 0.9) - m) / Z90;
    (m, mad.max(tail))
}

/// P(Binomial(n, q) ≥ k).
fn binomial_tail(n: usize, k: usize, q: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if q <= 0.0 {
        return 0.0;
    }
    if q >= 1.0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    if q > 0.5 {
        // The complement, so (1 − q)^n cannot underflow away the whole sum.
        return (1.0 - binomial_tail(n, n - k + 1, 1.0 - q)).clamp(0.0, 1.0);
    }
    // Σ_{j ≥ k} C(n, j) q^j (1 − q)^(n − j), summed directly (n is small here).
    let mut term = (1.0 - q).powi(n as i32); // j = 0
    let ratio = q / (1.0 - q);
    let mut sum = 0.0;
    for j in 0..=n {
        if j >= k {
            sum += term;
        }
        term *= ratio * (n - j) as f64 / (j + 1) as f64;
    }
    sum.min(1.0)
}

/// Chernoff's bound on P(Binomial(n, q) ≥ k): exp(−n·KL(k/n ‖ q)) when k/n > q, else 1.
fn chernoff_tail(n: usize, k: usize, q: f64) -> f64 {
    let a = k as f64 / n as f64;
    if q >= a {
        return 1.0;
    }
    if q <= 0.0 {
        return 0.0;
    }
    let kl = |x: f64, y: f64| if x <= 0.0 { 0.0 } else { x * (x / y).ln() };
    let d = kl(a, q) + kl(1.0 - a, 1.0 - q);
    (-(n as f64) * d).exp().min(1.0)
}

/// P(Z > x) for a standard normal Z.
fn normal_sf(x: f64) -> f64 {
    0.5 * statrs::function::erf::erfc(x / std::f64::consts::SQRT_2)
}

/// (baseline intervals, canary intervals, k, bits of the per-pair rate).
type CriticalKey = (usize, usize, usize, u64);

/// The critical robust z of `k` of `n_c` canary intervals against `n_b` baseline
/// intervals at per-pair false-alarm rate `p`, under the normal model (see the module
/// docs). Deterministic (a fixed-seed sample) and memoised for the process.
pub fn critical_z(n_b: usize, n_c: usize, k: usize, p: f64) -> f64 {
    static CACHE: OnceLock<Mutex<HashMap<CriticalKey, f64>>> = OnceLock::new();
    let key = (n_b, n_c, k, p.to_bits());
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(c) = cache.lock().map(|m| m.get(&key).copied()).ok().flatten() {
        return c;
    }
    let c = compute_critical_z(n_b.min(CALIBRATION_MAX), n_c, k, p);
    if let Ok(mut m) = cache.lock() {
        m.insert(key, c);
    }
    c
}

/// Simulated baselines' (centre, scale), shared.
type Draws = std::sync::Arc<Vec<(f64, f64)>>;

/// The centre and scale of [`DRAWS`] simulated normal baselines of `n_b` intervals
/// (fixed seed), memoised for the process.
fn baseline_draws(n_b: usize) -> Draws {
    static CACHE: OnceLock<Mutex<HashMap<usize, Draws>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(d) = cache.lock().ok().and_then(|m| m.get(&n_b).cloned()) {
        return d;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_ba4d);
    let mut draws = Vec::with_capacity(DRAWS);
    let mut b = vec![0.0; n_b.max(1)];
    for _ in 0..DRAWS {
        for x in b.iter_mut() {
            *x = StandardNormal.sample(&mut rng);
        }
        b.sort_by(f64::total_cmp);
        draws.push(centre_and_scale(&b));
    }
    let draws = std::sync::Arc::new(draws);
    if let Ok(mut m) = cache.lock() {
        m.insert(n_b, draws.clone());
    }
    draws
}

fn compute_critical_z(n_b: usize, n_c: usize, k: usize, p: f64) -> f64 {
    let draws = baseline_draws(n_b);
    let tail = |q: f64| {
        if n_c <= CALIBRATION_MAX {
            binomial_tail(n_c, k, q)
        } else {
            chernoff_tail(n_c, k, q)
        }
    };
    let rate = |c: f64| {
        draws
            .iter()
            .map(|&(m, s)| tail(normal_sf(m + c * s)))
            .sum::<f64>()
            / DRAWS as f64
    };
    // The rate falls with c: bisect on ln c between 0.1 and 10⁶ scales.
    let (mut lo, mut hi) = (0.1f64.ln(), 1e6f64.ln());
    if rate(lo.exp()) <= p {
        return lo.exp();
    }
    // 24 halvings of ln 10⁷ leave c known to 1e-6 of itself; `hi` errs high (conservative).
    for _ in 0..24 {
        let mid = 0.5 * (lo + hi);
        if rate(mid.exp()) > p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi.exp()
}

/// Baselines up to this many intervals must be exceeded entirely (their maximum) for a
/// canary interval to count; longer ones up to their 95th percentile.
const WHOLE_RANGE_UP_TO: usize = 20;
/// The calibration simulates at most this many baseline intervals (fewer is conservative:
/// a smaller baseline's centre and scale are noisier) and binomial tails for at most this
/// many canary intervals (beyond, Chernoff's bound).
const CALIBRATION_MAX: usize = 32;

/// The value a canary interval must also exceed: the sorted baseline's maximum, or its
/// 95th percentile for a long baseline.
fn guard(sorted: &[f64]) -> f64 {
    if sorted.len() <= WHOLE_RANGE_UP_TO {
        sorted[sorted.len() - 1]
    } else {
        percentile_sorted(sorted, 0.95)
    }
}

/// What both sides are judged on (values on the judged scale).
#[derive(Clone, Copy)]
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
        } = *input;
        let sign = if up { 1.0 } else { -1.0 };
        let mut b: Vec<f64> = baseline.iter().map(|x| sign * x).collect();
        b.sort_by(f64::total_cmp);
        let (m, s) = centre_and_scale(&b);
        let floor = if self.config.log {
            self.config.floor
        } else {
            self.config.floor * m.abs()
        };
        let s = s
            .max(floor)
            .max(self.resolution_scaled(m * sign))
            .max(sampling_floor);
        let top = guard(&b);
        // Each interval's robust z, and whether it is beyond every baseline interval.
        let judged: Vec<(f64, bool)> = canary
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let v = sign * x;
                let s = s * widen.get(i).copied().unwrap_or(1.0);
                let z = if s > 0.0 {
                    (v - m) / s
                } else if v > m {
                    f64::INFINITY
                } else {
                    0.0
                };
                (z, v > top)
            })
            .collect();
        let share = p / rules.len().max(1) as f64;
        let outcomes: Vec<(usize, f64, usize)> = rules
            .iter()
            .map(|&k| {
                let critical = critical_z(b.len(), canary.len(), k, share);
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
        }
    }

    /// The pair without the intervals of fewer than `min_requests` requests (when it
    /// carries counts), and how many were dropped. An interval whose count is missing is
    /// kept.
    fn enough_requests(&self, pair: &MetricPair) -> (MetricPair, usize) {
        let min = self.config.min_requests;
        let mut dropped = 0;
        let mut keep = |s: &Sample| -> Sample {
            if min <= 0.0 {
                return s.clone();
            }
            let ok = |n: f64| n.is_nan() || n >= min;
            match s {
                Sample::Aggregates { values, requests } => {
                    let idx: Vec<usize> = (0..values.len()).filter(|&i| ok(requests[i])).collect();
                    dropped += values.len() - idx.len();
                    Sample::Aggregates {
                        values: idx.iter().map(|&i| values[i]).collect(),
                        requests: idx.iter().map(|&i| requests[i]).collect(),
                    }
                }
                Sample::Counts { events, totals } => {
                    let idx: Vec<usize> = (0..events.len()).filter(|&i| ok(totals[i])).collect();
                    dropped += events.len() - idx.len();
                    Sample::Counts {
                        events: idx.iter().map(|&i| events[i]).collect(),
                        totals: idx.iter().map(|&i| totals[i]).collect(),
                    }
                }
                other => other.clone(),
            }
        };
        let kept = MetricPair {
            baseline: keep(&pair.baseline),
            canary: keep(&pair.canary),
        };
        (kept, dropped)
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
        let (kept, dropped) = self.enough_requests(pair);
        let pair = &kept;
        let prep = Prepared::new(options, pair);
        if let Some(which) = prep.missing_arms() {
            let mut j = prep.no_data(options, which);
            if dropped > 0 {
                j.reason = format!(
                    "{}; {dropped} intervals of fewer than {} requests are no evidence",
                    j.reason,
                    num(self.config.min_requests)
                );
            }
            return j;
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
            return j;
        }
        if c.log
            && let Some((arm, v)) = [("baseline", &prep.baseline), ("canary", &prep.canary)]
                .into_iter()
                .find_map(|(arm, v)| v.iter().find(|x| **x <= 0.0).map(|x| (arm, *x)))
        {
            return prep.judgement(
                Classification::Error,
                format!("log = true needs positive values; the {arm} has {}", num(v)),
            );
        }
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
        let back = |x: f64| {
            if c.log { x.exp() } else { x }
        };
        let (b, k_values) = (scale(&prep.baseline), scale(&prep.canary));
        // A share of R requests (the baseline's usual) spreads at least √(q(1 − q) / R)
        // from binomial sampling alone. q is the baseline's pooled minority share at its
        // 95% upper (Clopper–Pearson) bound — toward ½ — so a baseline that happened to
        // see no failure is not taken for one that cannot fail.
        let sampling_floor = match (c.proportion, widening.requests) {
            (Some(_), Some((r, _))) if r > 0.0 => {
                let (mut share, mut total) = (0.0, 0.0);
                for (x, n) in prep.baseline.iter().zip(&widening.baseline_requests) {
                    if n.is_finite() {
                        share += (x / unit).clamp(0.0, 1.0) * n;
                        total += n;
                    }
                }
                let minority = share.min(total - share).max(0.0);
                let q = clopper_pearson(minority, total, 0.05, true).min(0.5);
                unit * (q * (1.0 - q) / r).sqrt()
            }
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
        let input = SideInput {
            baseline: &b,
            canary: &k_values,
            widen: &widening.factors,
            p,
            rules: &rules,
            sampling_floor,
        };
        let side = |up: bool| self.side(&input, up);
        let high = up.then(|| side(true));
        let low = down.then(|| side(false));
        let fails = |s: &Option<Side>| s.as_ref().is_some_and(|s| s.beyond >= s.k);
        let classification = match (fails(&high), fails(&low)) {
            (true, true) => {
                if high.as_ref().map(|s| s.beyond) >= low.as_ref().map(|s| s.beyond) {
                    Classification::High
                } else {
                    Classification::Low
                }
            }
            (true, false) => Classification::High,
            (false, true) => Classification::Low,
            (false, false) => Classification::Pass,
        };
        // The side the reason speaks of: the failing one, else the one nearer to failing.
        let (shown, is_low) = match (&high, &low) {
            (Some(h), Some(l)) => match classification {
                Classification::Low => (l, true),
                Classification::High => (h, false),
                _ if l.z > h.z => (l, true),
                _ => (h, false),
            },
            (Some(h), None) => (h, false),
            (None, Some(l)) => (l, true),
            (None, None) => {
                return prep.judgement(Classification::Error, "no direction is watched");
            }
        };
        let mut sorted_b = b.clone();
        sorted_b.sort_by(f64::total_cmp);
        let mut sorted_c = k_values.clone();
        sorted_c.sort_by(f64::total_cmp);
        let usual = back(percentile_sorted(&sorted_b, 0.5));
        let canary_median = back(percentile_sorted(&sorted_c, 0.5));
        let edge = back(shown.edge);
        let word = if is_low { "below" } else { "above" };
        let pairs_text = if self.pairs > 1 {
            format!("α {} shared by {} pairs", num(c.alpha), self.pairs)
        } else {
            format!("α {}", num(c.alpha))
        };
        let k = shown.k;
        let scan = if shown.rules > 1 {
            format!(
                " (rules for {} to {n} of {n} intervals share α; fewer intervals need a wider band)",
                n + 1 - shown.rules
            )
        } else {
            String::new()
        };
        let reason = format!(
            "canary median {} vs usual {} (median of {} baseline intervals): {} of {n} intervals {word} the band's edge {} ({} robust scales{}), {k} needed{scan}; robust z {}{}; {pairs_text}",
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
        j.judged = Some(Judged {
            quantity: "median interval".into(),
            baseline: Some(usual),
            canary: Some(canary_median),
            checks: vec![
                Check::value("robust z", signed_z, zmin, zmax),
                Check::value(
                    format!("intervals {word} {} (of {n})", num(edge)),
                    shown.beyond as f64,
                    None,
                    Some(k as f64 - 1.0),
                ),
            ],
            rule: Some(if shown.rules > 1 {
                format!(
                    "fails when, for some k from {} to {n}, at least k of {n} intervals are beyond that k's band (α split over the {} rules) and beyond every baseline interval",
                    n + 1 - shown.rules,
                    shown.rules
                )
            } else {
                format!(
                    "fails when at least {k} of {n} intervals are beyond the band and beyond every baseline interval"
                )
            }),
            ruled_out: Vec::new(),
        });
        j
    }
}

/// How much wider the band is for each canary interval: aggregates of fewer requests
/// scatter more. Under the model value = level + between-interval noise + sampling noise
/// with variance ∝ 1 / requests, a canary interval of r requests against baseline
/// intervals of typically R (their median) has a spread at most √(R / r) times the
/// baseline's, whatever the split between the two noises — so scaling the band by
/// max(1, √(R / r)) keeps the false-alarm bound (the oracle test checks it by
/// simulation). Canary intervals of more requests are not given a narrower band.
struct Widening {
    /// One factor ≥ 1 per prepared (sorted) canary value; empty when the pair carries no
    /// request counts.
    factors: Vec<f64>,
    /// Median requests per interval: baseline, canary.
    requests: Option<(f64, f64)>,
    /// The requests behind each prepared (sorted) baseline value, NaN where unknown;
    /// empty when the pair carries no request counts.
    baseline_requests: Vec<f64>,
}

impl Widening {
    fn of(pair: &MetricPair, prepared_baseline: &[f64], prepared_canary: &[f64]) -> Self {
        let none = Widening {
            factors: Vec::new(),
            requests: None,
            baseline_requests: Vec::new(),
        };
        // Aggregates carry their requests; event counts their totals (a rate of fewer
        // requests scatters more, too).
        let weighted = |s: &Sample| -> Option<(Vec<f64>, Vec<f64>)> {
            match s {
                Sample::Aggregates { values, requests } => Some((values.clone(), requests.clone())),
                Sample::Counts { totals, .. } => Some((s.values(), totals.clone())),
                _ => None,
            }
        };
        let (Some((bv, br)), Some((cv, cr))) = (weighted(&pair.baseline), weighted(&pair.canary))
        else {
            return none;
        };
        // Intervals with a value; a request count that is missing (NaN) leaves its
        // interval unwidened.
        let finite = |v: &[f64], r: &[f64]| -> Vec<(f64, f64)> {
            v.iter()
                .zip(r)
                .filter(|(x, _)| x.is_finite())
                .map(|(x, n)| (*x, *n))
                .collect()
        };
        let median = |pairs: &[(f64, f64)]| -> f64 {
            let mut r: Vec<f64> = pairs
                .iter()
                .map(|p| p.1)
                .filter(|n| n.is_finite())
                .collect();
            r.sort_by(f64::total_cmp);
            if r.is_empty() {
                f64::NAN
            } else {
                percentile_sorted(&r, 0.5)
            }
        };
        let base = finite(&bv, &br);
        let reference = median(&base);
        if reference.is_nan() || reference <= 0.0 {
            return none;
        }
        let mut canary = finite(&cv, &cr);
        canary.sort_by(|a, b| a.0.total_cmp(&b.0));
        let factor = |n: f64| {
            if n.is_nan() {
                1.0
            } else if n > 0.0 {
                (reference / n).sqrt().max(1.0)
            } else {
                // A value summarising no request is no evidence.
                f64::INFINITY
            }
        };
        // Requests per prepared value: aligned when the preparation kept every value (NaN
        // where not).
        let requests_of = |mut raw: Vec<(f64, f64)>, prepared: &[f64]| -> Vec<f64> {
            raw.sort_by(|a, b| a.0.total_cmp(&b.0));
            if raw.len() == prepared.len() && raw.iter().zip(prepared).all(|(a, b)| a.0 == *b) {
                raw.iter().map(|p| p.1).collect()
            } else {
                vec![f64::NAN; prepared.len()]
            }
        };
        let baseline_requests = requests_of(base.clone(), prepared_baseline);
        let aligned = canary.len() == prepared_canary.len()
            && canary.iter().zip(prepared_canary).all(|(a, b)| a.0 == *b);
        let factors = if aligned {
            canary.iter().map(|p| factor(p.1)).collect()
        } else {
            // The NaN strategy or outlier removal changed the values: every interval gets
            // the widest factor, which keeps the bound.
            let widest = canary.iter().map(|p| factor(p.1)).fold(1.0, f64::max);
            vec![widest; prepared_canary.len()]
        };
        Widening {
            factors,
            requests: Some((reference, median(&canary))),
            baseline_requests,
        }
    }

    /// "; canary intervals of fewer requests (median 310 vs 30000) judged on a scale up
    /// to 9.8× wider", or nothing when no interval was widened.
    fn sentence(&self) -> String {
        let widest = self.factors.iter().copied().fold(1.0, f64::max);
        match self.requests {
            Some((base, canary)) if widest > 1.0 => format!(
                "; canary intervals of fewer requests (median {} vs {}) judged on a scale up to {}× wider",
                num(canary),
                num(base),
                num(widest)
            ),
            _ => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomial_tails_match_the_incomplete_beta_function() {
        for n in [1usize, 4, 12, 32] {
            for k in 1..=n {
                for q in [1e-9, 1e-3, 0.2, 0.5, 0.7, 0.999] {
                    let exact = statrs::function::beta::beta_reg(k as f64, (n - k + 1) as f64, q);
                    let ours = binomial_tail(n, k, q);
                    assert!(
                        (ours - exact).abs() <= 1e-12 + 1e-9 * exact,
                        "n {n} k {k} q {q}: {ours} vs {exact}"
                    );
                }
            }
        }
        // Chernoff's bound is a bound.
        for q in [0.01, 0.2, 0.45] {
            let exact = statrs::function::beta::beta_reg(150.0, 151.0, q);
            assert!(chernoff_tail(300, 150, q) >= exact);
        }
    }

    #[test]
    fn rules_run_from_two_to_n_unless_one_is_set() {
        let j = BandJudge::new(BandConfig::default());
        assert_eq!(j.rules(1), [1]);
        assert_eq!(j.rules(2), [2]);
        assert_eq!(j.rules(5), [2, 3, 4, 5]);
        assert_eq!(j.rules(12), (2..=12).collect::<Vec<_>>());
        assert_eq!(j.rules(40), [2, 3, 4, 10, 20, 40]);
        assert_eq!(j.rules(13), [2, 3, 4, 7, 13]);
        let j = BandJudge::new(BandConfig {
            min_beyond: Some(9),
            ..Default::default()
        });
        assert_eq!(j.rules(4), [4], "never more than there are");
    }

    #[test]
    fn scale_sees_bursts_but_not_one_outlier() {
        let mut calm = vec![
            1.0, 1.01, 0.99, 1.02, 0.98, 1.0, 1.01, 0.99, 1.0, 1.0, 1.0, 9.0,
        ];
        calm.sort_by(f64::total_cmp);
        let (m, s) = centre_and_scale(&calm);
        assert!((m - 1.0).abs() < 1e-9 && s < 0.05, "{m} {s}");
        let mut bursty = vec![
            1.0, 1.01, 0.99, 1.02, 0.98, 1.0, 1.01, 0.99, 1.0, 5.0, 5.0, 5.0,
        ];
        bursty.sort_by(f64::total_cmp);
        let (_, s) = centre_and_scale(&bursty);
        assert!(s > 1.0, "{s}");
    }

    #[test]
    fn critical_values_fall_with_more_baseline_and_rise_with_smaller_alpha() {
        let a = critical_z(6, 4, 2, 1e-3);
        let b = critical_z(12, 4, 2, 1e-3);
        let c = critical_z(12, 4, 2, 1e-5);
        assert!(a > b && c > b, "{a} {b} {c}");
        assert_eq!(critical_z(12, 4, 2, 1e-3), b, "memoised and deterministic");
    }
}
