//! What [`super::simulate_with`] reports per host and per request, for writers that need
//! more than a [`SimRun`]'s per-arm totals (the CLI writes per-host files).
//!
//! [`SimRun`]: crate::sim::SimRun

use crate::sim::SimStep;

/// One request, as an access log would record it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestRecord {
    /// Seconds since the deploy started.
    pub t_s: f64,
    pub arm: usize,
    pub host: usize,
    pub latency_ms: f64,
    pub error: bool,
}

/// One host's counters at a successful scrape.
#[derive(Debug, Clone, Copy)]
pub struct HostScrape<'a> {
    pub t_s: f64,
    pub arm: usize,
    pub host: usize,
    /// Cumulative since the process started (a restart sets them back to 0).
    pub requests_total: f64,
    pub errors_total: f64,
    pub latency_sum_ms: f64,
    /// Cumulative bucket counters, cumulative in `le` too (as `_bucket{le}` series are).
    pub buckets_le: &'a [f64],
    /// Increments since the previous successful scrape (Prometheus' reset rule).
    pub requests_increase: f64,
    pub errors_increase: f64,
}

/// Receives what [`super::simulate_with`] sees per host and per request. Every method
/// defaults to doing nothing.
pub trait SimSink {
    /// Whether [`SimSink::scrape`] reads the cumulative bucket counters
    /// ([`HostScrape::buckets_le`]); a sink that does not lets the simulator skip keeping
    /// them when no counter resets (the cost of a scan of every bucket per host and scrape).
    const NEEDS_BUCKETS_LE: bool = true;
    /// A request (only when requests are kept), in time order within each step.
    fn request(&mut self, _record: &RequestRecord) {}
    /// A successful scrape of one host.
    fn scrape(&mut self, _scrape: &HostScrape<'_>) {}
    /// A host's process restarted during the step ending at `t_s`.
    fn reset(&mut self, _arm: usize, _host: usize, _t_s: f64) {}
    /// The end of a step: everything of it has been reported.
    fn step(&mut self, _step: &SimStep) {}
}

/// The sink that ignores everything.
impl SimSink for () {
    const NEEDS_BUCKETS_LE: bool = false;
}
