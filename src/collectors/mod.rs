//! Collectors turn a canary config into [`CollectedPair`]s: baseline and canary
//! observations of every metric, one pair per label set (per API, per region…).
//!
//! Pairing is by identical label sets: `latency{api=/checkout}` of the baseline is judged
//! against `latency{api=/checkout}` of the canary. A label set present on one side only
//! becomes a pair with an empty arm — `nodata` — and its note says which side had nothing.
//!
//! Implementations: [`file::FileCollector`] (CSV/Parquet, long format),
//! [`pairs::PairsCollector`] (Kayenta's archived MetricSetPair lists) and
//! [`prometheus::PrometheusCollector`] (range queries against a Prometheus API).

pub mod counters;
pub mod file;
pub mod histogram;
pub mod inline;
pub mod pairs;
pub mod prometheus;
pub mod promql;
pub mod series;
pub mod table;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use canary_judges::MetricPair;

use crate::config::CanaryConfig;

/// A label set: label name → value, sorted by name.
pub type Labels = BTreeMap<String, String>;

/// Baseline and canary data of one metric and one label set.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectedPair {
    /// Index of the metric in the config.
    pub metric: usize,
    pub labels: Labels,
    pub pair: MetricPair,
    /// How the data was selected (a file selector or a query), shown with every result.
    pub query: String,
    /// Why an arm is empty, when it is.
    pub note: Option<String>,
    /// Unix seconds of each observation (values) or interval (counts), baseline then
    /// canary, aligned with the samples; empty when the source has no timestamps.
    pub times: [Vec<f64>; 2],
    /// Each arm's mean per time step when the samples themselves have no time steps (a
    /// histogram summed over the window), for charts; empty otherwise.
    pub steps: Vec<SeriesPoint>,
    /// A histogram arm's bucket counts per time step (baseline, canary), over the arm's
    /// bounds; they sum to the pair's histogram. Empty for other samples, and for
    /// histograms without time steps (one batch).
    pub histogram_steps: [Vec<HistogramStep>; 2],
}

/// One time step of a pair's series, both arms: what a report's chart of the collected
/// data shows, and what a quantile of a histogram step gives ([`CollectedPair::steps`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// Unix seconds (the step's end).
    pub t: f64,
    pub baseline: Option<f64>,
    pub canary: Option<f64>,
}

/// One time step of a histogram arm: the step's end (unix seconds) and its bucket counts.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramStep {
    pub t: f64,
    pub counts: Vec<f64>,
}

impl CollectedPair {
    /// A pair for a metric with no data at all (no label set on either side), so it is
    /// still judged — as `nodata` — and its reason says why.
    pub fn missing(metric: usize, query: String, note: String) -> Self {
        CollectedPair {
            histogram_steps: Default::default(),
            steps: Vec::new(),
            metric,
            labels: Labels::new(),
            pair: MetricPair {
                baseline: canary_judges::Sample::empty(),
                canary: canary_judges::Sample::empty(),
            },
            query,
            note: Some(note),
            times: [Vec::new(), Vec::new()],
        }
    }
}

/// Which instances a query selects: Kayenta's scope, location and extended parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// `${scope}` in templates: usually the version or server group.
    pub scope: String,
    /// `${location}`: region, zone or cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// `${api}`: the API (route) an analysis is limited to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// Any further `${name}` (Kayenta's `extendedScopeParams`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
}

impl Scope {
    /// The value of a template variable, if the scope defines it.
    pub fn var(&self, name: &str) -> Option<&str> {
        match name {
            "scope" => Some(self.scope.as_str()),
            "location" => self.location.as_deref(),
            "api" => self.api.as_deref(),
            other => self.params.get(other).map(String::as_str),
        }
    }
}

/// A time window read at a fixed step: unix seconds, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub start: f64,
    pub end: f64,
    /// Seconds between points; each point covers the `step` seconds before it.
    pub step: f64,
}

/// What to collect besides the config: both scopes and the window.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectRequest {
    pub baseline: Scope,
    pub canary: Scope,
    /// `None` for sources that hold one window already (files).
    pub window: Option<Window>,
}

