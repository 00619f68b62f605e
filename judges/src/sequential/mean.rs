//! Per-interval aggregates (CPU seconds per scrape, a per-interval mean): a confidence
//! sequence for the mean paired difference canary − (1 + tol)·baseline, from the
//! normal-mixture boundary with a plug-in variance (an asymptotic confidence sequence,
//! Waudby-Smith et al.). Pairing by interval cancels load both arms share (diurnal
//! trends). The plug-in variance needs a burn-in: no decision before `burn_in` intervals.
//! Autocorrelated intervals break the i.i.d. assumption; the evaluation harness measures
//! how much.

use statrs::distribution::{ContinuousCDF, StudentsT};

use super::boundaries::normal_mixture;
use crate::options::Direction;

/// Streaming paired-mean test.
#[derive(Debug, Clone)]
pub struct MeanTest {
    alpha: f64,
    tolerance: f64,
    direction: Direction,
    burn_in: usize,
    /// Intervals at which the boundary is tightest.
    t_opt: f64,
    /// canary − baseline (significance).
    diff: Welford,
    /// The pass band's edges: canary − (1 + pass)·baseline and canary − baseline / (1 + pass).
    pass: f64,
    pass_up: Welford,
    pass_down: Welford,
    pub baseline_sum: f64,
    pub canary_sum: f64,
}

/// Running mean and variance.
#[derive(Debug, Clone, Copy, Default)]
struct Welford {
    n: f64,
    mean: f64,
    m2: f64,
}

impl Welford {
    fn push(&mut self, x: f64) {
        self.n += 1.0;
        let d = x - self.mean;
        self.mean += d / self.n;
        self.m2 += d * (x - self.mean);
    }

    fn variance(&self) -> f64 {
        if self.n > 1.0 {
            self.m2 / (self.n - 1.0)
        } else {
            f64::INFINITY
        }
    }
}

/// Student-t interval for the mean of `w`, level `alpha` per side (unbounded below two
/// values).
fn t_interval(w: &Welford, alpha: f64) -> (f64, f64) {
    match StudentsT::new(0.0, 1.0, w.n - 1.0) {
        Ok(t) if w.n >= 2.0 => {
            let half = t.inverse_cdf(1.0 - alpha) * (w.variance() / w.n).sqrt();
            (w.mean - half, w.mean + half)
        }
        _ => (f64::NEG_INFINITY, f64::INFINITY),
    }
}

impl MeanTest {
    pub fn new(
        alpha: f64,
        tolerance: f64,
        direction: Direction,
        burn_in: usize,
        t_opt: f64,
    ) -> Self {
        MeanTest {
            alpha,
            tolerance,
            direction,
            burn_in: burn_in.max(2),
            t_opt,
            diff: Welford::default(),
            pass: tolerance,
            pass_up: Welford::default(),
            pass_down: Welford::default(),
            baseline_sum: 0.0,
            canary_sum: 0.0,
        }
    }

    /// Pass once the canary is proven within `band` (default: the fail band). Call before
    /// the first update.
    pub fn with_pass_band(mut self, band: f64) -> Self {
        self.pass = band;
        self
    }

    /// Add one interval's values of both arms.
    pub fn update(&mut self, baseline: f64, canary: f64) {
        if !(baseline.is_finite() && canary.is_finite()) {
            return;
        }
        self.diff.push(canary - baseline);
        let kp = 1.0 + self.pass;
        self.pass_up.push(canary - kp * baseline);
        self.pass_down.push(canary - baseline / kp);
        self.baseline_sum += baseline;
        self.canary_sum += canary;
    }

    pub fn intervals(&self) -> usize {
        self.diff.n as usize
    }

    /// Confidence sequence for the mean of `w`'s differences at level `alpha`.
    fn interval(&self, w: &Welford, alpha: f64) -> (f64, f64) {
        if (w.n as usize) < self.burn_in {
            return (f64::NEG_INFINITY, f64::INFINITY);
        }
        let half = w.variance().sqrt() * normal_mixture(w.n, alpha, self.t_opt) / w.n;
        (w.mean - half, w.mean + half)
    }

