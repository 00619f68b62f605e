//! The pooled-share test of the `band` judge: for shares of requests (`proportion`, event
//! counts) with the requests behind each interval, a sustained change is judged on the
//! canary's pooled share rather than interval by interval.
//!
//! A share of R requests scatters by √(q(1 − q) / R) from sampling alone; the band of a
//! few baseline intervals' robust spread has to cover that scatter interval by interval,
//! and a doubling of a 0.5% error rate is within it for single intervals. Pooled over the
//! canary's intervals, the same doubling is many standard errors away. Two p-values, the
//! larger one is used (so the test is valid when either is):
//!
//! - **Exact, conditional**: given the events of both arms, E, and requests T_B and T_C,
//!   the canary's events are Binomial(E, T_C / (T_B + T_C)) when both arms have one rate
//!   (Poisson events) — exact however few the events or uneven the split (one error of 10
//!   requests at 1% of traffic is no evidence).
//! - **Overdispersed**: intervals of real services scatter more than sampling alone (a
//!   burst, a retry storm). Pearson's dispersion of the baseline's intervals around its
//!   pooled share, φ = Σ (e_i − R_i·q)² / (R_i·q(1 − q)) / (n_B − 1), scales the
//!   two-proportion z's variance, and the z is referred to Student's t with n_B − 1
//!   degrees of freedom (φ is estimated from n_B − 1 intervals: the quasi-binomial test).
//!
//! When the intervals really are binomial (φ = 1) the exact p-value is valid, when they
//! scatter more the quasi-binomial one is (approximately); the larger of the two is valid
//! in either case — and φ is not floored at 1, because the exact p-value already stands
//! for the binomial case.

use statrs::function::beta::beta_reg;

use crate::sample::{MetricPair, Sample};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Each interval's (share in 0–1, requests) of one arm.
type Shares = Vec<(f64, f64)>;

/// A share series of both arms with the requests behind each interval.
pub(super) struct PooledShares {
    baseline: Shares,
    canary: Shares,
}

/// The pooled test's result on one side.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pooled {
    /// Pooled shares (0–1) of the baseline and the canary.
    pub baseline: f64,
    pub canary: f64,
    /// The baseline's dispersion (1 for binomial intervals).
    pub dispersion: f64,
    /// The larger of the exact and the overdispersed p-values.
    pub p: f64,
    /// The overdispersed z (positive = worse).
    pub z: f64,
}

impl PooledShares {
    /// The shares of `pair` (values / `unit` for aggregates with request counts, events /
    /// totals for event counts) with their requests; `None` without request counts or
    /// with fewer than 2 baseline intervals or no canary interval.
    pub(super) fn of(pair: &MetricPair, unit: f64) -> Option<Self> {
        let arm = |s: &Sample| -> Option<Shares> {
            let v: Shares = match s {
                Sample::Aggregates { values, requests } => values
                    .iter()
                    .zip(requests)
                    .map(|(x, r)| ((x / unit).clamp(0.0, 1.0), *r))
                    .collect(),
                Sample::Counts { events, totals } => events
                    .iter()
                    .zip(totals)
                    .map(|(e, t)| {
                        if *t > 0.0 {
                            (e / t, *t)
                        } else {
                            (f64::NAN, *t)
                        }
                    })
                    .collect(),
                _ => return None,
            };
            Some(
                v.into_iter()
                    .filter(|(x, r)| x.is_finite() && r.is_finite() && *r > 0.0)
                    .collect(),
            )
        };
        let (baseline, canary) = (arm(&pair.baseline)?, arm(&pair.canary)?);
        (baseline.len() >= 2 && !canary.is_empty()).then_some(PooledShares { baseline, canary })
    }

