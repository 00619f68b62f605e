//! The fixed-sample oracle of a regression scenario: how many canary requests a test that
//! knew the true effect in advance would need — the limit against which a sequential
//! judge's cost is read (issue 31: "within 4× of the oracle").
//!
//! The oracle is a one-sided fixed-sample test at the analysis' α whose sample size is
//! chosen for the scenario's true effect, at 50% power (so it is the median sample size of
//! "the first n at which the fixed test would reject", to first order):
//!
//! - **latency** (`latency_shift`, `tail_shift`, `median_shift`): the most powerful of
//!   - the Mann–Whitney rank test (the oracle, right for shifts of the whole
//!     distribution). With n_c canary and n_b = r·n_c baseline requests, U / (n_b n_c) has
//!     mean p = P(canary latency > baseline latency) and, under "no change", variance
//!     (n_b + n_c + 1) / (12 n_b n_c) ≈ (1 + r) / (12 r n_c) (Noether 1987), so 50% power
//!     at level α needs n_c = z²_{1−α} (1 + r) / (12 r (p − ½)²) — with r = 1,
//!     z² / (6 (p − ½)²);
//!   - the two-proportion test of the share of requests slower than a baseline quantile
//!     q ∈ [`THRESHOLDS`] (right for a change of the tail alone, where the rank test is
//!     nearly blind: a p99-only +50% moves p by 0.001), with the shares' sample size below;
//! - **errors** (`error_rate`, `crash_loop`): the two-proportion z test, n_c = z²_{1−α}
//!   p̄ (1 − p̄) (1 + 1/r) / (p₁ − p₀)², p̄ the rates' mean weighted by the arms' shares.
//!
//! p is computed exactly for the simulator's latency shape (lognormal body with an optional
//! Pareto tail, in `sim::scenario::shape`), by integrating the baseline's CDF over the
//! canary's quantiles: p = ∫₀¹ F(g(Q(u))) du, g the change (a shift of ln-latency, or the
//! quantile warp). What the oracle leaves out, on purpose: host spread, diurnal and AR(1)
//! levels (both arms share them; they make the judges' task harder, not the effect
//! larger), warm-up, and a change's onset (requests count from the onset). Scenarios with
//! more than one regression change, or a change on some hosts only, have no oracle.

use statrs::distribution::{Binomial, ContinuousCDF, DiscreteCDF, Normal};

use crate::sim::scenario::shape::Shape;
use crate::sim::scenario::{ChangeKind, Scenario};

/// Points of the midpoint rule over the canary's quantile levels.
pub const GRID: usize = 20_000;

/// Baseline quantile levels whose exceedance shares the oracle may test.
pub const THRESHOLDS: [f64; 6] = [0.5, 0.75, 0.9, 0.95, 0.99, 0.999];

/// The oracle of one scenario.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Oracle {
    /// Canary requests the fixed-sample test needs (50% power at α, one-sided).
    pub canary_requests: f64,
    /// Which test: `"rank"` or `"share above pNN"` (latency), `"proportions"` (errors).
    pub test: &'static str,
}

/// The oracle of `scenario` at level `alpha`, when it has one (see the module doc).
pub fn oracle(scenario: &Scenario, alpha: f64) -> Option<Oracle> {
    let base = scenario.errors.rate;
    let mut regressions = scenario.changes.iter().filter(|c| c.is_regression(base));
    let change = regressions.next()?;
    if regressions.next().is_some() || change.hosts_affected.is_some() {
        return None;
    }
    let share = scenario.traffic.canary_share;
    let valid = share > 0.0 && share < 1.0 && alpha > 0.0 && alpha < 0.5;
    if !valid {
        return None;
    }
    // Baseline requests per canary request.
    let r = (1.0 - share) / share;
    let z = Normal::standard().inverse_cdf(1.0 - alpha);
    let shape = scenario.latency.shape();
    match change.kind {
        ChangeKind::LatencyShift => {
            let shift = change.factor.ln();
            latency_oracle(&shape, |x| x + shift, z, r, share)
        }
        ChangeKind::TailShift { .. } | ChangeKind::MedianShift { .. } => {
            let warp = change.warp(&shape)?.ok()?;
            latency_oracle(&shape, |x| warp.apply(x), z, r, share)
        }
        ChangeKind::ErrorRate | ChangeKind::CrashLoop => {
            let p1 = if change.kind == ChangeKind::CrashLoop {
                change.factor
            } else {
                base * change.factor
            }
            .clamp(0.0, 1.0);
            let d = p1 - base;
            if d <= 0.0 {
                return None;
            }
            proportions_oracle(base, p1, z, r, share, "proportions")
        }
        ChangeKind::WarmupSpike => None,
    }
}

