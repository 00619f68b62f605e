//! Prometheus counter arithmetic: increments of cumulative counters across process
//! restarts, and per-bucket counts from cumulative (`le`) histogram buckets.
//!
//! Pure functions, shared by the Prometheus collector and the scenario simulator
//! ([`crate::sim`]), so both read counters the way Prometheus' `increase()` does:
//!
//! - **Reset rule**: a counter only goes up; when a sample is *below* the previous one the
//!   process restarted and the counter began again at 0, so the increment is the new value
//!   itself. Counts between the previous sample and the restart are lost (Prometheus
//!   cannot see them either). The rule applies to every series on its own, including each
//!   `le` bucket of a histogram.
//! - **Buckets**: `_bucket{le}` series are cumulative in `le`. After resets are applied to
//!   each `le` series independently, the increments can be slightly non-monotone in `le`;
//!   like `histogram_quantile`, [`bucket_counts`] lifts each bucket to at least the one
//!   below before taking differences, so no bucket count is negative.

/// The increment of a counter from `prev` to `cur` under Prometheus' reset rule: `cur −
/// prev`, or `cur` when the counter went down (a restart).
#[inline]
pub fn increase(prev: f64, cur: f64) -> f64 {
    if cur < prev { cur } else { cur - prev }
}

/// Increments between consecutive samples of one cumulative counter (one value fewer
/// than samples): `increase(cumulative[i − 1], cumulative[i])`.
pub fn increments(cumulative: &[f64]) -> Vec<f64> {
    cumulative
        .windows(2)
        .map(|w| increase(w[0], w[1]))
        .collect()
}

/// Increments of a counter that started at 0 before its first sample: one value per
/// sample, the first being the first sample itself.
pub fn increments_from_zero(cumulative: &[f64]) -> Vec<f64> {
    let mut prev = 0.0;
    cumulative
        .iter()
        .map(|&c| {
            let inc = increase(prev, c);
            prev = c;
            inc
        })
        .collect()
}

/// Per-bucket counts from increments of cumulative (`le`, ascending) bucket counters,
/// written into `out` (resized to match): bucket `i` holds the observations in
/// `(le[i − 1], le[i]]`. Non-monotone input is lifted to a running maximum first, as
/// `histogram_quantile` does, so every count is ≥ 0.
pub fn bucket_counts_into(le_cumulative: &[f64], out: &mut Vec<f64>) {
    out.clear();
    out.reserve(le_cumulative.len());
    let mut below = 0.0_f64;
    for &c in le_cumulative {
        let lifted = if c > below { c } else { below };
        out.push(lifted - below);
        below = lifted;
    }
}

/// [`bucket_counts_into`] into a new vector.
pub fn bucket_counts(le_cumulative: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(le_cumulative.len());
    bucket_counts_into(le_cumulative, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increments_without_resets_are_differences() {
        assert_eq!(increments(&[0.0, 5.0, 5.0, 12.0]), vec![5.0, 0.0, 7.0]);
        assert_eq!(increments(&[3.0]), Vec::<f64>::new());
        assert_eq!(increments(&[]), Vec::<f64>::new());
    }

    #[test]
    fn a_decrease_is_a_restart_and_counts_the_new_value() {
        // 10 → restart → 4: the 4 after the restart are counted, whatever came between
        // 10 and the restart is lost.
        assert_eq!(increments(&[0.0, 10.0, 4.0, 9.0]), vec![10.0, 4.0, 5.0]);
        // A restart to exactly 0.
        assert_eq!(increments(&[7.0, 0.0, 2.0]), vec![0.0, 2.0]);
        // A restart that climbs past the old value is invisible: only the difference counts.
        assert_eq!(increments(&[3.0, 8.0]), vec![5.0]);
    }

    #[test]
    fn increments_from_zero_count_the_first_sample() {
        assert_eq!(
            increments_from_zero(&[4.0, 6.0, 1.0, 3.0]),
            vec![4.0, 2.0, 1.0, 2.0]
        );
        let total: f64 = increments_from_zero(&[4.0, 6.0, 1.0, 3.0]).iter().sum();
        assert_eq!(total, 9.0);
    }

    #[test]
    fn bucket_counts_difference_cumulative_buckets() {
        assert_eq!(
            bucket_counts(&[1.0, 4.0, 4.0, 10.0]),
            vec![1.0, 3.0, 0.0, 6.0]
        );
        assert_eq!(bucket_counts(&[]), Vec::<f64>::new());
    }

    #[test]
    fn non_monotone_buckets_are_lifted_not_negative() {
        // After a restart, per-`le` reset detection can leave a lower bucket above a higher one.
        let counts = bucket_counts(&[4.0, 1.0, 6.0]);
        assert_eq!(counts, vec![4.0, 0.0, 2.0]);
        assert!(counts.iter().all(|c| *c >= 0.0));
    }

    #[test]
    fn bucket_counts_into_reuses_the_buffer() {
        let mut out = vec![9.0; 10];
        bucket_counts_into(&[2.0, 3.0], &mut out);
        assert_eq!(out, vec![2.0, 1.0]);
    }
}
