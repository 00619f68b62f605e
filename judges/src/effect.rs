//! Effect sizes: how large a change is, independent of whether it is significant.

use crate::mann_whitney::MannWhitney;
use crate::options::EffectSizeMeasure;

/// mean(canary) / mean(baseline); NaN when either mean is 0 (as Kayenta).
pub fn mean_ratio(canary_mean: f64, baseline_mean: f64) -> f64 {
    if canary_mean == 0.0 || baseline_mean == 0.0 {
        f64::NAN
    } else {
        canary_mean / baseline_mean
    }
}

/// Common-language effect size of sorted, finite, non-empty arms:
/// P(canary > baseline) + ½·P(canary = baseline). NaN when an arm is empty.
pub fn cles(canary_sorted: &[f64], baseline_sorted: &[f64]) -> f64 {
    match MannWhitney::from_sorted(canary_sorted.to_vec(), baseline_sorted.to_vec()) {
        Ok(mw) => mw.cles(),
        Err(_) => f64::NAN,
    }
}

/// The configured effect size of two preprocessed arms.
pub fn effect_size(
    measure: EffectSizeMeasure,
    canary_sorted: &[f64],
    baseline_sorted: &[f64],
    canary_mean: f64,
    baseline_mean: f64,
) -> f64 {
    match measure {
        EffectSizeMeasure::MeanRatio => mean_ratio(canary_mean, baseline_mean),
        EffectSizeMeasure::Cles => cles(canary_sorted, baseline_sorted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_ratio_is_nan_on_zero_means() {
        assert_eq!(mean_ratio(2.0, 1.0), 2.0);
        assert!(mean_ratio(0.0, 1.0).is_nan());
        assert!(mean_ratio(1.0, 0.0).is_nan());
    }

    #[test]
    fn cles_counts_wins_and_half_ties() {
        // canary [2, 3] vs baseline [1, 2]: pairs (2>1) (2=2) (3>1) (3>2) → (3 + 0.5) / 4.
        assert_eq!(cles(&[2.0, 3.0], &[1.0, 2.0]), 0.875);
        assert_eq!(cles(&[1.0], &[1.0]), 0.5);
        assert!(cles(&[], &[1.0]).is_nan());
    }
}
