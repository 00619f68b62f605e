//! Latency-like distributions: is the canary slower (or faster) than the baseline by more
//! than a tolerance, at any time, with a guaranteed error rate?
//!
//! Each arm's empirical CDF carries a time-uniform band (Howard & Ramdas 2022):
//! |F̂_t(x) − F(x)| ≤ ε_t for all x and all t, except with probability α_arm. From the
//! two bands follow, simultaneously and at every time,
//! - bounds on every quantile: Q(p) ∈ [Q̂(p − ε), Q̂(p + ε)], so the ratio
//!   Q_canary(p) / Q_baseline(p) lies in [Q̂_B(p − ε_B) / Q̂_A(p + ε_A), Q̂_B(p + ε_B) / Q̂_A(p − ε_A)];
//! - "canary slower beyond tolerance": some p where the canary's lower bound exceeds
//!   (1 + tol) × the baseline's upper bound — checked at every p, not only configured ones.
//!
//! Tail quantiles (p99) get a tighter fixed-quantile confidence sequence: the count of
//! observations below the true quantile is a binomial process, bounded by the
//! polynomial-stitching boundary with variance p(1 − p)·t and the sub-gamma scale of each
//! tail, which adapts to p(1 − p) instead of the uniform band's worst case.
//!
//! Data arrive as bucket counts (Prometheus histograms, or raw samples folded into
//! log-spaced buckets); every bound is rounded outward to a bucket edge, so bucketing
//! costs width, never validity.

use serde::Serialize;
use statrs::distribution::{Binomial, DiscreteCDF};

use super::boundaries::{cdf_band, poly_stitching};
use super::histogram::{ArmHistogram, Buckets};
use crate::options::Direction;
use crate::stats::clopper_pearson;

/// Polynomial stitching parameters for tail quantiles (confseq's defaults).
const STITCH_S: f64 = 1.4;
const STITCH_ETA: f64 = 2.0;
const STITCH_V_MIN: f64 = 1.0;

/// Bounds on one quantile of both arms and on their ratio.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct QuantileBounds {
    pub p: f64,
    /// Whether the fixed-quantile sequence (tail) or the uniform band gave the bounds.
    pub tail: bool,
    pub baseline: [f64; 2],
    pub canary: [f64; 2],
    /// Bounds on Q_canary(p) / Q_baseline(p).
    pub ratio: [f64; 2],
    /// Point estimate of that ratio (bucket midpoints of the empirical quantiles).
    pub estimate: f64,
}

/// Where a histogram's buckets are too coarse to prove a quantile's pass band (the bucket
/// holding the quantile is wider than the band), the horizon's equivalence test holds the
/// share of observations above that bucket's upper edge instead, SLO-style: "above 0.25:
/// 4.1% → 4.3%, rules out > +1 point". The quantile's band b becomes b·(1 − p) points: the
/// canary may exceed the edge at most that much more often than the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ShareBounds {
    /// The quantile this stands in for.
    pub p: f64,
    /// The bucket edge: the share is of observations above it.
    pub above: f64,
    /// The observed shares above it, `[baseline, canary]`.
    pub share: [f64; 2],
    /// Bounds on share_canary − share_baseline (Clopper–Pearson per arm at α/2 each).
    pub difference: [f64; 2],
    /// The band in share points (a fraction): b·(1 − p).
    pub band: f64,
}

/// What the distribution test can say now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// Proven worse than the tolerance allows in a watched direction: higher (slower)
    /// or lower.
    Worse { higher: bool },
    /// Proven within the tolerance at every configured quantile.
    Within,
    /// Not enough evidence either way.
    Undecided,
}

/// Streaming two-arm distribution test.
#[derive(Debug, Clone)]
pub struct DistributionTest {
    buckets: Buckets,
    arms: [ArmHistogram; 2],
    /// α of each arm's uniform band.
    alpha_band: f64,
    /// α of each side of each arm's fixed-quantile sequence, per tail quantile.
    alpha_tail: f64,
    quantiles: Vec<f64>,
    fixed_quantiles: Vec<f64>,
    tolerance: f64,
    /// Pass band per quantile, (p, band); a quantile not listed uses `tolerance`.
    pass_bands: Vec<(f64, f64)>,
    direction: Direction,
}

