//! Small descriptive statistics on NaN-free slices: mean, sample standard deviation,
//! and percentiles by linear interpolation (Hyndman–Fan type 7, R's default).

/// Arithmetic mean; NaN for an empty slice.
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

/// Sample standard deviation around `mean` (n − 1 denominator); 0 for fewer than 2 values.
pub fn sample_std(values: &[f64], mean: f64) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    (ss / (values.len() - 1) as f64).sqrt()
}

/// Percentile `p` in [0, 1] of ascending `sorted` values, type R-7:
/// h = (n − 1)·p, interpolating linearly between the order statistics around h.
/// NaN for an empty slice.
pub fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let p = p.clamp(0.0, 1.0);
    let h = (n - 1) as f64 * p;
    let lo = h.floor() as usize;
    if lo + 1 >= n {
        return sorted[n - 1];
    }
    let frac = h - lo as f64;
    sorted[lo] + frac * (sorted[lo + 1] - sorted[lo])
}

/// Sort a vector of NaN-free floats ascending (total order).
pub fn sort_floats(values: &mut [f64]) {
    values.sort_unstable_by(f64::total_cmp);
}

/// One-sided Clopper–Pearson bound on a binomial proportion from `k` of `n`: the upper
/// bound (`upper`) errs low with probability ≤ α, the lower one errs high with ≤ α.
pub fn clopper_pearson(k: f64, n: f64, alpha: f64, upper: bool) -> f64 {
    use statrs::distribution::{Beta, ContinuousCDF};
    if n <= 0.0 {
        return if upper { 1.0 } else { 0.0 };
    }
    if upper {
        if k >= n {
            return 1.0;
        }
        Beta::new(k + 1.0, n - k).map_or(1.0, |b| b.inverse_cdf(1.0 - alpha))
    } else {
        if k <= 0.0 {
            return 0.0;
        }
        Beta::new(k, n - k + 1.0).map_or(0.0, |b| b.inverse_cdf(alpha))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r7_percentiles_match_r_quantile_type_7() {
        // R: quantile(c(1, 2, 4, 8, 16), c(0, .01, .25, .5, .75, .99, 1))
        let v = [1.0, 2.0, 4.0, 8.0, 16.0];
        let expect = [
            (0.0, 1.0),
            (0.01, 1.04),
            (0.25, 2.0),
            (0.5, 4.0),
            (0.75, 8.0),
            (0.99, 15.68),
            (1.0, 16.0),
        ];
        for (p, q) in expect {
            assert!((percentile_sorted(&v, p) - q).abs() < 1e-12, "p={p}");
        }
        assert_eq!(percentile_sorted(&[3.0], 0.3), 3.0);
        assert!(percentile_sorted(&[], 0.5).is_nan());
    }

    #[test]
    fn std_uses_n_minus_one() {
        let v = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let m = mean(&v);
        assert_eq!(m, 5.0);
        assert!((sample_std(&v, m) - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert_eq!(sample_std(&[1.0], 1.0), 0.0);
    }
}
