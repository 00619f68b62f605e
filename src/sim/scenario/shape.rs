//! The latency shape of a scenario and the quantile-level warps of `tail_shift` and
//! `median_shift`.
//!
//! Latency = `median_ms` × (per host, per step multipliers) × *S*, where the shape *S* has
//! median 1 in its lognormal body: with probability `1 − tail_prob`, `S = exp(σZ)`;
//! with probability `tail_prob`, `S = tail_scale × U^(−1/tail_alpha)` (Pareto, minimum
//! `tail_scale`). Everything is computed on `ln S`.
//!
//! A [`Warp`] maps `ln S` through a monotone function fixed by two quantile levels of *S*,
//! so quantiles map exactly: the warped distribution's quantile at level `u` is the
//! warp of *S*'s quantile at `u`.

use rand::Rng;
use rand_distr::StandardNormal;

/// The distribution of the shape *S* (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    pub sigma: f64,
    pub tail_prob: f64,
    pub tail_alpha: f64,
    pub tail_scale: f64,
}

impl Shape {
    /// A lognormal shape of log-scale `sigma`, without a Pareto tail.
    pub fn lognormal(sigma: f64) -> Self {
        Shape {
            sigma,
            tail_prob: 0.0,
            tail_alpha: 2.0,
            tail_scale: 1.0,
        }
    }

    /// P(S ≤ s).
    pub fn cdf(&self, s: f64) -> f64 {
        if s <= 0.0 {
            return 0.0;
        }
        let body = 0.5 * libm::erfc(-s.ln() / (self.sigma * std::f64::consts::SQRT_2));
        let tail = if s > self.tail_scale {
            1.0 - (self.tail_scale / s).powf(self.tail_alpha)
        } else {
            0.0
        };
        (1.0 - self.tail_prob) * body + self.tail_prob * tail
    }

    /// ln of the quantile of *S* at level `u` (0 < u < 1), by bisection on the CDF.
    pub fn ln_quantile(&self, u: f64) -> f64 {
        let mut lo = -12.0 * self.sigma - 1.0;
        let mut hi = 12.0 * self.sigma + 1.0;
        if self.tail_prob > 0.0 {
            // The Pareto part alone reaches level u by this point.
            let rest = (1.0 - u).max(1e-300) / self.tail_prob;
            hi = hi.max(self.tail_scale.ln() - rest.min(1.0).ln() / self.tail_alpha + 1.0);
        }
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if self.cdf(mid.exp()) < u {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }

    /// The quantile of *S* at level `u`.
    pub fn quantile(&self, u: f64) -> f64 {
        self.ln_quantile(u).exp()
    }

    /// One draw of `ln S`.
    #[inline]
    pub fn sample_ln<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        if self.tail_prob > 0.0 && rng.random::<f64>() < self.tail_prob {
            // 1 − U is in (0, 1], so its log is finite.
            let u = 1.0 - rng.random::<f64>();
            self.tail_scale.ln() - u.ln() / self.tail_alpha
        } else {
            self.sigma * rng.sample::<f64, _>(StandardNormal)
        }
    }
}

/// Which end of the distribution a [`Warp`] moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarpEnd {
    /// Quantiles at and above the upper level × factor, below the lower level unchanged.
    Tail,
    /// Quantiles at and below the lower level × factor, above the upper level unchanged.
    Body,
}

/// A monotone warp of `ln S`: multiply by `factor` on one side of two quantile levels,
/// leave the other side alone, and ramp geometrically (linearly in `ln S`) in between.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Warp {
    pub end: WarpEnd,
    /// `ln S` at the lower level.
    pub ln_lo: f64,
    /// `ln S` at the upper level.
    pub ln_hi: f64,
    pub ln_factor: f64,
}

/// A quantile shift that cannot be applied to a latency distribution.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WarpError {
    #[error(
        "the latency quantiles at {lo} and {hi} coincide; the shift needs a spread-out distribution"
    )]
    Flat { lo: f64, hi: f64 },
    /// The factor would move one quantile past another; `bound` says which factors work.
    #[error(
        "factor {factor} would reorder quantiles between levels {lo} and {hi} (Q({hi})/Q({lo}) = {limit:.4}); it must be {bound}"
    )]
    Reorders {
        factor: f64,
        lo: f64,
        hi: f64,
        limit: f64,
        bound: String,
    },
}