impl DistributionTest {
    /// `alpha` is this metric's whole false-alarm budget; it is split between the uniform
    /// bands (half, or all without tail quantiles) and the tail sequences.
    pub fn new(
        buckets: Buckets,
        alpha: f64,
        tolerance: f64,
        quantiles: Vec<f64>,
        fixed_quantiles: Vec<f64>,
        direction: Direction,
    ) -> Self {
        let (band_share, tail_share) = if fixed_quantiles.is_empty() {
            (alpha, 0.0)
        } else {
            (alpha / 2.0, alpha / 2.0)
        };
        let n = buckets.len();
        DistributionTest {
            buckets,
            arms: [ArmHistogram::new(n), ArmHistogram::new(n)],
            alpha_band: band_share / 2.0,
            alpha_tail: if fixed_quantiles.is_empty() {
                0.0
            } else {
                tail_share / (4.0 * fixed_quantiles.len() as f64)
            },
            quantiles,
            fixed_quantiles,
            tolerance,
            pass_bands: Vec::new(),
            direction,
        }
    }

    /// Pass bands per quantile, (p, band): the canary passes once every quantile's ratio
    /// interval lies inside its own band (a quantile not listed uses the fail band).
    pub fn with_pass_bands(mut self, bands: Vec<(f64, f64)>) -> Self {
        self.pass_bands = bands;
        self
    }

    /// The pass band of quantile `p`.
    pub fn pass_band(&self, p: f64) -> f64 {
        self.pass_bands
            .iter()
            .find(|(q, _)| (q - p).abs() < 1e-9)
            .map_or(self.tolerance, |(_, b)| *b)
    }

    pub fn buckets(&self) -> &Buckets {
        &self.buckets
    }

    /// Add a batch of bucket counts for arm 0 (baseline) or 1 (canary).
    pub fn add_counts(&mut self, arm: usize, counts: &[f64]) {
        self.arms[arm].add_counts(counts);
    }

    /// Add raw observations to an arm through a bucket index function.
    pub fn add_values(&mut self, arm: usize, values: &[f64], index: impl Fn(f64) -> usize) {
        for &v in values {
            if v.is_finite() {
                self.arms[arm].add_one(index(v));
            }
        }
    }

    /// Observations so far per arm.
    pub fn totals(&self) -> [f64; 2] {
        [self.arms[0].total(), self.arms[1].total()]
    }

    /// The uniform band half-widths per arm now.
    pub fn epsilons(&self) -> [f64; 2] {
        [
            cdf_band(self.arms[0].total(), self.alpha_band),
            cdf_band(self.arms[1].total(), self.alpha_band),
        ]
    }

    /// Quantile bounds from the uniform band: [largest bound x with F̂(x) + ε < p,
    /// smallest bound x with F̂(x) − ε ≥ p].
    fn band_bounds(&self, cum: &[f64], total: f64, eps: f64, p: f64) -> [f64; 2] {
        if total <= 0.0 {
            return [self.buckets.floor(), f64::INFINITY];
        }
        let bounds = self.buckets.bounds();
        let below = cum.partition_point(|c| c / total + eps < p);
        let lo = if below == 0 {
            self.buckets.floor()
        } else {
            bounds[below - 1]
        };
        let hi_ix = cum.partition_point(|c| c / total - eps < p);
        let hi = if hi_ix < bounds.len() {
            bounds[hi_ix]
        } else {
            f64::INFINITY
        };
        [lo, hi]
    }

    /// Quantile bounds from the fixed-quantile sequence (order-statistic indices from the
    /// stitching boundary, rounded outward to bucket edges).
    fn tail_bounds(&self, cum: &[f64], total: f64, p: f64) -> [f64; 2] {
        if total <= 0.0 {
            return [self.buckets.floor(), f64::INFINITY];
        }
        let v = p * (1.0 - p) * total;
        let up = poly_stitching(
            v,
            self.alpha_tail,
            STITCH_V_MIN,
            (1.0 - p) / 3.0,
            STITCH_S,
            STITCH_ETA,
        );
        let down = poly_stitching(
            v,
            self.alpha_tail,
            STITCH_V_MIN,
            p / 3.0,
            STITCH_S,
            STITCH_ETA,
        );
        // At least a = ⌊tp − u⁻⌋ + 1 observations lie at or below Q(p): Q(p) ≥ X₍ₐ₎.
        // Fewer than b = ⌈tp + u⁺⌉ lie at or below it: Q(p) ≤ X₍b₎.
        self.rank_bounds(
            cum,
            total,
            (total * p - down).floor() + 1.0,
            (total * p + up).ceil(),
        )
    }