/// The two-proportion test of shares p₀ (baseline) and p₁ (canary), as in the module doc.
fn proportions_oracle(
    p0: f64,
    p1: f64,
    z: f64,
    r: f64,
    share: f64,
    test: &'static str,
) -> Option<Oracle> {
    let d = p1 - p0;
    if d <= 0.0 {
        return None;
    }
    let pbar = share * p1 + (1.0 - share) * p0;
    Some(Oracle {
        canary_requests: z * z * pbar * (1.0 - pbar) * (1.0 + 1.0 / r) / (d * d),
        test,
    })
}

/// The most powerful of the rank test and the share-above-quantile tests for a canary
/// whose ln-latency is `g` of a baseline draw.
fn latency_oracle(
    shape: &Shape,
    g: impl Fn(f64) -> f64 + Copy,
    z: f64,
    r: f64,
    share: f64,
) -> Option<Oracle> {
    const NAMES: [&str; 6] = [
        "share above p50",
        "share above p75",
        "share above p90",
        "share above p95",
        "share above p99",
        "share above p99.9",
    ];
    // The canary's ln-latency at each level of the grid, computed once.
    let canary: Vec<f64> = grid().map(|u| g(shape.ln_quantile(u))).collect();
    let rank = rank_oracle(superiority_of(shape, &canary), z, r);
    THRESHOLDS
        .iter()
        .zip(NAMES)
        .filter_map(|(&q, name)| {
            let threshold = shape.ln_quantile(q);
            let above = canary.iter().filter(|&&x| x > threshold).count();
            let p1 = above as f64 / canary.len() as f64;
            proportions_oracle(1.0 - q, p1, z, r, share, name)
        })
        .chain(rank)
        .min_by(|a, b| a.canary_requests.total_cmp(&b.canary_requests))
}

/// The midpoints of [`GRID`] equal steps of (0, 1).
fn grid() -> impl Iterator<Item = f64> {
    (0..GRID).map(|k| (k as f64 + 0.5) / GRID as f64)
}

fn rank_oracle(p: f64, z: f64, r: f64) -> Option<Oracle> {
    let d = p - 0.5;
    (d > 0.0).then(|| Oracle {
        canary_requests: z * z * (1.0 + r) / (12.0 * r * d * d),
        test: "rank",
    })
}

/// P(canary > baseline) when the canary's ln-latency is `g` of a draw of the baseline's:
/// ∫₀¹ F(g(Q(u))) du by the midpoint rule on [`GRID`] levels.
pub fn superiority(shape: &Shape, g: impl Fn(f64) -> f64) -> f64 {
    let canary: Vec<f64> = grid().map(|u| g(shape.ln_quantile(u))).collect();
    superiority_of(shape, &canary)
}

/// P(canary > baseline) from the canary's ln-latency at the grid's levels.
fn superiority_of(shape: &Shape, canary: &[f64]) -> f64 {
    canary.iter().map(|&x| shape.cdf(x.exp())).sum::<f64>() / canary.len() as f64
}

