//! Kayenta's archived MetricSetPair lists: the JSON Kayenta stores for every canary run
//! (`[{ "name", "tags", "values": { "control": [...], "experiment": [...] } }, …]`), so
//! Kayenta users can re-judge archived canaries. Values may be numbers, `null`, or the
//! strings `"NaN"`, `"Infinity"` and `"-Infinity"`.

use std::collections::BTreeSet;
use std::path::Path;

use canary_judges::MetricPair;
use serde::Deserialize;

use super::{
    CollectError, CollectFuture, CollectRequest, CollectedPair, Collector, Labels, display_name,
};
use crate::config::{CanaryConfig, MetricSource};

/// One archived pair.
#[derive(Debug, Clone, Deserialize)]
pub struct MetricSetPair {
    pub name: String,
    #[serde(default)]
    pub tags: Labels,
    pub values: PairValues,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PairValues {
    #[serde(default)]
    pub control: Vec<ArchivedValue>,
    #[serde(default)]
    pub experiment: Vec<ArchivedValue>,
}

/// A value as Kayenta archives it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArchivedValue(pub f64);

impl<'de> Deserialize<'de> for ArchivedValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(f64),
            Text(String),
            Null(()),
        }
        match Raw::deserialize(d)? {
            Raw::Num(v) => Ok(ArchivedValue(v)),
            Raw::Null(()) => Ok(ArchivedValue(f64::NAN)),
            Raw::Text(s) => match s.as_str() {
                "NaN" => Ok(ArchivedValue(f64::NAN)),
                "Infinity" => Ok(ArchivedValue(f64::INFINITY)),
                "-Infinity" => Ok(ArchivedValue(f64::NEG_INFINITY)),
                other => other
                    .parse::<f64>()
                    .map(ArchivedValue)
                    .map_err(|_| serde::de::Error::custom(format!("`{other}` is not a number"))),
            },
        }
    }
}

/// Pairs read from a MetricSetPair list.
#[derive(Debug, Clone)]
pub struct PairsCollector {
    pub file: String,
    pub pairs: Vec<MetricSetPair>,
}

impl PairsCollector {
    pub fn open(path: &Path) -> Result<Self, CollectError> {
        let file = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CollectError::File(super::table::FileError::NotFound {
                    file,
                }));
            }
            Err(e) => return Err(CollectError::Pairs(format!("{file}: cannot read: {e}"))),
        };
        Self::parse(&text, &file)
    }

    pub fn parse(text: &str, file: &str) -> Result<Self, CollectError> {
        if text.trim().is_empty() {
            return Err(CollectError::Pairs(format!("{file}: the file is empty")));
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let pairs: Vec<MetricSetPair> = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let msg = inner.to_string();
            let msg = msg
                .rfind(" at line ")
                .map(|i| msg[..i].to_string())
                .unwrap_or(msg);
            CollectError::Pairs(format!(
                "{file}:{}:{}: {}: {msg} (expected a list of Kayenta MetricSetPairs)",
                inner.line(),
                inner.column(),
                if path == "." {
                    "(top level)".to_string()
                } else {
                    path
                }
            ))
        })?;
        Ok(PairsCollector {
            file: file.to_string(),
            pairs,
        })
    }

    /// Pair names that no metric of `config` reads.
    pub fn unused_names(&self, config: &CanaryConfig) -> Vec<String> {
        let used: BTreeSet<&str> = config.metrics.iter().map(|m| m.name.as_str()).collect();
        let mut names: BTreeSet<String> = BTreeSet::new();
        for p in &self.pairs {
            if !used.contains(p.name.as_str()) {
                names.insert(p.name.clone());
            }
        }
        names.into_iter().collect()
    }
}

impl Collector for PairsCollector {
    fn collect<'a>(
        &'a self,
        config: &'a CanaryConfig,
        _request: &'a CollectRequest,
    ) -> CollectFuture<'a> {
        let pairs = self.read(config);
        Box::pin(std::future::ready(pairs))
    }

    /// Pair names no metric reads, with the metric name closest to each.
    fn warnings(&self, config: &CanaryConfig) -> Vec<String> {
        let metrics: Vec<&str> = config.metrics.iter().map(|m| m.name.as_str()).collect();
        self.unused_names(config)
            .into_iter()
            .map(|name| {
                format!(
                    "{}: pairs named `{name}` match no metric of the config{}",
                    self.file,
                    crate::suggest::hint(&name, metrics.iter().copied())
                )
            })
            .collect()
    }
}

impl PairsCollector {
    /// Every metric of `config`, one pair per label set (the files hold one window).
    pub fn read(&self, config: &CanaryConfig) -> Result<Vec<CollectedPair>, CollectError> {
        let mut out = Vec::new();
        for (i, metric) in config.metrics.iter().enumerate() {
            let matching: Vec<&MetricSetPair> = self
                .pairs
                .iter()
                .filter(|p| {
                    p.name == metric.name
                        || matches!(&metric.source, MetricSource::Series(s) if *s == p.name)
                })
                .collect();
            if let MetricSource::Counts { .. } = metric.source {
                out.push(CollectedPair::missing(
                    i,
                    format!("pair = {}", metric.name),
                    format!(
                        "{} holds values, not event counts; `{}` needs events and totals",
                        self.file, metric.name
                    ),
                ));
                continue;
            }
            if matching.is_empty() {
                out.push(CollectedPair::missing(
                    i,
                    format!("pair = {}", metric.name),
                    format!("no MetricSetPair named `{}` in {}", metric.name, self.file),
                ));
                continue;
            }
            for p in matching {
                let values = |v: &[ArchivedValue]| v.iter().map(|x| x.0).collect::<Vec<f64>>();
                let series = display_name(&p.name, &p.tags);
                let note = match (p.values.control.is_empty(), p.values.experiment.is_empty()) {
                    (true, true) => Some(format!(
                        "`{series}` has no control and no experiment values"
                    )),
                    (true, false) => Some(format!("`{series}` has no control (baseline) values")),
                    (false, true) => Some(format!("`{series}` has no experiment (canary) values")),
                    _ => None,
                };
                out.push(CollectedPair {
                    histogram_steps: Default::default(),
                    steps: Vec::new(),
                    metric: i,
                    labels: p.tags.clone(),
                    pair: MetricPair::from_values(
                        values(&p.values.control),
                        values(&p.values.experiment),
                    ),
                    query: format!("pair = {series}"),
                    note,
                    times: [Vec::new(), Vec::new()],
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nan_strings_and_nulls() {
        let text = r#"[{"name": "cpu", "tags": {"zone": "a"}, "values": {"control": [1, "NaN", null], "experiment": [2.5, "Infinity"]}, "attributes": {}}]"#;
        let c = PairsCollector::parse(text, "p.json").expect("parses");
        let v = &c.pairs[0].values;
        assert_eq!(v.control[0].0, 1.0);
        assert!(v.control[1].0.is_nan() && v.control[2].0.is_nan());
        assert_eq!(v.experiment[1].0, f64::INFINITY);
    }

    #[test]
    fn bad_values_name_the_place() {
        let text = "[{\"name\": \"cpu\", \"values\": {\"control\": [1, \"oops\"]}}]";
        let err = PairsCollector::parse(text, "p.json")
            .expect_err("rejects")
            .to_string();
        assert!(
            err.contains("p.json:1:") && err.contains("[0].values.control[1]"),
            "{err}"
        );
    }
}
