//! The Mann–Whitney (Wilcoxon rank-sum) test with the Hodges–Lehmann location shift and
//! its confidence interval, reproducing the normal-approximation branch of R's
//! `wilcox.test(canary, baseline, conf.int = TRUE, exact = FALSE, correct = TRUE)`.
//!
//! # How the shift function is evaluated
//! For a shift `d`, R ranks the pooled sample `(x₁−d, …, x_m−d, y₁, …, y_n)` with average
//! ranks for ties and computes
//! `W(d) = (dz(d) − 0.5·sign(dz(d))) / σ(d)` with
//! `dz(d) = Σ ranks(x part) − m(m+1)/2 − mn/2` and
//! `σ(d) = sqrt(mn/12 · ((m+n+1) − Σ(t³−t) / ((m+n)(m+n−1))))` over the tie groups `t`.
//!
//! No m×n difference matrix is built, and no pooled sort happens per evaluation: both arms
//! are sorted once, and since `x ↦ x − d` keeps the order, every evaluation is one linear
//! merge of the two sorted arrays, counting for each `x_i − d` the baseline values below and
//! equal to it (`Σ ranks(x) − m(m+1)/2 = Σᵢ (#{y < xᵢ−d} + ½·#{y = xᵢ−d})`, because ties
//! inside the canary arm average out) and the sizes of the tie groups. That is O(m+n) per
//! evaluation after an O(m log m + n log n) sort, with the very same floating-point
//! comparisons R's `rank` makes, so the step function is bit-for-bit R's.
//!
//! # Roots
//! The interval ends and the estimate are roots of `W(d) − q` found with R's `zeroin`
//! ([`crate::zeroin`]) on `[min(x) − max(y), max(x) − min(y)]` with absolute tolerance
//! 1e-4, including R's rule that returns an end of that bracket when `W − q` has no sign
//! change. R drops the continuity correction for the estimate; Kayenta keeps it.
//! [`EstimateMode`] picks which one to reproduce.

use statrs::distribution::{ContinuousCDF, Normal};

/// Absolute tolerance of the root finder, as in R (`tol.root = 1e-4`) and Kayenta.
pub const ROOT_TOLERANCE: f64 = 1e-4;
/// Iteration limit of the root finder, as R's `uniroot` default.
pub const ROOT_MAX_ITER: u32 = 1000;

/// Which shift estimate to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EstimateMode {
    /// R's `wilcox.test`: the root of `W(d)` without continuity correction.
    R,
    /// Kayenta's `MannWhitney`: the root of `W(d)` with the continuity correction kept.
    Kayenta,
}

/// Why the test could not be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MannWhitneyError {
    /// One arm has no observations.
    Empty,
    /// An observation is NaN or infinite (preprocess first).
    NonFinite,
    /// Every observation of both arms is equal at the search bracket's end, so the
    /// variance is 0 (R stops with "cannot compute confidence interval when all
    /// observations are tied").
    AllTied,
}

impl std::fmt::Display for MannWhitneyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MannWhitneyError::Empty => "an arm has no observations",
            MannWhitneyError::NonFinite => "an observation is NaN or infinite",
            MannWhitneyError::AllTied => {
                "all observations are tied, the rank statistic has no variance"
            }
        })
    }
}

impl std::error::Error for MannWhitneyError {}

/// The result of [`MannWhitney::test`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitneyResult {
    /// Two-sided p-value (normal approximation, tie and continuity corrections).
    pub p_value: f64,
    /// R's statistic W = Σ ranks(canary) − m(m+1)/2.
    pub w: f64,
    /// Location shift estimate (canary − baseline).
    pub estimate: f64,
    /// Confidence interval of the shift: (lower, upper). With heavy ties it can come out
    /// inverted (lower > upper), in R too.
    pub ci: (f64, f64),
}