/// The promotion ceiling of a no-change scenario from its error counts: the probability
/// that the most powerful fixed-sample level-`alpha` test of "the canary's error rate is
/// at least `band` times the baseline's" rejects, when nothing changed — so no test of the
/// error band, sequential or not, can promote more often (the latency pass only lowers
/// it further).
///
/// Given the total errors n, the canary's count is Binomial(n, π) with π the canary's
/// share of requests when the rates are equal, and π₀ = band·s / (band·s + 1 − s) at the
/// band's edge (s the canary's share of requests); the uniformly most powerful one-sided
/// test rejects when the count is at most the largest c with P(Bin(n, π₀) ≤ c) ≤ α
/// (conditioning on n makes it exact for Poisson counts; randomisation, which only a
/// lottery could use, is left out). n is Poisson with the scenario's expected errors over
/// its duration at its nominal traffic (diurnal swings and missing scrapes left out).
/// `None` for scenarios with a regression, no errors or a degenerate split.
pub fn error_pass_ceiling(scenario: &Scenario, alpha: f64, band: f64) -> Option<f64> {
    let base = scenario.errors.rate;
    if scenario.changes.iter().any(|c| c.is_regression(base)) {
        return None;
    }
    let s = scenario.traffic.canary_share;
    let valid = s > 0.0 && s < 1.0 && base > 0.0 && band > 1.0 && alpha > 0.0 && alpha < 0.5;
    if !valid {
        return None;
    }
    let lambda = scenario.traffic.rps * scenario.duration_s * base;
    let (pi, pi0) = (s, band * s / (band * s + 1.0 - s));
    let ln_poisson =
        |n: f64| -lambda + n * lambda.ln() - statrs::function::gamma::ln_gamma(n + 1.0);
    let sd = lambda.sqrt();
    let (lo, hi) = (
        (lambda - 8.0 * sd - 10.0).max(0.0) as u64,
        (lambda + 8.0 * sd + 10.0) as u64,
    );
    let mut ceiling = 0.0;
    for n in lo.max(1)..=hi {
        let (Ok(edge), Ok(same)) = (Binomial::new(pi0, n), Binomial::new(pi, n)) else {
            continue;
        };
        // The largest c with P(Bin(n, π₀) ≤ c) ≤ α: none when even 0 is too likely.
        let first_above = edge.inverse_cdf(alpha);
        let c = if edge.cdf(first_above) <= alpha {
            Some(first_above)
        } else {
            first_above.checked_sub(1)
        };
        if let Some(c) = c {
            ceiling += ln_poisson(n as f64).exp() * same.cdf(c);
        }
    }
    Some(ceiling.min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Oracle: for lognormal latency a shift δ of ln-latency gives p = Φ(δ / (σ√2)).
    #[test]
    fn superiority_of_a_lognormal_shift_is_known_in_closed_form() {
        let n = Normal::standard();
        for (sigma, factor) in [(1.0, 1.1), (1.0, 1.5), (0.5, 1.2), (2.0, 3.0)] {
            let d: f64 = f64::ln(factor);
            let p = superiority(&Shape::lognormal(sigma), |x| x + d);
            let want = n.cdf(d / (sigma * std::f64::consts::SQRT_2));
            assert!(
                (p - want).abs() < 2e-4,
                "σ {sigma}, ×{factor}: {p} vs {want}"
            );
        }
        // No change: one half.
        assert!((superiority(&Shape::lognormal(1.0), |x| x) - 0.5).abs() < 1e-9);
    }

    /// The numbers the issue quotes: +10% on lognormal σ = 1 needs about 1,250 canary
    /// requests at α = 0.01, +50% about 70, and errors 0.1% → 0.5% about 2,020.
    #[test]
    fn the_oracle_matches_the_textbook_sample_sizes() {
        let z = Normal::standard().inverse_cdf(0.99);
        let at = |factor: f64| {
            let p = superiority(&Shape::lognormal(1.0), |x| x + factor.ln());
            rank_oracle(p, z, 1.0)
                .expect("a regression")
                .canary_requests
        };
        let plus10 = at(1.1);
        let plus50 = at(1.5);
        assert!((1200.0..1300.0).contains(&plus10), "{plus10}");
        assert!((65.0..76.0).contains(&plus50), "{plus50}");
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("datasets/scenarios");
        let s = Scenario::load(&dir.join("errors-0.1-to-0.5.toml")).expect("shipped scenario");
        let o = oracle(&s, 0.01).expect("an error regression");
        assert_eq!(o.test, "proportions");
        assert!((1950.0..2100.0).contains(&o.canary_requests), "{o:?}");
        let s = Scenario::load(&dir.join("latency-plus-10.toml")).expect("shipped scenario");
        let o = oracle(&s, 0.01).expect("a latency regression");
        assert_eq!(o.test, "rank");
        assert!((1200.0..1300.0).contains(&o.canary_requests), "{o:?}");
        // A change of the tail alone: the rank test is nearly blind to it (p − ½ ≈ 0.001,
        // over a million requests); the share above a high quantile is the oracle.
        let s = Scenario::load(&dir.join("p99-plus-50.toml")).expect("shipped scenario");
        let o = oracle(&s, 0.01).expect("a tail regression");
        assert!(o.test.starts_with("share above p9"), "{o:?}");
        assert!(o.canary_requests < 20_000.0, "{o:?}");
        // A change on one host only has no pooled oracle; nor has a scenario without one.
        let s = Scenario::load(&dir.join("one-host-2x-slower.toml")).expect("shipped scenario");
        assert_eq!(oracle(&s, 0.01), None);
        let s = Scenario::load(&dir.join("nochange-lognormal.toml")).expect("shipped scenario");
        assert_eq!(oracle(&s, 0.01), None);
    }

    /// A 1% split needs about half the canary requests of a 50/50 one for the same effect:
    /// the baseline is then known almost exactly, so only the canary's own noise is left
    /// (at 50/50 each arm brings half). The factor is (1 + r) / (2r), ½ as r grows.
    #[test]
    fn unequal_arms_follow_the_variance_formula() {
        let z = Normal::standard().inverse_cdf(0.99);
        let even = rank_oracle(0.6, z, 1.0).unwrap().canary_requests;
        let many = rank_oracle(0.6, z, 99.0).unwrap().canary_requests;
        assert!(
            (many / even - 100.0 / 198.0).abs() < 1e-9,
            "{many} vs {even}"
        );
    }

    /// Oracle (an independent computation of the same sum, exact binomial and Poisson
    /// terms in Python): `nochange-lognormal` (~45 errors per arm, ×2 band, α = 0.01)
    /// has a ceiling of 0.790; ~60 errors per arm 0.903, ~90 0.984. More errors, a wider
    /// band or a larger α raise it; regressions have none.
    #[test]
    fn the_error_pass_ceiling_matches_an_independent_sum() {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("datasets/scenarios");
        let mut s = Scenario::load(&dir.join("nochange-lognormal.toml")).expect("shipped scenario");
        let c45 = error_pass_ceiling(&s, 0.01, 2.0).expect("no change");
        assert!((c45 - 0.790).abs() < 0.003, "{c45}");
        s.traffic.rps = 50.0 * 60.0 / 45.0;
        let c60 = error_pass_ceiling(&s, 0.01, 2.0).expect("no change");
        assert!((c60 - 0.903).abs() < 0.003, "{c60}");
        s.traffic.rps = 100.0;
        let c90 = error_pass_ceiling(&s, 0.01, 2.0).expect("no change");
        assert!((c90 - 0.984).abs() < 0.003, "{c90}");
        assert!(error_pass_ceiling(&s, 0.05, 2.0).unwrap() > c90);
        assert!(error_pass_ceiling(&s, 0.01, 3.0).unwrap() > c90);
        let s = Scenario::load(&dir.join("errors-x2-at-10min.toml")).expect("shipped scenario");
        assert_eq!(error_pass_ceiling(&s, 0.01, 2.0), None);
    }
}
