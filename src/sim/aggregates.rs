//! Per-interval aggregates of a simulated deploy — what recording rules, CloudWatch or a
//! load balancer keep when per-request data is gone: per arm and interval, p50, p90 and
//! p99 latency (from the summed histogram, interpolated like Prometheus'
//! `histogram_quantile`), the error rate and the requests behind them.

use super::{BASELINE, CANARY, SimStep};

/// One arm's aggregates over one interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntervalPoint {
    /// Seconds since the deploy started, at the interval's end.
    pub end_s: f64,
    /// Latency quantiles (ms); NaN when the interval had no request.
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    /// Errors / requests.
    pub error_rate: f64,
    pub requests: f64,
}

/// Where intervals of `every_s` seconds end, the first counted from the first step's
/// start.
#[derive(Debug, Clone)]
struct Intervals {
    every_s: f64,
    /// End of the open interval (seconds since the start).
    until_s: Option<f64>,
}

impl Intervals {
    fn new(every_s: f64) -> Self {
        Intervals {
            every_s,
            until_s: None,
        }
    }

    /// Whether the step ending at `t_s` (`step_s` long) ends the open interval; when it
    /// does, the next one opens.
    fn ends(&mut self, t_s: f64, step_s: f64) -> bool {
        let until = *self.until_s.get_or_insert(t_s - step_s + self.every_s);
        if t_s < until - 1e-9 {
            return false;
        }
        self.until_s = Some(until + self.every_s);
        true
    }
}

/// Sums scrape steps into intervals of `every_s` seconds, per arm.
#[derive(Debug, Clone)]
pub struct Aggregator {
    intervals: Intervals,
    /// The open interval's summed buckets, requests and errors, per arm.
    open: [(Vec<f64>, f64, f64); 2],
}

impl Aggregator {
    pub fn new(every_s: f64) -> Self {
        Aggregator {
            intervals: Intervals::new(every_s),
            open: Default::default(),
        }
    }

    /// Add one scrape step (`step_s` long); when it ends an interval, that interval's
    /// points, per arm (`None` for an arm without requests).
    pub fn observe(
        &mut self,
        step: &SimStep,
        step_s: f64,
        bounds: &[f64],
    ) -> Option<[Option<IntervalPoint>; 2]> {
        for arm in [BASELINE, CANARY] {
            let a = &step.arms[arm];
            let open = &mut self.open[arm];
            if open.0.len() != a.latency_buckets.len() {
                open.0 = vec![0.0; a.latency_buckets.len()];
            }
            for (s, c) in open.0.iter_mut().zip(&a.latency_buckets) {
                *s += c;
            }
            open.1 += a.requests;
            open.2 += a.errors;
        }
        if !self.intervals.ends(step.t_s, step_s) {
            return None;
        }
        Some(
            [BASELINE, CANARY]
                .map(|arm| close(std::mem::take(&mut self.open[arm]), step.t_s, bounds)),
        )
    }
}

/// An interval's point from its summed buckets, requests and errors; `None` without
/// requests.
fn close(
    (buckets, requests, errors): (Vec<f64>, f64, f64),
    end_s: f64,
    bounds: &[f64],
) -> Option<IntervalPoint> {
    (requests > 0.0).then(|| IntervalPoint {
        end_s,
        p50: histogram_quantile(bounds, &buckets, 0.5),
        p90: histogram_quantile(bounds, &buckets, 0.9),
        p99: histogram_quantile(bounds, &buckets, 0.99),
        error_rate: errors / requests,
        requests,
    })
}

/// [`Aggregator`] per host: what a recording rule keeping the `host` label stores.
#[derive(Debug, Clone)]
pub struct HostAggregator {
    intervals: Intervals,
    /// The open interval's summed buckets, requests and errors, per arm and host.
    open: [Vec<(Vec<f64>, f64, f64)>; 2],
}

impl HostAggregator {
    pub fn new(every_s: f64) -> Self {
        HostAggregator {
            intervals: Intervals::new(every_s),
            open: Default::default(),
        }
    }

    /// Add one scrape step; when it ends an interval, each host's point per arm (`None`
    /// for a host without requests). A failed scrape has no hosts: its counts arrive with
    /// the next.
    pub fn observe(
        &mut self,
        step: &SimStep,
        step_s: f64,
        bounds: &[f64],
    ) -> Option<[Vec<Option<IntervalPoint>>; 2]> {
        for arm in [BASELINE, CANARY] {
            let hosts = &step.arms[arm].hosts;
            let open = &mut self.open[arm];
            if open.len() < hosts.len() {
                open.resize_with(hosts.len(), Default::default);
            }
            for (h, o) in hosts.iter().zip(open.iter_mut()) {
                if o.0.len() != bounds.len() {
                    o.0 = vec![0.0; bounds.len()];
                }
                for &(i, c) in &h.buckets {
                    if let Some(slot) = o.0.get_mut(i as usize) {
                        *slot += c;
                    }
                }
                o.1 += h.requests;
                o.2 += h.errors;
            }
        }
        if !self.intervals.ends(step.t_s, step_s) {
            return None;
        }
        Some([BASELINE, CANARY].map(|arm| {
            self.open[arm]
                .iter_mut()
                .map(|o| close(std::mem::take(o), step.t_s, bounds))
                .collect()
        }))
    }
}

/// The `q` quantile of bucket counts (not cumulative) over upper `bounds`, by linear
/// interpolation inside the bucket, as Prometheus' `histogram_quantile`.
pub fn histogram_quantile(bounds: &[f64], counts: &[f64], q: f64) -> f64 {
    let total: f64 = counts.iter().sum();
    if total <= 0.0 {
        return f64::NAN;
    }
    let rank = q * total;
    let mut acc = 0.0;
    for (j, (&upper, &c)) in bounds.iter().zip(counts).enumerate() {
        if acc + c >= rank && c > 0.0 {
            let lower = if j == 0 { 0.0 } else { bounds[j - 1] };
            if !upper.is_finite() {
                return lower;
            }
            return lower + (upper - lower) * (rank - acc) / c;
        }
        acc += c;
    }
    bounds
        .iter()
        .rev()
        .find(|b| b.is_finite())
        .copied()
        .unwrap_or(f64::NAN)
}