/// The two arms of a Mann–Whitney comparison, sorted once and reused for every evaluation.
#[derive(Debug, Clone)]
pub struct MannWhitney {
    /// Canary values (R's `x`), ascending.
    x: Vec<f64>,
    /// Baseline values (R's `y`), ascending, followed by one +∞ sentinel that ends
    /// every scan without a bounds test (inputs are finite, so nothing equals it).
    y: Vec<f64>,
    /// Σ (t³ − t) over tie groups inside the baseline: constant in the shift.
    y_ties: u128,
}

/// The search bracket and the rank statistics at its ends.
#[derive(Debug, Clone, Copy)]
struct Ends {
    lo: f64,
    hi: f64,
    at_lo: RankStats,
    at_hi: RankStats,
}

/// Rank statistics of the pooled sample at one shift.
#[derive(Debug, Clone, Copy, PartialEq)]
struct RankStats {
    /// Σ ranks(x part) − m(m+1)/2 (R's W at this shift).
    u: f64,
    /// Σ over tie groups of t³ − t.
    ties: f64,
}

impl MannWhitney {
    /// Prepare a comparison of `canary` against `baseline`. Both must be non-empty and
    /// finite.
    pub fn new(canary: &[f64], baseline: &[f64]) -> Result<Self, MannWhitneyError> {
        let mut x = canary.to_vec();
        let mut y = baseline.to_vec();
        x.sort_unstable_by(f64::total_cmp);
        y.sort_unstable_by(f64::total_cmp);
        Self::from_sorted(x, y)
    }

    /// Like [`MannWhitney::new`] for arms already sorted ascending (e.g. preprocessed).
    pub fn from_sorted(canary: Vec<f64>, baseline: Vec<f64>) -> Result<Self, MannWhitneyError> {
        if canary.is_empty() || baseline.is_empty() {
            return Err(MannWhitneyError::Empty);
        }
        if canary.iter().chain(&baseline).any(|v| !v.is_finite()) {
            return Err(MannWhitneyError::NonFinite);
        }
        debug_assert!(canary.is_sorted_by(|a, b| a <= b));
        debug_assert!(baseline.is_sorted_by(|a, b| a <= b));
        let y_ties = tie_term(&baseline);
        let mut y = baseline;
        y.push(f64::INFINITY);
        Ok(MannWhitney {
            x: canary,
            y,
            y_ties,
        })
    }

    fn m(&self) -> f64 {
        self.x.len() as f64
    }

    fn n(&self) -> f64 {
        self.baseline().len() as f64
    }

    /// The baseline values without the sentinel.
    fn baseline(&self) -> &[f64] {
        &self.y[..self.y.len() - 1]
    }

    /// Rank statistics at shift `d`. One lean merge counts Σᵢ #{y < xᵢ − d}, the tie
    /// groups inside the shifted canary, and notices any tie *between* the arms. Without
    /// such a tie every pooled tie group lies inside one arm, so the tie term is the
    /// baseline's own plus the shifted canary's, and the count is the statistic.
    /// Otherwise the exact tie-aware merge runs. Both give R's numbers exactly.
    fn rank_stats(&self, d: f64) -> RankStats {
        // `y` ends with +∞, so the scan stops there without testing the index.
        let (x, y) = (&self.x[..], &self.y[..]);
        let mut j = 0usize;
        let mut below: u64 = 0;
        let mut across = false;
        let mut previous = f64::NAN;
        let mut run: u128 = 1;
        let mut x_ties: u128 = 0;
        for &xv in x {
            let xd = xv - d;
            while y[j] < xd {
                j += 1;
            }
            below += j as u64;
            across |= y[j] == xd;
            // Equal canary values stay equal after the shift, and rounding can make
            // neighbours equal too: count the runs of the shifted values themselves.
            if xd == previous {
                run += 1;
            } else if run > 1 {
                x_ties += run * run * run - run;
                run = 1;
            }
            previous = xd;
        }
        x_ties += run * run * run - run;
        if across {
            return self.rank_stats_with_ties(d);
        }
        RankStats {
            u: below as f64,
            ties: (self.y_ties + x_ties) as f64,
        }
    }

