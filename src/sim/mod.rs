//! The scenario simulator: deterministic baseline and canary traffic for evaluating
//! judges and for demos, with the noise real deploys have and the changes canaries bring.
//!
//! A [`scenario::Scenario`] (TOML, `datasets/scenarios/`) describes traffic, latency,
//! errors, noise and the canary's changes; [`generate::simulate`] turns a scenario and a
//! seed into a [`SimRun`]: per scrape step and arm, what a collector would read from
//! Prometheus (request and error increments, latency histogram bucket increments — counter
//! resets and missing scrapes already handled the way `increase()` handles them) and,
//! when asked, every request. Same scenario and seed → same run, bit for bit.

pub mod aggregates;
pub mod generate;
pub mod scenario;

/// Arms, by index.
pub const BASELINE: usize = 0;
pub const CANARY: usize = 1;

/// One simulated deploy.
#[derive(Debug, Clone, PartialEq)]
pub struct SimRun {
    /// Seconds between scrapes.
    pub step_s: f64,
    /// Upper bounds of the latency histogram buckets, in milliseconds, ascending; the last is +∞.
    pub buckets_ms: Vec<f64>,
    /// Every scrape step, in time order (missing scrapes included, marked).
    pub steps: Vec<SimStep>,
    /// What really happened, for scoring judges.
    pub truth: Truth,
}

/// One scrape step.
#[derive(Debug, Clone, PartialEq)]
pub struct SimStep {
    /// Seconds since the deploy started, at the end of this step.
    pub t_s: f64,
    /// False when the scrape failed: nothing is delivered now (counts 0, every bucket 0),
    /// and the step's counts arrive with the next successful scrape (as `increase()`
    /// would see them).
    pub scraped: bool,
    /// Baseline and canary.
    pub arms: [ArmStep; 2],
}

/// What a collector reads for one arm at one (successful) scrape, summed over hosts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ArmStep {
    /// Requests since the previous successful scrape.
    pub requests: f64,
    /// Errors since the previous successful scrape.
    pub errors: f64,
    /// Latency histogram bucket increments (not cumulative), one per `buckets_ms` bound.
    pub latency_buckets: Vec<f64>,
    /// Sum of latencies (ms) since the previous successful scrape.
    pub latency_sum_ms: f64,
    /// Every request's latency (ms) and error flag, when the run was asked to keep them:
    /// the requests that arrived during this step, in time order (an access log, so it
    /// is filled on steps whose scrape failed too; the scrape counts above may also have
    /// lost requests to counter resets, this log never does).
    pub requests_log: Option<Vec<(f64, bool)>>,
    /// The same scrape per host (what a collector keeping the `host` label reads), in
    /// host order; empty when the scrape failed.
    pub hosts: Vec<HostStep>,
}

/// One host's increments at one successful scrape.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostStep {
    pub requests: f64,
    pub errors: f64,
    pub latency_sum_ms: f64,
    /// Latency histogram bucket increments that are not zero: (index into
    /// [`SimRun::buckets_ms`], count). Sparse: a host serves far fewer requests per
    /// scrape than there are buckets.
    pub buckets: Vec<(u32, f64)>,
}

impl HostStep {
    /// The bucket increments as a dense vector of `n` buckets.
    pub fn dense_buckets(&self, n: usize) -> Vec<f64> {
        let mut v = vec![0.0; n];
        for &(i, c) in &self.buckets {
            if let Some(slot) = v.get_mut(i as usize) {
                *slot += c;
            }
        }
        v
    }
}

/// The ground truth of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Truth {
    /// True when the canary differs from the baseline in a way a judge should catch
    /// (a warm-up spike alone is not such a change).
    pub regression: bool,
    /// Seconds after which the regression is in effect (0 when from the start).
    pub onset_s: f64,
    /// The regression touches canary hosts `0..n` only (`hosts_affected`); `None`: every
    /// canary host, or no regression.
    pub bad_hosts: Option<usize>,
    /// Baseline latency (ms) above which a request counts as "bad" (the scenario's
    /// nominal baseline p99), for counting excess bad requests.
    pub bad_latency_ms: f64,
}