    /// [X₍ₐ₎, X₍b₎] rounded outward to bucket edges: the lower edge of the bucket holding
    /// the a-th smallest observation and the upper edge of the one holding the b-th.
    fn rank_bounds(&self, cum: &[f64], total: f64, a: f64, b: f64) -> [f64; 2] {
        let bounds = self.buckets.bounds();
        let lo = if a <= 0.0 {
            self.buckets.floor()
        } else {
            let below = cum.partition_point(|c| *c < a);
            if below == 0 {
                self.buckets.floor()
            } else {
                bounds[below - 1]
            }
        };
        let hi = if b > total {
            f64::INFINITY
        } else {
            let ix = cum.partition_point(|c| *c < b);
            if ix < bounds.len() {
                bounds[ix]
            } else {
                f64::INFINITY
            }
        };
        [lo, hi]
    }

    /// Fixed-sample (one look) bounds on Q(p): the order statistics X₍ₐ₎ ≤ Q(p) ≤ X₍b₎
    /// with a = the largest rank with P(Bin(n, p) ≤ a − 1) ≤ α and b = the smallest with
    /// P(Bin(n, p) ≥ b) ≤ α, so each side errs with probability ≤ α (exact, distribution
    /// free; ties and bucketing only widen them).
    fn fixed_sample_bounds(&self, cum: &[f64], total: f64, p: f64, alpha: f64) -> [f64; 2] {
        let n = total.round();
        if n < 1.0 {
            return [self.buckets.floor(), f64::INFINITY];
        }
        let Ok(bin) = Binomial::new(p, n as u64) else {
            return [self.buckets.floor(), f64::INFINITY];
        };
        // The smallest m with P(Bin ≤ m) ≥ α: P(Bin ≤ m − 1) < α, so a = m.
        let a = bin.inverse_cdf(alpha) as f64;
        // b − 1 = the smallest m with P(Bin ≤ m) ≥ 1 − α.
        let b = bin.inverse_cdf(1.0 - alpha) as f64 + 1.0;
        self.rank_bounds(cum, total, a, b)
    }

    /// Bounds on every quantile (configured and fixed) from one look at the data, each
    /// ratio bound erring with probability ≤ `alpha` (α/2 per arm): what
    /// [`DistributionTest::horizon_within`] holds against the pass bands.
    pub fn fixed_sample_quantile_bounds(&self, alpha: f64) -> Vec<QuantileBounds> {
        let cum = [self.arms[0].cumulative(), self.arms[1].cumulative()];
        let totals = self.totals();
        let mut ps: Vec<f64> = self.quantiles.clone();
        for &p in &self.fixed_quantiles {
            if !ps.contains(&p) {
                ps.push(p);
            }
        }
        ps.sort_by(f64::total_cmp);
        ps.into_iter()
            .map(|p| {
                let a = self.fixed_sample_bounds(&cum[0], totals[0], p, alpha / 2.0);
                let b = self.fixed_sample_bounds(&cum[1], totals[1], p, alpha / 2.0);
                QuantileBounds {
                    p,
                    tail: false,
                    baseline: a,
                    canary: b,
                    ratio: [ratio(b[0], a[1]), ratio(b[1], a[0])],
                    estimate: ratio(
                        self.point(&cum[1], totals[1], p),
                        self.point(&cum[0], totals[0], p),
                    ),
                }
            })
            .collect()
    }