    /// (worse, within): worse (`Some(higher)`) when the mean difference is significant in
    /// a watched direction and the mean ratio lies beyond the band; within when the
    /// interval for the pass band's edge shows the canary inside it.
    pub fn finding(&self) -> (Option<bool>, bool) {
        let (up, down) = (
            self.direction.watches_increase(),
            self.direction.watches_decrease(),
        );
        let alpha = if up && down {
            self.alpha / 2.0
        } else {
            self.alpha
        };
        let k = 1.0 + self.tolerance;
        let ratio = self.mean_ratio();
        let (lo, hi) = self.interval(&self.diff, alpha);
        let higher = up && lo > 0.0 && ratio > k;
        let lower = down && hi < 0.0 && ratio < 1.0 / k;
        let worse = (higher || lower).then_some(higher);
        let u_hi = self.interval(&self.pass_up, alpha).1;
        let d_lo = self.interval(&self.pass_down, alpha).0;
        let within = (!up || u_hi < 0.0) && (!down || d_lo > 0.0);
        (worse, within && worse.is_none())
    }

    /// The horizon's equivalence test, one look: a one-sided Student-t interval (level
    /// `alpha` per side) for the mean of canary − (1 + pass)·baseline lies below 0 (and
    /// for canary − baseline / (1 + pass) above 0 on a watched lower side). Exact for
    /// normal paired differences, asymptotically valid otherwise; autocorrelated
    /// intervals widen its real error. False before the burn-in or on a failure.
    pub fn horizon_within(&self, alpha: f64) -> bool {
        if (self.diff.n as usize) < self.burn_in || self.finding().0.is_some() {
            return false;
        }
        let (up, down) = (
            self.direction.watches_increase(),
            self.direction.watches_decrease(),
        );
        (!up || t_interval(&self.pass_up, alpha).1 < 0.0)
            && (!down || t_interval(&self.pass_down, alpha).0 > 0.0)
    }

    /// Fixed-sample (one look) interval of the mean paired difference canary − baseline,
    /// level `alpha` per side.
    pub fn fixed_sample_difference_interval(&self, alpha: f64) -> (f64, f64) {
        t_interval(&self.diff, alpha)
    }

    /// The confidence sequence of the mean paired difference canary − baseline at the
    /// test's level (infinite before the burn-in).
    pub fn difference_interval(&self) -> (f64, f64) {
        let both = self.direction.watches_increase() && self.direction.watches_decrease();
        let alpha = if both { self.alpha / 2.0 } else { self.alpha };
        self.interval(&self.diff, alpha)
    }

    /// The arms' per-interval means so far: (baseline, canary); NaN before any interval.
    pub fn means(&self) -> (f64, f64) {
        let n = self.diff.n;
        if n > 0.0 {
            (self.baseline_sum / n, self.canary_sum / n)
        } else {
            (f64::NAN, f64::NAN)
        }
    }

    /// Ratio of the arms' means so far.
    pub fn mean_ratio(&self) -> f64 {
        if self.baseline_sum == 0.0 {
            f64::NAN
        } else {
            self.canary_sum / self.baseline_sum
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_a_clear_increase_and_passes_a_null() {
        let mut worse = MeanTest::new(0.01, 0.05, Direction::Increase, 10, 50.0);
        let mut same = MeanTest::new(0.01, 0.05, Direction::Increase, 10, 50.0);
        for i in 0..200 {
            let noise = ((i * 7919) % 17) as f64 / 17.0 - 0.5;
            worse.update(10.0 + noise, 13.0 + noise * 0.8);
            same.update(10.0 + noise, 10.0 - noise * 0.5);
        }
        assert_eq!(worse.finding(), (Some(true), false));
        assert_eq!(same.finding(), (None, true));
        let mut early = MeanTest::new(0.01, 0.05, Direction::Increase, 10, 50.0);
        for _ in 0..5 {
            early.update(1.0, 100.0);
        }
        assert_eq!(early.finding(), (None, false), "no decision during burn-in");
    }
}