impl Warp {
    /// The warp between quantile levels `lo < hi` of `shape`, or why it would not be
    /// monotone (then quantiles would not map cleanly).
    pub fn new(
        shape: &Shape,
        end: WarpEnd,
        lo: f64,
        hi: f64,
        factor: f64,
    ) -> Result<Self, WarpError> {
        let ln_lo = shape.ln_quantile(lo);
        let ln_hi = shape.ln_quantile(hi);
        let width = ln_hi - ln_lo;
        if width <= 1e-9 {
            return Err(WarpError::Flat { lo, hi });
        }
        let ln_factor = factor.ln();
        // d(ln S')/d(ln S) = 1 ± ln_factor / width on the ramp; it must stay positive.
        let slope = match end {
            WarpEnd::Tail => 1.0 + ln_factor / width,
            WarpEnd::Body => 1.0 - ln_factor / width,
        };
        if slope <= 0.0 {
            let limit = width.exp();
            let bound = match end {
                WarpEnd::Tail => format!("above {:.4}", 1.0 / limit),
                WarpEnd::Body => format!("below {limit:.4}"),
            };
            return Err(WarpError::Reorders {
                factor,
                lo,
                hi,
                limit,
                bound,
            });
        }
        Ok(Warp {
            end,
            ln_lo,
            ln_hi,
            ln_factor,
        })
    }

    /// Warp one `ln S`.
    #[inline]
    pub fn apply(&self, ln_s: f64) -> f64 {
        let r = ((ln_s - self.ln_lo) / (self.ln_hi - self.ln_lo)).clamp(0.0, 1.0);
        match self.end {
            WarpEnd::Tail => ln_s + self.ln_factor * r,
            WarpEnd::Body => ln_s + self.ln_factor * (1.0 - r),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lognormal, with the tail parameters `the_pareto_tail_raises_high_quantiles` mixes in.
    fn lognormal(sigma: f64) -> Shape {
        Shape {
            tail_alpha: 1.5,
            tail_scale: 3.0,
            ..Shape::lognormal(sigma)
        }
    }

    #[test]
    fn lognormal_quantiles_match_the_normal() {
        let s = lognormal(1.0);
        assert!((s.quantile(0.5) - 1.0).abs() < 1e-9);
        // z(0.99) = 2.326347874
        assert!((s.ln_quantile(0.99) - 2.326_347_874).abs() < 1e-6);
        assert!((s.cdf(s.quantile(0.9)) - 0.9).abs() < 1e-9);
    }

    #[test]
    fn the_pareto_tail_raises_high_quantiles() {
        let body = lognormal(0.5);
        let mixed = Shape {
            tail_prob: 0.05,
            ..body
        };
        assert!(mixed.quantile(0.99) > 2.0 * body.quantile(0.99));
        assert!((mixed.cdf(mixed.quantile(0.995)) - 0.995).abs() < 1e-9);
    }

    #[test]
    fn warps_move_one_end_only() {
        let s = lognormal(1.0);
        let tail = Warp::new(&s, WarpEnd::Tail, 0.9, 0.99, 1.5).expect("monotone");
        assert_eq!(tail.apply(s.ln_quantile(0.5)), s.ln_quantile(0.5));
        let q99 = s.ln_quantile(0.99);
        assert!((tail.apply(q99) - q99 - 1.5_f64.ln()).abs() < 1e-12);
        let body = Warp::new(&s, WarpEnd::Body, 0.5, 0.9, 1.1).expect("monotone");
        assert!((body.apply(0.0) - 1.1_f64.ln()).abs() < 1e-9);
        assert_eq!(body.apply(q99), q99);
        // Monotone along the ramp.
        let mut prev = f64::NEG_INFINITY;
        for i in 0..=400 {
            let x = -3.0 + i as f64 * 0.02;
            assert!(body.apply(x) > prev);
            prev = body.apply(x);
        }
    }

    #[test]
    fn a_warp_that_would_reorder_quantiles_is_refused() {
        let s = lognormal(0.1);
        // Q(0.9)/Q(0.5) = exp(0.128): a ×2 body shift would overtake the tail.
        let e = Warp::new(&s, WarpEnd::Body, 0.5, 0.9, 2.0).expect_err("not monotone");
        assert!(e.to_string().contains("below 1.13"), "{e}");
    }
}