    /// One tie-aware linear merge of `x − d` with `y`.
    fn rank_stats_with_ties(&self, d: f64) -> RankStats {
        let (x, y) = (&self.x[..], self.baseline());
        let (m, n) = (x.len(), y.len());
        let (mut i, mut j) = (0usize, 0usize);
        // Twice the rank sum excess, kept integral so it is exact.
        let mut u2: u128 = 0;
        let mut ties: u128 = 0;
        while i < m || j < n {
            let v = if i < m {
                let xv = x[i] - d;
                if j < n && y[j] < xv { y[j] } else { xv }
            } else {
                y[j]
            };
            let j0 = j;
            while j < n && y[j] == v {
                j += 1;
            }
            let mut cx = 0usize;
            while i < m && x[i] - d == v {
                i += 1;
                cx += 1;
            }
            let cy = j - j0;
            if cx > 0 {
                u2 += (cx as u128) * (2 * j0 as u128 + cy as u128);
            }
            let t = (cx + cy) as u128;
            if t > 1 {
                ties += t * t * t - t;
            }
        }
        RankStats {
            u: u2 as f64 / 2.0,
            ties: ties as f64,
        }
    }

    /// σ of the rank statistic for a tie term, in R's order of operations.
    fn sigma(&self, ties: f64) -> f64 {
        let (m, n) = (self.m(), self.n());
        ((m * n / 12.0) * ((m + n + 1.0) - ties / ((m + n) * (m + n - 1.0)))).sqrt()
    }

    /// W from rank statistics: standardised, with or without the continuity correction.
    fn standardise(&self, s: RankStats, correct: bool) -> f64 {
        let dz = s.u - self.m() * self.n() / 2.0;
        let correction = if correct { 0.5 * sign(dz) } else { 0.0 };
        (dz - correction) / self.sigma(s.ties)
    }

    /// R's `W(d)`: the standardised rank statistic at shift `d`, with or without the
    /// continuity correction.
    pub fn w_at(&self, d: f64, correct: bool) -> f64 {
        self.standardise(self.rank_stats(d), correct)
    }

    /// R's W statistic (Σ ranks(canary) − m(m+1)/2) at shift 0.
    pub fn statistic(&self) -> f64 {
        self.rank_stats(0.0).u
    }

    /// Two-sided p-value of "no shift", as R's `wilcox.test(exact = FALSE, correct = TRUE)`.
    pub fn p_value(&self) -> f64 {
        self.p_value_of(self.rank_stats(0.0))
    }

    fn p_value_of(&self, at_zero: RankStats) -> f64 {
        let z = self.standardise(at_zero, true);
        if z.is_nan() {
            return f64::NAN;
        }
        2.0 * normal_lower_tail(-z.abs())
    }

    /// The search bracket `[min(x) − max(y), max(x) − min(y)]`.
    pub fn bracket(&self) -> (f64, f64) {
        let (x, y) = (&self.x, self.baseline());
        (x[0] - y[y.len() - 1], x[x.len() - 1] - y[0])
    }

    /// Rank statistics at both ends of the bracket.
    fn ends(&self) -> Ends {
        let (lo, hi) = self.bracket();
        Ends {
            lo,
            hi,
            at_lo: self.rank_stats(lo),
            at_hi: self.rank_stats(hi),
        }
    }

    /// Confidence interval of the shift at `confidence` (e.g. 0.98).
    pub fn confidence_interval(&self, confidence: f64) -> Result<(f64, f64), MannWhitneyError> {
        self.interval_within(&self.ends(), confidence)
    }

