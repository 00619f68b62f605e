//! Distributions as bucket counts: Prometheus histograms as they are, and raw per-request
//! samples folded into log-spaced buckets so memory stays bounded.
//!
//! Raw samples: a value x > 0 goes to bucket ⌈ln(x / min) / ln γ⌉ of width factor γ
//! (1% by default), so 1 µs … 1,000 s takes about 2,100 buckets whatever the traffic. The
//! cost is resolution: a quantile is only known to its bucket, so every bound is rounded
//! *outwards* to a bucket edge — intervals widen by at most one bucket (1%), and no
//! decision becomes less safe. Values ≤ `min` share the first bucket, values ≥ `max` the last.

/// Bucket bounds that do not make a histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketsError {
    Empty,
    NotAscending,
    FloorAbove,
}

impl std::fmt::Display for BucketsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BucketsError::Empty => "a histogram needs at least one bucket",
            BucketsError::NotAscending => "bucket bounds must be strictly ascending numbers",
            BucketsError::FloorAbove => "the floor must lie below the first bucket bound",
        })
    }
}

impl std::error::Error for BucketsError {}

/// Upper bounds (Prometheus `le`) of a histogram's buckets, ascending; the last may be +∞.
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    bounds: Vec<f64>,
    /// Lower edge of the first bucket (0 for latencies).
    floor: f64,
}

impl Buckets {
    /// Buckets with these upper bounds (ascending, no NaN) above `floor`.
    pub fn new(bounds: Vec<f64>, floor: f64) -> Result<Self, BucketsError> {
        if bounds.is_empty() {
            return Err(BucketsError::Empty);
        }
        if bounds.iter().any(|b| b.is_nan()) || !bounds.windows(2).all(|w| w[0] < w[1]) {
            return Err(BucketsError::NotAscending);
        }
        if floor >= bounds[0] {
            return Err(BucketsError::FloorAbove);
        }
        Ok(Buckets { bounds, floor })
    }

    /// Log-spaced buckets for raw samples: relative width `rel` (0.01 = 1%) from `min` to
    /// at least `max`, plus a last bucket up to +∞.
    pub fn log_spaced(min: f64, max: f64, rel: f64) -> Self {
        let gamma = 1.0 + rel;
        let n = ((max / min).ln() / gamma.ln()).ceil() as usize + 1;
        let mut bounds: Vec<f64> = (0..n).map(|k| min * gamma.powi(k as i32)).collect();
        bounds.push(f64::INFINITY);
        Buckets { bounds, floor: 0.0 }
    }

    pub fn len(&self) -> usize {
        self.bounds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bounds.is_empty()
    }

    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }

    pub fn floor(&self) -> f64 {
        self.floor
    }

    /// Lower edge of bucket `j`.
    pub fn lower_edge(&self, j: usize) -> f64 {
        if j == 0 {
            self.floor
        } else {
            self.bounds[j - 1]
        }
    }

    /// Index of the bucket a value falls in (first bound ≥ x).
    pub fn index(&self, x: f64) -> usize {
        self.bounds
            .partition_point(|b| *b < x)
            .min(self.bounds.len() - 1)
    }
}

/// Fast bucket index for [`Buckets::log_spaced`] without a search.
#[derive(Debug, Clone, Copy)]
pub struct LogIndex {
    min: f64,
    inv_ln_gamma: f64,
    last: usize,
}

impl LogIndex {
    pub fn new(min: f64, rel: f64, buckets: &Buckets) -> Self {
        LogIndex {
            min,
            inv_ln_gamma: 1.0 / (1.0 + rel).ln(),
            last: buckets.len() - 1,
        }
    }

    /// The bucket of `x` (≤ min → 0). Rounding near a bound may put a value one bucket
    /// up, which only moves it by less than the bucket's width.
    #[inline]
    pub fn index(&self, x: f64) -> usize {
        if x <= self.min {
            return 0;
        }
        let k = ((x / self.min).ln() * self.inv_ln_gamma).ceil();
        if k >= self.last as f64 {
            self.last
        } else {
            k as usize
        }
    }
}

/// Counts per bucket of one arm, accumulated over batches.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmHistogram {
    counts: Vec<f64>,
    total: f64,
}

impl ArmHistogram {
    pub fn new(buckets: usize) -> Self {
        ArmHistogram {
            counts: vec![0.0; buckets],
            total: 0.0,
        }
    }

    pub fn total(&self) -> f64 {
        self.total
    }

    /// Add a batch of bucket counts (same layout). Negative counts (counter resets
    /// handled upstream) are ignored.
    pub fn add_counts(&mut self, batch: &[f64]) {
        for (c, b) in self.counts.iter_mut().zip(batch) {
            if *b > 0.0 {
                *c += b;
                self.total += b;
            }
        }
    }

    /// Add one observation to bucket `j`.
    #[inline]
    pub fn add_one(&mut self, j: usize) {
        self.counts[j] += 1.0;
        self.total += 1.0;
    }

    /// Cumulative counts at each upper bound.
    pub fn cumulative(&self) -> Vec<f64> {
        let mut acc = 0.0;
        self.counts
            .iter()
            .map(|c| {
                acc += c;
                acc
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_buckets_bound_the_relative_error() {
        let b = Buckets::log_spaced(1e-3, 1e3, 0.01);
        let ix = LogIndex::new(1e-3, 0.01, &b);
        for x in [0.0011, 0.5, 1.0, 37.3, 999.0] {
            let j = ix.index(x);
            assert!(
                b.lower_edge(j) <= x * (1.0 + 1e-12) && x <= b.bounds()[j] * (1.0 + 1e-12),
                "{x} in bucket {j}"
            );
            assert!(b.bounds()[j] / b.lower_edge(j) <= 1.0101);
            assert!(j.abs_diff(b.index(x)) <= 1);
        }
        assert_eq!(ix.index(0.0), 0);
        assert_eq!(ix.index(1e9), b.len() - 1);
        assert!(b.len() < 1500);
    }

    #[test]
    fn rejects_bad_bounds() {
        assert!(Buckets::new(vec![], 0.0).is_err());
        assert!(Buckets::new(vec![1.0, 1.0], 0.0).is_err());
        assert!(Buckets::new(vec![1.0, f64::NAN], 0.0).is_err());
        assert!(Buckets::new(vec![1.0, 2.0, f64::INFINITY], 0.0).is_ok());
    }
}