    /// The horizon's equivalence test, one look: whether every quantile's fixed-sample
    /// ratio interval (level `alpha` per side) lies inside its pass band on the watched
    /// sides, with those bounds. A promotion errs only when some quantile's true ratio
    /// is beyond its band while that quantile's bound is inside it — probability ≤ α
    /// whatever the number of quantiles (intersection–union: every one must pass).
    ///
    /// A quantile whose bucket is wider than its band can never be proven inside it; for
    /// it the shares above that bucket's edges are held to the band instead
    /// ([`ShareBounds`]), and those bounds are returned too.
    pub fn horizon_within(&self, alpha: f64) -> (bool, Vec<QuantileBounds>, Vec<ShareBounds>) {
        let bounds = self.fixed_sample_quantile_bounds(alpha);
        let (up, down) = (
            self.direction.watches_increase(),
            self.direction.watches_decrease(),
        );
        let inside = |k: f64, r: [f64; 2]| (!up || r[1] <= k) && (!down || r[0] >= 1.0 / k);
        let mut shares = Vec::new();
        let mut within = !bounds.is_empty();
        for q in &bounds {
            let band = self.pass_band(q.p);
            match self.coarse_edge(q.p, 1.0 + band) {
                // Too coarse for the quantile's band: its share above the upper edge.
                Some(Some(above)) => {
                    let s = self.share_bounds(q.p, above, band * (1.0 - q.p), alpha);
                    within &=
                        (!up || s.difference[1] <= s.band) && (!down || s.difference[0] >= -s.band);
                    shares.push(s);
                }
                // Too coarse, and the quantile lies in the open top bucket: nothing the
                // buckets show can prove it.
                Some(None) => within = false,
                None => within &= inside(1.0 + band, q.ratio),
            }
        }
        (within, bounds, shares)
    }

    /// When the bucket holding the pooled p-quantile is wider than the ratio `k` (its upper
    /// edge over its lower edge, or a lower edge of 0) no quantile bound built from these
    /// buckets can lie inside the band: `Some(its upper edge)` then (`Some(None)` for the
    /// open top bucket), `None` when the buckets are fine enough.
    fn coarse_edge(&self, p: f64, k: f64) -> Option<Option<f64>> {
        let (c0, c1) = (self.arms[0].cumulative(), self.arms[1].cumulative());
        let total = self.arms[0].total() + self.arms[1].total();
        if total <= 0.0 {
            return None;
        }
        let j = c0.iter().zip(&c1).position(|(a, b)| a + b >= p * total)?;
        let (lo, hi) = (self.buckets.lower_edge(j), self.buckets.bounds()[j]);
        if lo > 0.0 && hi.is_finite() && hi / lo <= k {
            return None;
        }
        Some(hi.is_finite().then_some(hi))
    }

    /// The shares of each arm above bucket edge `above`, and bounds on their difference:
    /// an exact one-sided Clopper–Pearson bound per arm at α/2 (the canary's upper minus
    /// the baseline's lower, and the reverse), so each side errs with probability ≤ α.
    fn share_bounds(&self, p: f64, above: f64, band: f64, alpha: f64) -> ShareBounds {
        let ix = self.buckets.bounds().partition_point(|b| *b < above);
        let arm = |i: usize| {
            let total = self.arms[i].total();
            let below = self.arms[i].cumulative().get(ix).copied().unwrap_or(total);
            ((total - below).max(0.0), total)
        };
        let [(kb, nb), (kc, nc)] = [arm(0), arm(1)];
        let share = |k: f64, n: f64| if n > 0.0 { k / n } else { f64::NAN };
        let a = alpha / 2.0;
        ShareBounds {
            p,
            above,
            share: [share(kb, nb), share(kc, nc)],
            difference: [
                clopper_pearson(kc, nc, a, false) - clopper_pearson(kb, nb, a, true),
                clopper_pearson(kc, nc, a, true) - clopper_pearson(kb, nb, a, false),
            ],
            band,
        }
    }

    /// The empirical p-quantile, interpolated within its bucket by the share of the
    /// bucket's observations below rank p·n — geometrically (the buckets are judged by
    /// ratios), linearly from a lower edge of 0, and the lower edge in the open top bucket
    /// (NaN when empty). With fine buckets this is within a bucket's width of the exact
    /// empirical quantile; with classic ones (100–250 ms) it is what Prometheus'
    /// `histogram_quantile` would say, not the bucket's midpoint for every quantile in it.
    fn point(&self, cum: &[f64], total: f64, p: f64) -> f64 {
        if total <= 0.0 {
            return f64::NAN;
        }
        let rank = p * total;
        let j = cum.partition_point(|c| *c < rank).min(cum.len() - 1);
        let (lo, hi) = (self.buckets.lower_edge(j), self.buckets.bounds()[j]);
        let below = if j == 0 { 0.0 } else { cum[j - 1] };
        let inside = cum[j] - below;
        let frac = if inside > 0.0 {
            ((rank - below) / inside).clamp(0.0, 1.0)
        } else {
            0.5
        };
        match (lo > 0.0, hi.is_finite()) {
            (true, true) => lo * (hi / lo).powf(frac),
            (_, false) => lo,
            (false, true) => hi * frac,
        }
    }