    fn interval_within(
        &self,
        ends: &Ends,
        confidence: f64,
    ) -> Result<(f64, f64), MannWhitneyError> {
        let (lo, hi) = (ends.lo, ends.hi);
        let w_lo = self.standardise(ends.at_lo, true);
        let w_hi = self.standardise(ends.at_hi, true);
        if w_lo.is_nan() || w_hi.is_nan() {
            return Err(MannWhitneyError::AllTied);
        }
        let alpha = 1.0 - confidence;
        let z_upper_tail = -standard_normal().inverse_cdf(alpha / 2.0);
        let root = |zq: f64| {
            let f_lower = w_lo - zq;
            if f_lower <= 0.0 {
                return lo;
            }
            let f_upper = w_hi - zq;
            if f_upper >= 0.0 {
                return hi;
            }
            crate::zeroin::zeroin(
                lo,
                hi,
                f_lower,
                f_upper,
                |d| self.w_at(d, true) - zq,
                ROOT_TOLERANCE,
                ROOT_MAX_ITER,
            )
            .root
        };
        Ok((root(z_upper_tail), root(-z_upper_tail)))
    }

    /// Location-shift estimate (canary − baseline), R's or Kayenta's.
    pub fn estimate(&self, mode: EstimateMode) -> Result<f64, MannWhitneyError> {
        self.estimate_within(&self.ends(), mode)
    }

    fn estimate_within(&self, ends: &Ends, mode: EstimateMode) -> Result<f64, MannWhitneyError> {
        let correct = mode == EstimateMode::Kayenta;
        let f_lo = self.standardise(ends.at_lo, correct);
        let f_hi = self.standardise(ends.at_hi, correct);
        if f_lo.is_nan() || f_hi.is_nan() {
            return Err(MannWhitneyError::AllTied);
        }
        Ok(crate::zeroin::zeroin(
            ends.lo,
            ends.hi,
            f_lo,
            f_hi,
            |d| self.w_at(d, correct),
            ROOT_TOLERANCE,
            ROOT_MAX_ITER,
        )
        .root)
    }

    /// Everything at once: p-value, statistic, estimate and interval, each merge at the
    /// bracket ends and at shift 0 done once.
    pub fn test(
        &self,
        confidence: f64,
        mode: EstimateMode,
    ) -> Result<MannWhitneyResult, MannWhitneyError> {
        let ends = self.ends();
        let ci = self.interval_within(&ends, confidence)?;
        let estimate = self.estimate_within(&ends, mode)?;
        let at_zero = self.rank_stats(0.0);
        Ok(MannWhitneyResult {
            p_value: self.p_value_of(at_zero),
            w: at_zero.u,
            estimate,
            ci,
        })
    }

    /// Common-language effect size P(canary > baseline) + ½·P(canary = baseline).
    pub fn cles(&self) -> f64 {
        self.statistic() / (self.m() * self.n())
    }
}

/// Σ (t³ − t) over runs of equal values in ascending `v`.
fn tie_term(v: &[f64]) -> u128 {
    let mut ties: u128 = 0;
    let mut k = 0;
    while k < v.len() {
        let mut e = k + 1;
        while e < v.len() && v[e] == v[k] {
            e += 1;
        }
        let t = (e - k) as u128;
        ties += t * t * t - t;
        k = e;
    }
    ties
}

