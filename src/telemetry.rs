//! The daemon's own metrics, in Prometheus' exposition format at `/metrics`: analyses by
//! status and verdict, judge and query durations, collector errors and HTTP request
//! durations. Built on `prometheus-client`.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::collectors::prometheus::{QueryObserver, QueryOutcome};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: String,
    pub verdict: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: String,
}

fn duration_histogram() -> Histogram {
    // 0.5 ms … ~65 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 18))
}

/// Every metric the daemon exports.
pub struct Telemetry {
    registry: Mutex<Registry>,
    pub analyses: Family<StatusLabels, Gauge>,
    pub judge_seconds: Histogram,
    pub query_seconds: Family<OutcomeLabels, Histogram>,
    pub collector_errors: Family<OutcomeLabels, Counter>,
    pub intervals: Family<OutcomeLabels, Counter>,
    pub http_seconds: Family<HttpLabels, Histogram>,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("canaryd");
        let analyses = Family::<StatusLabels, Gauge>::default();
        registry.register(
            "analyses",
            "Analyses in the store by status and verdict",
            analyses.clone(),
        );
        let judge_seconds = duration_histogram();
        registry.register(
            "judge_duration_seconds",
            "Time to judge and score one interval of an analysis",
            judge_seconds.clone(),
        );
        let query_seconds = Family::<OutcomeLabels, Histogram>::new_with_constructor(
            duration_histogram as fn() -> Histogram,
        );
        registry.register(
            "query_duration_seconds",
            "Metric-source query durations by outcome (ok, rejected, unavailable)",
            query_seconds.clone(),
        );
        let collector_errors = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "collector_errors",
            "Queries that failed, by outcome (rejected, unavailable)",
            collector_errors.clone(),
        );
        let intervals = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "intervals",
            "Live-analysis intervals handled, by outcome (judged, outage, error)",
            intervals.clone(),
        );
        let http_seconds = Family::<HttpLabels, Histogram>::new_with_constructor(
            duration_histogram as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request durations by method, route and status",
            http_seconds.clone(),
        );
        Telemetry {
            registry: Mutex::new(registry),
            analyses,
            judge_seconds,
            query_seconds,
            collector_errors,
            intervals,
            http_seconds,
        }
    }

    /// Set the analysis gauges from store counts: (status, verdict, count).
    pub fn set_analysis_counts(&self, counts: &[(String, Option<String>, u64)]) {
        self.analyses.clear();
        for (status, verdict, n) in counts {
            self.analyses
                .get_or_create(&StatusLabels {
                    status: status.clone(),
                    verdict: verdict.clone().unwrap_or_else(|| "none".into()),
                })
                .set(*n as i64);
        }
    }

    /// The exposition text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

impl QueryObserver for Telemetry {
    fn observe(&self, seconds: f64, outcome: QueryOutcome) {
        let outcome = match outcome {
            QueryOutcome::Ok => "ok",
            QueryOutcome::Rejected => "rejected",
            QueryOutcome::Unavailable => "unavailable",
        };
        let labels = OutcomeLabels {
            outcome: outcome.into(),
        };
        self.query_seconds.get_or_create(&labels).observe(seconds);
        if outcome != "ok" {
            self.collector_errors.get_or_create(&labels).inc();
        }
    }
}

/// Return freed heap memory to the system (glibc keeps it in its arenas otherwise); a no-op
/// elsewhere. Called after bursts of heavy requests.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only releases free memory of the allocator's own arenas; it
    // reads and writes no memory of ours and is safe to call from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_names_every_family() {
        let t = Telemetry::new();
        t.observe(0.01, QueryOutcome::Unavailable);
        t.set_analysis_counts(&[("succeeded".into(), Some("pass".into()), 3)]);
        t.http_seconds
            .get_or_create(&HttpLabels {
                method: "GET".into(),
                route: "/healthz".into(),
                status: "200".into(),
            })
            .observe(0.001);
        let text = t.encode();
        for name in [
            "canaryd_analyses{status=\"succeeded\",verdict=\"pass\"} 3",
            "canaryd_query_duration_seconds_count{outcome=\"unavailable\"} 1",
            "canaryd_collector_errors_total{outcome=\"unavailable\"} 1",
            "# TYPE canaryd_judge_duration_seconds histogram",
            "canaryd_http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\",status=\"200\"} 1",
        ] {
            assert!(text.contains(name), "missing {name} in\n{text}");
        }
    }
}