    /// Bounds on every configured quantile now.
    pub fn quantile_bounds(&self) -> Vec<QuantileBounds> {
        let cum = [self.arms[0].cumulative(), self.arms[1].cumulative()];
        let totals = self.totals();
        let eps = self.epsilons();
        let mut ps: Vec<(f64, bool)> = self.quantiles.iter().map(|&p| (p, false)).collect();
        for &p in &self.fixed_quantiles {
            match ps.iter_mut().find(|(q, _)| *q == p) {
                Some(entry) => entry.1 = true,
                None => ps.push((p, true)),
            }
        }
        ps.sort_by(|a, b| a.0.total_cmp(&b.0));
        ps.into_iter()
            .map(|(p, tail)| {
                let arm = |i: usize| {
                    let band = self.band_bounds(&cum[i], totals[i], eps[i], p);
                    if tail {
                        // Both sequences hold simultaneously: intersect them.
                        let t = self.tail_bounds(&cum[i], totals[i], p);
                        [band[0].max(t[0]), band[1].min(t[1])]
                    } else {
                        band
                    }
                };
                let (a, b) = (arm(0), arm(1));
                let estimate = ratio(
                    self.point(&cum[1], totals[1], p),
                    self.point(&cum[0], totals[0], p),
                );
                QuantileBounds {
                    p,
                    tail,
                    baseline: a,
                    canary: b,
                    ratio: [ratio(b[0], a[1]), ratio(b[1], a[0])],
                    estimate,
                }
            })
            .collect()
    }

    /// Is the canary slower (`slower = true`) or faster than `factor` × the baseline at
    /// some quantile, by the uniform bands? Slower beyond `factor` means F_A(x) > F_B(factor·x)
    /// for some x: proven when F̂_A(x) − ε_A > F̂_B(x′) + ε_B at a bucket bound x, with x′
    /// the first bound ≥ factor·x (F_B(factor·x) ≤ F_B(x′)). With factor 1 the two CDFs are
    /// compared at the same bounds, so bucketing costs nothing. Faster mirrors it.
    pub fn uniform_beyond(&self, slower: bool, factor: f64) -> bool {
        let (ta, tb) = (self.arms[0].total(), self.arms[1].total());
        if ta <= 0.0 || tb <= 0.0 {
            return false;
        }
        let [ea, eb] = self.epsilons();
        let (ca, cb) = (self.arms[0].cumulative(), self.arms[1].cumulative());
        // `hi` is the arm that must be proven to have more mass below x.
        let (hi, hi_t, hi_e, lo, lo_t, lo_e) = if slower {
            (&ca, ta, ea, &cb, tb, eb)
        } else {
            (&cb, tb, eb, &ca, ta, ea)
        };
        let x = self.buckets.bounds();
        let mut j = 0;
        for i in 0..x.len() {
            let lower_bound_hi = hi[i] / hi_t - hi_e;
            if lower_bound_hi <= 0.0 {
                continue;
            }
            let target = factor * x[i];
            while j < x.len() && x[j] < target {
                j += 1;
            }
            if j == x.len() {
                break;
            }
            if lower_bound_hi > lo[j] / lo_t + lo_e {
                return true;
            }
        }
        false
    }

    /// Whether a difference is significant now, `[slower, faster]`, each only when its
    /// direction is watched: a uniform-band sweep or a quantile's interval excludes "no
    /// change". `bounds` are [`DistributionTest::quantile_bounds`] of now.
    pub fn significance(&self, bounds: &[QuantileBounds]) -> [bool; 2] {
        [
            self.direction.watches_increase()
                && (self.uniform_beyond(true, 1.0) || bounds.iter().any(|q| q.ratio[0] > 1.0)),
            self.direction.watches_decrease()
                && (self.uniform_beyond(false, 1.0) || bounds.iter().any(|q| q.ratio[1] < 1.0)),
        ]
    }

