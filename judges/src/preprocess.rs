//! Preprocessing shared by every judge: the NaN strategy, then (when enabled) IQR outlier
//! removal on each arm separately. The output is sorted ascending, which makes every judge
//! invariant to the order of the input by construction.

use crate::options::{NanStrategy, Outliers};
use crate::stats::{percentile_sorted, sort_floats};

/// Apply the NaN strategy (non-finite values count as NaN) and the outlier rule,
/// returning the surviving values sorted ascending.
pub fn preprocess(values: &[f64], nan: NanStrategy, outliers: Outliers) -> Vec<f64> {
    let mut v: Vec<f64> = match nan {
        NanStrategy::Remove => values.iter().copied().filter(|x| x.is_finite()).collect(),
        NanStrategy::Replace => values
            .iter()
            .map(|&x| if x.is_finite() { x } else { 0.0 })
            .collect(),
    };
    sort_floats(&mut v);
    match outliers {
        Outliers::Keep => v,
        Outliers::Remove { factor } => remove_outliers_sorted(v, factor),
    }
}

/// Fences of the reduced-sensitivity IQR rule on sorted values:
/// lower = min(P1, Q1 − f·IQR), upper = max(P99, Q3 + f·IQR), percentiles of type R-7.
/// `None` for an empty slice.
pub fn outlier_fences(sorted: &[f64], factor: f64) -> Option<(f64, f64)> {
    if sorted.is_empty() {
        return None;
    }
    let q1 = percentile_sorted(sorted, 0.25);
    let q3 = percentile_sorted(sorted, 0.75);
    let iqr = q3 - q1;
    let lower = percentile_sorted(sorted, 0.01).min(q1 - factor * iqr);
    let upper = percentile_sorted(sorted, 0.99).max(q3 + factor * iqr);
    Some((lower, upper))
}

fn remove_outliers_sorted(sorted: Vec<f64>, factor: f64) -> Vec<f64> {
    match outlier_fences(&sorted, factor) {
        None => sorted,
        Some((lower, upper)) => sorted
            .into_iter()
            .filter(|x| *x >= lower && *x <= upper)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_drops_nan_and_infinities_and_sorts() {
        let out = preprocess(
            &[3.0, f64::NAN, 1.0, f64::INFINITY, 2.0, f64::NEG_INFINITY],
            NanStrategy::Remove,
            Outliers::Keep,
        );
        assert_eq!(out, vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn replace_turns_nan_into_zero() {
        let out = preprocess(&[3.0, f64::NAN, 1.0], NanStrategy::Replace, Outliers::Keep);
        assert_eq!(out, vec![0.0, 1.0, 3.0]);
    }

    #[test]
    fn iqr_rule_removes_far_values_only() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        v.push(10_000.0);
        let out = preprocess(&v, NanStrategy::Remove, Outliers::Remove { factor: 3.0 });
        assert_eq!(out.len(), 100);
        assert_eq!(*out.last().expect("non-empty"), 100.0);
    }

    #[test]
    fn p1_p99_fences_protect_the_bulk_when_iqr_is_zero() {
        // IQR is 0, so Q1 − 3·IQR = Q3 + 3·IQR = 5; P1 and P99 widen the fences, so only
        // values beyond P1/P99 are dropped.
        let mut v = vec![5.0; 200];
        v.push(1.0);
        v.push(9.0);
        let (lo, hi) = outlier_fences(
            &{
                let mut s = v.clone();
                sort_floats(&mut s);
                s
            },
            3.0,
        )
        .expect("non-empty");
        assert_eq!((lo, hi), (5.0, 5.0));
        let out = preprocess(&v, NanStrategy::Remove, Outliers::Remove { factor: 3.0 });
        assert_eq!(out, vec![5.0; 200]);
        // With a wide spread, P1 and P99 lie inside the IQR fences and change nothing.
        let wide: Vec<f64> = (0..1000).map(f64::from).collect();
        let (lo, hi) = outlier_fences(&wide, 3.0).expect("non-empty");
        assert!(lo < 0.0 && hi > 999.0);
    }
}