fn sign(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

fn standard_normal() -> Normal {
    Normal::standard()
}

/// Φ(x) for x ≤ 0, accurate to a few ulps: ½·erfc(−x/√2) with libm's erfc (statrs'
/// erfc is only good to ~1e-10 relative). Like R's `pnorm`, it is exactly 0 below
/// −37.5193, where the true value underflows anyway.
fn normal_lower_tail(x: f64) -> f64 {
    if x <= -37.5193 {
        return 0.0;
    }
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference rank sum by the definition: pool, sort, average ranks of ties.
    fn naive(x: &[f64], y: &[f64], d: f64) -> RankStats {
        let mut pooled: Vec<(f64, bool)> = x.iter().map(|v| (v - d, true)).collect();
        pooled.extend(y.iter().map(|v| (*v, false)));
        pooled.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut rank_sum = 0.0;
        let mut ties = 0.0;
        let mut k = 0;
        while k < pooled.len() {
            let mut e = k;
            while e + 1 < pooled.len() && pooled[e + 1].0 == pooled[k].0 {
                e += 1;
            }
            let avg = (k + e + 2) as f64 / 2.0;
            let t = (e - k + 1) as f64;
            ties += t * t * t - t;
            for p in &pooled[k..=e] {
                if p.1 {
                    rank_sum += avg;
                }
            }
            k = e + 1;
        }
        let m = x.len() as f64;
        RankStats {
            u: rank_sum - m * (m + 1.0) / 2.0,
            ties,
        }
    }

    #[test]
    fn merge_matches_definition_with_ties() {
        let x = [1.0, 2.0, 2.0, 3.0, 5.0, 5.0, 5.0];
        let y = [0.0, 1.0, 2.0, 4.0, 4.0, 6.0];
        let mw = MannWhitney::new(&x, &y).expect("valid");
        for d in [-7.0, -1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 6.0] {
            assert_eq!(mw.rank_stats(d), naive(&x, &y, d), "d = {d}");
        }
    }

    #[test]
    fn fast_and_tie_aware_merges_agree() {
        // Continuous data (fast path), integer data (ties across arms) and data whose
        // shifted canary values collide: every shift in and beyond the bracket.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let continuous: Vec<f64> = (0..300).map(|_| next() * 100.0).collect();
        let integers: Vec<f64> = (0..300).map(|_| (next() * 6.0).floor()).collect();
        let huge: Vec<f64> = (0..50).map(|k| 1e17 + 16.0 * k as f64).collect();
        // Three decimals: repeated values inside an arm, rarely across the arms.
        let rounded: Vec<f64> = (0..600)
            .map(|_| (next() * 2000.0).round() / 1000.0)
            .collect();
        for (x, y) in [
            (&continuous[..150], &continuous[150..]),
            (&integers[..120], &integers[120..]),
            (&continuous[..100], &integers[..80]),
            (&huge[..25], &huge[25..]),
            (&rounded[..300], &rounded[300..]),
        ] {
            let mw = MannWhitney::new(x, y).expect("valid");
            let (lo, hi) = mw.bracket();
            for k in 0..=400 {
                let d = lo - 1.0 + (hi - lo + 2.0) * k as f64 / 400.0;
                assert_eq!(mw.rank_stats(d), mw.rank_stats_with_ties(d), "d = {d}");
                assert_eq!(mw.rank_stats(d), naive(x, y, d), "d = {d}");
            }
            for d in y.iter().map(|v| x[0] - v) {
                assert_eq!(mw.rank_stats(d), naive(x, y, d), "tie at d = {d}");
            }
        }
    }

    #[test]
    #[allow(clippy::approx_constant)] // 3.14 is data, not π
    fn r_reference_small_example() {
        // R 4.2.2: wilcox.test(c(1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30),
        //   c(0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29),
        //   conf.int = TRUE, exact = FALSE, correct = TRUE)
        // W = 58, p-value = 0.1329
        let x = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30];
        let y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
        let mw = MannWhitney::new(&x, &y).expect("valid");
        assert_eq!(mw.statistic(), 58.0);
        assert!((mw.p_value() - 0.1329).abs() < 5e-5);
    }

    #[test]
    fn rejects_empty_and_non_finite() {
        assert_eq!(
            MannWhitney::new(&[], &[1.0]).unwrap_err(),
            MannWhitneyError::Empty
        );
        assert_eq!(
            MannWhitney::new(&[f64::NAN], &[1.0]).unwrap_err(),
            MannWhitneyError::NonFinite
        );
    }

    #[test]
    fn all_tied_is_an_error_not_a_panic() {
        let mw = MannWhitney::new(&[2.0, 2.0], &[2.0]).expect("valid");
        assert_eq!(
            mw.confidence_interval(0.95).unwrap_err(),
            MannWhitneyError::AllTied
        );
        assert!(mw.p_value().is_nan());
    }
}
