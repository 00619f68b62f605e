//! Pairs given inline (the `/api/v1/judge` request's `pairs`): each arm's values, event
//! counts or histogram buckets, checked against the config they are judged by.

use std::collections::BTreeMap;

use canary_judges::{MetricPair, Sample};
use serde::{Deserialize, Serialize};

use super::{CollectError, CollectFuture, CollectRequest, CollectedPair, Collector, Labels};
use crate::config::CanaryConfig;

/// One arm's data inline: values, event counts, or histogram buckets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InlineSample {
    /// `null` stands for NaN (JSON has no NaN), left to the NaN strategy.
    Values(Vec<Option<f64>>),
    Counts {
        events: Vec<f64>,
        totals: Vec<f64>,
    },
    Histogram {
        bounds: Vec<f64>,
        counts: Vec<f64>,
    },
}

impl From<InlineSample> for Sample {
    fn from(s: InlineSample) -> Self {
        match s {
            InlineSample::Values(v) => {
                Sample::Values(v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
            }
            InlineSample::Counts { events, totals } => Sample::Counts { events, totals },
            InlineSample::Histogram { bounds, counts } => Sample::Histogram { bounds, counts },
        }
    }
}

/// One metric's pair inline, for one label set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InlinePair {
    pub metric: String,
    #[serde(default)]
    pub labels: Labels,
    pub baseline: InlineSample,
    pub canary: InlineSample,
}

/// The pairs of a request, as a collector.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InlineCollector {
    pub pairs: Vec<InlinePair>,
}

impl InlineCollector {
    /// Every pair as the config's metric it names; metrics without a pair are missing
    /// (`nodata`). A pair naming no metric of the config, or an arm or pair the judges
    /// cannot read, is [`CollectError::Inline`] naming the field (`pairs[2].canary`).
    pub fn read(&self, config: &CanaryConfig) -> Result<Vec<CollectedPair>, CollectError> {
        let index: BTreeMap<&str, usize> = config
            .metrics
            .iter()
            .enumerate()
            .map(|(i, m)| (m.name.as_str(), i))
            .collect();
        let invalid = |field: String, message: String| CollectError::Inline { field, message };
        let mut out = Vec::with_capacity(self.pairs.len());
        let mut seen = vec![false; config.metrics.len()];
        for (k, p) in self.pairs.iter().enumerate() {
            let Some(&i) = index.get(p.metric.as_str()) else {
                return Err(invalid(
                    format!("pairs[{k}].metric"),
                    format!("`{}` is not a metric of config `{}`", p.metric, config.name),
                ));
            };
            let (baseline, canary): (Sample, Sample) =
                (p.baseline.clone().into(), p.canary.clone().into());
            for (side, s) in [("baseline", &baseline), ("canary", &canary)] {
                if let Some(problem) = s.problem() {
                    return Err(invalid(format!("pairs[{k}].{side}"), problem));
                }
            }
            let pair = MetricPair { baseline, canary };
            if let Some(problem) = pair.problem() {
                return Err(invalid(format!("pairs[{k}]"), problem));
            }
            seen[i] = true;
            out.push(CollectedPair {
                histogram_steps: Default::default(),
                steps: Vec::new(),
                metric: i,
                labels: p.labels.clone(),
                pair,
                query: "inline".into(),
                note: None,
                times: [Vec::new(), Vec::new()],
            });
        }
        for (i, s) in seen.iter().enumerate() {
            if !s {
                out.push(CollectedPair::missing(
                    i,
                    "inline".into(),
                    "the request gave no data for this metric".into(),
                ));
            }
        }
        Ok(out)
    }
}

impl Collector for InlineCollector {
    fn collect<'a>(
        &'a self,
        config: &'a CanaryConfig,
        _request: &'a CollectRequest,
    ) -> CollectFuture<'a> {
        Box::pin(std::future::ready(self.read(config)))
    }
}