/// The future a [`Collector`] returns.
pub type CollectFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<CollectedPair>, CollectError>> + Send + 'a>>;

/// A source of metric pairs.
pub trait Collector: Send + Sync {
    /// Collect every metric of `config`, one pair per label set.
    fn collect<'a>(
        &'a self,
        config: &'a CanaryConfig,
        request: &'a CollectRequest,
    ) -> CollectFuture<'a>;

    /// What the user should know before the analysis: data that `config` never reads
    /// (a misspelt series or pair name), with a suggestion where one is close.
    fn warnings(&self, _config: &CanaryConfig) -> Vec<String> {
        Vec::new()
    }
}

/// Where pairs come from: the collector family's config, one variant per collector,
/// built by [`CollectorConfig::build`]. A new source is one variant and one module.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CollectorConfig {
    /// A Prometheus-compatible query API ([`prometheus::PrometheusCollector`]).
    Prometheus(prometheus::PrometheusConfig),
    /// Baseline and canary series files (CSV, JSON, Parquet; [`file::FileCollector`]).
    File {
        baseline: std::path::PathBuf,
        canary: std::path::PathBuf,
    },
    /// A list of Kayenta MetricSetPairs ([`pairs::PairsCollector`]).
    Pairs { path: std::path::PathBuf },
    /// Pairs given inline ([`inline::InlineCollector`]).
    Inline { pairs: Vec<inline::InlinePair> },
}

impl CollectorConfig {
    /// The collector: files are read (and checked) here, a Prometheus client is built.
    pub fn build(self) -> Result<Box<dyn Collector>, CollectError> {
        Ok(match self {
            CollectorConfig::Prometheus(settings) => {
                Box::new(prometheus::PrometheusCollector::new(settings)?)
            }
            CollectorConfig::File { baseline, canary } => {
                Box::new(file::FileCollector::open(&baseline, &canary)?)
            }
            CollectorConfig::Pairs { path } => Box::new(pairs::PairsCollector::open(&path)?),
            CollectorConfig::Inline { pairs } => Box::new(inline::InlineCollector { pairs }),
        })
    }
}

/// Run a collector to completion on the current thread (for the command line).
pub fn collect_blocking(
    collector: &dyn Collector,
    config: &CanaryConfig,
    request: &CollectRequest,
) -> Result<Vec<CollectedPair>, CollectError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CollectError::Unavailable {
            query: String::new(),
            message: format!("cannot start the I/O runtime: {e}"),
        })?
        .block_on(collector.collect(config, request))
}

/// A collector failure (as opposed to missing data, which is a `nodata` pair).
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error(transparent)]
    File(#[from] table::FileError),
    #[error("{0}")]
    Pairs(String),
    /// Inline pairs the judges cannot read; `field` names the request's field.
    #[error("{field}: {message}")]
    Inline { field: String, message: String },
    /// The collector's own settings are unusable (a malformed URL, …). Bad input.
    #[error("{0}")]
    Config(String),
    /// The query cannot be built: a template variable is missing or unsafe. Bad input.
    #[error("metric `{metric}`: {message}")]
    Query { metric: String, message: String },
    /// The metric source rejected the query (4xx other than 429): bad input, not an outage.
    #[error("query rejected: {message} (query: {query})")]
    Rejected { query: String, message: String },
    /// The metric source could not be reached or kept failing (network, 5xx, 429) after
    /// retries: an outage, which holds an analysis instead of deciding it.
    #[error("metric source unavailable: {message} (query: {query})")]
    Unavailable { query: String, message: String },
}

impl CollectError {
    /// True for outages (retry later), false for bad input.
    pub fn is_outage(&self) -> bool {
        matches!(self, CollectError::Unavailable { .. })
    }
}