    /// The test that the canary's share is higher (`up`) or lower than the baseline's.
    pub(super) fn test(&self, up: bool) -> Pooled {
        // Lower shares are higher shares of the complement.
        let flip = |v: &Shares| -> Shares {
            v.iter()
                .map(|&(x, r)| (if up { x } else { 1.0 - x }, r))
                .collect()
        };
        let (b, c) = (flip(&self.baseline), flip(&self.canary));
        let pool = |v: &Shares| -> (f64, f64) {
            v.iter()
                .fold((0.0, 0.0), |(e, t), &(x, r)| (e + x * r, t + r))
        };
        let ((eb, tb), (ec, tc)) = (pool(&b), pool(&c));
        let (qb, qc) = (eb / tb, ec / tc);
        let q0 = (eb + ec) / (tb + tc);
        let shown = |q: f64| if up { q } else { 1.0 - q };
        let dispersion = if qb > 0.0 && qb < 1.0 && b.len() >= 2 {
            let chi2: f64 = b
                .iter()
                .map(|&(x, r)| (x * r - r * qb).powi(2) / (r * qb * (1.0 - qb)))
                .sum();
            chi2 / (b.len() - 1) as f64
        } else {
            1.0
        };
        if !(q0 > 0.0 && q0 < 1.0) {
            // No event in either arm (or nothing else): no evidence either way.
            return Pooled {
                baseline: shown(qb),
                canary: shown(qc),
                dispersion,
                p: 1.0,
                z: 0.0,
            };
        }
        let se = (dispersion * q0 * (1.0 - q0) * (1.0 / tb + 1.0 / tc)).sqrt();
        let z = if se > 0.0 {
            (qc - qb) / se
        } else if qc > qb {
            f64::INFINITY
        } else {
            0.0
        };
        let df = (b.len() - 1) as f64;
        let p_over = StudentsT::new(0.0, 1.0, df).map_or(1.0, |t| 1.0 - t.cdf(z));
        // Exact: P(X ≥ e_C) for X ~ Binomial(E, T_C / (T_B + T_C)), counts rounded.
        let (e, k) = ((eb + ec).round(), ec.round());
        let share = tc / (tb + tc);
        let p_exact = if k <= 0.0 {
            1.0
        } else if k > e {
            0.0
        } else {
            beta_reg(k, e - k + 1.0, share)
        };
        Pooled {
            baseline: shown(qb),
            canary: shown(qc),
            dispersion,
            p: p_over.max(p_exact),
            z,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(events: &[f64], totals: &[f64]) -> Sample {
        Sample::Counts {
            events: events.to_vec(),
            totals: totals.to_vec(),
        }
    }

    #[test]
    fn one_event_of_a_small_canary_is_no_evidence() {
        // 1% of traffic: one error in 100 requests against none in 10,000 — the normal
        // approximation's z is ~10; the exact conditional p is the canary's share, ~1%.
        let pair = MetricPair {
            baseline: counts(&[0.0, 0.0, 0.0], &[3334.0, 3333.0, 3333.0]),
            canary: counts(&[1.0], &[100.0]),
        };
        let t = PooledShares::of(&pair, 1.0).expect("shares").test(true);
        assert!(t.z > 5.0, "{t:?}");
        assert!((t.p - 100.0 / 10_100.0).abs() < 1e-9, "{t:?}");
    }

    #[test]
    fn a_doubled_rate_over_many_requests_is_far_beyond() {
        let pair = MetricPair {
            baseline: counts(&[75.0, 80.0, 70.0, 77.0, 73.0, 75.0], &[15000.0; 6]),
            canary: counts(&[150.0, 148.0, 152.0, 75.0, 70.0, 160.0], &[15000.0; 6]),
        };
        let t = PooledShares::of(&pair, 1.0).expect("shares").test(true);
        assert!(t.p < 1e-5 && t.z > 8.0 && t.dispersion < 1.5, "{t:?}");
        // The other side sees nothing.
        let low = PooledShares::of(&pair, 1.0).expect("shares").test(false);
        assert!(low.p > 0.5, "{low:?}");
    }

    #[test]
    fn bursty_baselines_widen_the_test() {
        // The baseline's intervals scatter 10 times more than sampling: φ large, the same
        // canary share is no longer beyond.
        let calm = [75.0, 80.0, 70.0, 77.0, 73.0, 75.0];
        let bursty = [20.0, 150.0, 40.0, 130.0, 60.0, 50.0];
        let canary = counts(&[100.0; 6], &[15000.0; 6]);
        let p = |b: &[f64]| {
            PooledShares::of(
                &MetricPair {
                    baseline: counts(b, &[15000.0; 6]),
                    canary: canary.clone(),
                },
                1.0,
            )
            .expect("shares")
            .test(true)
        };
        let (a, b) = (p(&calm), p(&bursty));
        assert!(a.p < 0.005, "{a:?}");
        assert!(b.dispersion > 10.0 && b.p > 0.05, "{b:?}");
    }
}
