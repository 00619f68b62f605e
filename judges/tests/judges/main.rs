//! Integration tests of canary-judges: one binary, one module per area.

mod band;
mod conformance;
mod hosts;
mod onsets;
mod oracle;
mod pass;
mod rank;
mod rules;
mod sequential_fixtures;
mod short_counts;

use statrs::distribution::{Beta, ContinuousCDF};

/// One-sided 95% Clopper–Pearson upper bound of k failures in n runs.
pub fn upper_bound(k: usize, n: usize) -> f64 {
    if k >= n {
        return 1.0;
    }
    Beta::new(k as f64 + 1.0, (n - k) as f64)
        .unwrap()
        .inverse_cdf(0.95)
}