    /// The finding now, in the configured direction: **worse** when a difference in the
    /// bad direction is significant (a uniform-band sweep or a quantile's interval
    /// excludes "no change") *and* some configured quantile's estimated ratio lies beyond
    /// the band; **within** when every quantile's interval lies inside its pass band.
    pub fn finding(&self) -> (Finding, Vec<QuantileBounds>) {
        let bounds = self.quantile_bounds();
        let k = 1.0 + self.tolerance;
        let up = self.direction.watches_increase();
        let down = self.direction.watches_decrease();
        let [sig_slower, sig_faster] = self.significance(&bounds);
        let slower = sig_slower && bounds.iter().any(|q| q.estimate > k);
        let faster = sig_faster && bounds.iter().any(|q| q.estimate < 1.0 / k);
        if slower || faster {
            return (Finding::Worse { higher: slower }, bounds);
        }
        let within = !bounds.is_empty()
            && bounds.iter().all(|q| {
                let k = 1.0 + self.pass_band(q.p);
                (!up || q.ratio[1] <= k) && (!down || q.ratio[0] >= 1.0 / k)
            });
        (
            if within {
                Finding::Within
            } else {
                Finding::Undecided
            },
            bounds,
        )
    }
}

/// a / b for positive quantities; +∞ when b ≤ 0 < a, 0 when a ≤ 0.
fn ratio(a: f64, b: f64) -> f64 {
    if a <= 0.0 {
        0.0
    } else if b <= 0.0 {
        f64::INFINITY
    } else {
        a / b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sequential::histogram::LogIndex;

    fn test_with(tail: bool) -> (DistributionTest, LogIndex) {
        let buckets = Buckets::log_spaced(1e-3, 1e5, 0.01);
        let ix = LogIndex::new(1e-3, 0.01, &buckets);
        let tails = if tail { vec![0.99] } else { vec![] };
        (
            DistributionTest::new(
                buckets,
                0.01,
                0.1,
                vec![0.5, 0.9, 0.99],
                tails,
                Direction::Increase,
            ),
            ix,
        )
    }

    /// Deterministic "lognormal" sample by inverse-CDF on a regular grid of probabilities.
    fn lognormal(n: usize, median: f64) -> Vec<f64> {
        (0..n)
            .map(|i| {
                let u = (i as f64 + 0.5) / n as f64;
                // Logistic approximation of the normal quantile is plenty for a test.
                let z = (u / (1.0 - u)).ln() / 1.702;
                median * (0.5 * z).exp()
            })
            .collect()
    }

    #[test]
    fn identical_arms_end_within_the_band() {
        let (mut t, ix) = test_with(true);
        let v = lognormal(200_000, 100.0);
        t.add_values(0, &v, |x| ix.index(x));
        t.add_values(1, &v, |x| ix.index(x));
        let (finding, bounds) = t.finding();
        assert_eq!(finding, Finding::Within, "{bounds:?}");
        for q in &bounds {
            assert!(q.ratio[0] <= 1.0 && q.ratio[1] >= 1.0, "{q:?}");
        }
    }

    #[test]
    fn a_fifty_percent_slowdown_is_worse_and_ratio_bounds_cover_it() {
        let (mut t, ix) = test_with(true);
        t.add_values(0, &lognormal(5_000, 100.0), |x| ix.index(x));
        t.add_values(1, &lognormal(5_000, 150.0), |x| ix.index(x));
        let (finding, bounds) = t.finding();
        assert_eq!(finding, Finding::Worse { higher: true });
        for q in &bounds {
            assert!(
                q.ratio[0] <= 1.5 * 1.011 && q.ratio[1] >= 1.5 / 1.011,
                "{q:?}"
            );
        }
        assert!(t.uniform_beyond(true, 1.05));
        assert!(!t.uniform_beyond(false, 1.05));
    }

    #[test]
    fn tail_sequences_are_tighter_than_the_band_at_p99() {
        let (mut with_tail, ix) = test_with(true);
        let (mut band_only, _) = test_with(false);
        let v = lognormal(50_000, 100.0);
        for t in [&mut with_tail, &mut band_only] {
            t.add_values(0, &v, |x| ix.index(x));
            t.add_values(1, &v, |x| ix.index(x));
        }
        let width = |t: &DistributionTest| {
            let q = t
                .quantile_bounds()
                .into_iter()
                .find(|q| q.p == 0.99)
                .expect("p99");
            q.baseline[1] / q.baseline[0]
        };
        assert!(
            width(&with_tail) < width(&band_only),
            "{} vs {}",
            width(&with_tail),
            width(&band_only)
        );
    }
}
