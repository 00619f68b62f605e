//! The `band` judge's calibration: the robust centre and scale of a baseline, and the
//! critical robust z of "k of n canary intervals beyond" at a per-rule false-alarm rate,
//! under the normal model (see the parent module).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::stats::percentile_sorted;

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

/// The calibration simulates at most this many baseline intervals (fewer is conservative:
/// a smaller baseline's centre and scale are noisier) and binomial tails for at most this
/// many canary intervals (beyond, Chernoff's bound).
const CALIBRATION_MAX: usize = 32;

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
