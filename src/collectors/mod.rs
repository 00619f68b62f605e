//! Collectors turn a canary config into [`CollectedPair`]s: baseline and canary
//! observations of every metric, one pair per label set (per API, per region…).
//!
//! Pairing is by identical label sets: `latency{api=/checkout}` of the baseline is judged
//! against `latency{api=/checkout}` of the canary. A label set present on one side only
//! becomes a pair with an empty arm — `nodata` — and its note says which side had nothing.
//!
//! Implementations: [`file::FileCollector`] (CSV/Parquet, long format) and
//! [`pairs::PairsCollector`] (Kayenta's archived MetricSetPair lists).

pub mod counters;
pub mod file;
pub mod pairs;
pub mod table;

use std::collections::BTreeMap;
use std::fmt::Write as _;

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
}

impl CollectedPair {
    /// A pair for a metric with no data at all (no label set on either side), so it is
    /// still judged — as `nodata` — and its reason says why.
    pub fn missing(metric: usize, query: String, note: String) -> Self {
        CollectedPair {
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

/// A source of metric pairs.
pub trait Collector {
    /// Collect every metric of `config`, one pair per label set.
    fn collect(&self, config: &CanaryConfig) -> Result<Vec<CollectedPair>, CollectError>;
}

/// A collector failure (as opposed to missing data, which is a `nodata` pair).
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error(transparent)]
    File(#[from] table::FileError),
    #[error("{0}")]
    Pairs(String),
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
}