/// `name{a="x", b="y"}` — a metric and label set as people read them.
pub fn display_name(metric: &str, labels: &Labels) -> String {
    if labels.is_empty() {
        return metric.to_string();
    }
    let mut s = String::with_capacity(metric.len() + 16 * labels.len());
    s.push_str(metric);
    s.push('{');
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{k}=\"{v}\"");
    }
    s.push('}');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names() {
        assert_eq!(display_name("cpu", &Labels::new()), "cpu");
        let labels = Labels::from([
            ("api".into(), "/checkout".into()),
            ("zone".into(), "a".into()),
        ]);
        assert_eq!(
            display_name("latency", &labels),
            "latency{api=\"/checkout\", zone=\"a\"}"
        );
    }

    /// The collector family is data: each variant reads from its tagged form and builds
    /// its collector, which collects the demo's pairs; bad settings are errors, not panics.
    #[test]
    fn collector_configs_are_data_and_build_their_collectors() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let config = CanaryConfig::load(&root.join("datasets/demo/canary.toml")).expect("demo");
        let file: CollectorConfig = serde_json::from_value(serde_json::json!({
            "kind": "file",
            "baseline": root.join("datasets/demo/baseline.csv"),
            "canary": root.join("datasets/demo/canary.csv"),
        }))
        .expect("file config");
        let back: CollectorConfig =
            serde_json::from_value(serde_json::to_value(&file).expect("serialise"))
                .expect("read back");
        assert_eq!(back, file);
        let collector = file.build().expect("demo files");
        let request = CollectRequest {
            baseline: Scope::default(),
            canary: Scope::default(),
            window: None,
        };
        let pairs = collect_blocking(collector.as_ref(), &config, &request).expect("collect");
        assert!(pairs.iter().any(|p| p.note.is_none()), "no data collected");

        let prometheus: CollectorConfig = serde_json::from_value(
            serde_json::json!({"kind": "prometheus", "url": "http://127.0.0.1:9"}),
        )
        .expect("prometheus config");
        assert!(
            matches!(&prometheus, CollectorConfig::Prometheus(p) if p.url == "http://127.0.0.1:9")
        );
        assert!(prometheus.build().is_ok());
        let bad = CollectorConfig::Prometheus(prometheus::PrometheusConfig {
            url: "not a url".into(),
            ..Default::default()
        });
        assert!(matches!(bad.build(), Err(CollectError::Config(_))));
        let unknown =
            serde_json::from_value::<CollectorConfig>(serde_json::json!({"kind": "influx"}));
        assert!(unknown.is_err());
        let missing = CollectorConfig::Pairs {
            path: root.join("no/such/pairs.json"),
        };
        assert!(matches!(missing.build(), Err(CollectError::File(f)) if f.is_missing()));
    }

    /// Inline pairs: a named metric is judged, the others are missing, and a pair the
    /// judges cannot read is refused naming its field.
    #[test]
    fn inline_pairs_name_the_field_they_break() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let config = CanaryConfig::load(&root.join("datasets/demo/canary.toml")).expect("demo");
        let metric = config.metrics[0].name.clone();
        let pair = |name: &str, canary: inline::InlineSample| inline::InlinePair {
            metric: name.to_string(),
            labels: Labels::new(),
            baseline: inline::InlineSample::Values(vec![Some(1.0), Some(2.0), None]),
            canary,
        };
        let ok = inline::InlineCollector {
            pairs: vec![pair(&metric, inline::InlineSample::Values(vec![Some(1.5)]))],
        }
        .read(&config)
        .expect("readable");
        assert_eq!(ok.len(), config.metrics.len());
        assert!(ok[0].note.is_none() && ok[0].metric == 0);
        assert!(ok[1..].iter().all(|p| p.note.is_some()));
        let err = inline::InlineCollector {
            pairs: vec![pair("nope", inline::InlineSample::Values(vec![]))],
        }
        .read(&config)
        .expect_err("unknown metric");
        assert!(
            matches!(&err, CollectError::Inline { field, .. } if field == "pairs[0].metric"),
            "{err}"
        );
        let err = inline::InlineCollector {
            pairs: vec![pair(
                &metric,
                inline::InlineSample::Counts {
                    events: vec![1.0],
                    totals: vec![],
                },
            )],
        }
        .read(&config)
        .expect_err("counts without totals");
        assert!(
            matches!(&err, CollectError::Inline { field, .. } if field == "pairs[0].canary"),
            "{err}"
        );
    }
}
