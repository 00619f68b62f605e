//! The file collector: baseline and canary in two long-format files (see [`super::table`]).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use canary_judges::{MetricPair, Sample};

use super::table::{SeriesData, SeriesSet, read_series};
use super::{
    CollectError, CollectFuture, CollectRequest, CollectedPair, Collector, Labels, display_name,
};
use crate::config::{CanaryConfig, MetricSource};

/// Baseline and canary series read from files.
#[derive(Debug, Clone)]
pub struct FileCollector {
    pub baseline: SeriesSet,
    pub canary: SeriesSet,
}

impl FileCollector {
    /// Read both files (in parallel: they are independent).
    pub fn open(baseline: &Path, canary: &Path) -> Result<Self, CollectError> {
        let (b, c) = rayon::join(|| read_series(baseline), || read_series(canary));
        Ok(FileCollector {
            baseline: b?,
            canary: c?,
        })
    }

    /// Series names present in either file that no metric of `config` reads.
    pub fn unused_series(&self, config: &CanaryConfig) -> Vec<String> {
        let used = config.series_names();
        let mut unused: BTreeSet<String> = BTreeSet::new();
        for set in [&self.baseline, &self.canary] {
            for name in set.series.keys() {
                if !used.contains(name.as_str()) {
                    unused.insert(name.clone());
                }
            }
        }
        unused.into_iter().collect()
    }
}

impl Collector for FileCollector {
    fn collect<'a>(
        &'a self,
        config: &'a CanaryConfig,
        _request: &'a CollectRequest,
    ) -> CollectFuture<'a> {
        let pairs = self.read(config);
        Box::pin(std::future::ready(pairs))
    }
}

impl FileCollector {
    /// Every metric of `config`, one pair per label set (the files hold one window).
    pub fn read(&self, config: &CanaryConfig) -> Result<Vec<CollectedPair>, CollectError> {
        let mut out = Vec::new();
        for (i, metric) in config.metrics.iter().enumerate() {
            match &metric.source {
                MetricSource::Series(name) => self.collect_series(i, name, &mut out),
                MetricSource::Counts { events, total } => {
                    self.collect_counts(i, events, total, &mut out)
                }
            }
        }
        Ok(out)
    }
}

impl FileCollector {
    fn collect_series(&self, metric: usize, name: &str, out: &mut Vec<CollectedPair>) {
        let b = self.baseline.metric(name);
        let c = self.canary.metric(name);
        let mut label_sets: BTreeSet<&Labels> = BTreeSet::new();
        label_sets.extend(b.iter().flat_map(|m| m.keys()));
        label_sets.extend(c.iter().flat_map(|m| m.keys()));
        if label_sets.is_empty() {
            out.push(CollectedPair::missing(
                metric,
                format!("metric = {name}"),
                format!(
                    "no rows with metric `{name}` in {} nor in {}",
                    self.baseline.file, self.canary.file
                ),
            ));
            return;
        }
        for labels in label_sets {
            let bv = b.and_then(|m| m.get(labels));
            let cv = c.and_then(|m| m.get(labels));
            let series = display_name(name, labels);
            let note = missing_note(
                &series,
                bv.is_none(),
                cv.is_none(),
                &self.baseline.file,
                &self.canary.file,
            );
            out.push(CollectedPair {
                steps: Vec::new(),
                metric,
                labels: labels.clone(),
                pair: MetricPair::from_values(
                    bv.map(|s| s.values.clone()).unwrap_or_default(),
                    cv.map(|s| s.values.clone()).unwrap_or_default(),
                ),
                query: format!("metric = {series}"),
                note,
                times: [
                    bv.map(|s| s.timestamps.clone()).unwrap_or_default(),
                    cv.map(|s| s.timestamps.clone()).unwrap_or_default(),
                ],
            });
        }
    }

    fn collect_counts(
        &self,
        metric: usize,
        events: &str,
        total: &str,
        out: &mut Vec<CollectedPair>,
    ) {
        let mut label_sets: BTreeSet<&Labels> = BTreeSet::new();
        for set in [&self.baseline, &self.canary] {
            for name in [events, total] {
                label_sets.extend(set.metric(name).iter().flat_map(|m| m.keys()));
            }
        }
        let query = |labels: &Labels| {
            format!(
                "events = {} / total = {}",
                display_name(events, labels),
                display_name(total, labels)
            )
        };
        if label_sets.is_empty() {
            out.push(CollectedPair::missing(
                metric,
                query(&Labels::new()),
                format!(
                    "no rows with metric `{events}` or `{total}` in {} nor in {}",
                    self.baseline.file, self.canary.file
                ),
            ));
            return;
        }
        for labels in label_sets {
            let side = |set: &SeriesSet| -> Result<(Sample, Vec<f64>), String> {
                let ev = set.metric(events).and_then(|m| m.get(labels));
                let tot = set.metric(total).and_then(|m| m.get(labels));
                match (ev, tot) {
                    (Some(e), Some(t)) => Ok((align_counts(e, t), counts_times(e, t))),
                    (None, _) => Err(format!(
                        "no `{}` rows in {}",
                        display_name(events, labels),
                        set.file
                    )),
                    (_, None) => Err(format!(
                        "no `{}` rows in {}",
                        display_name(total, labels),
                        set.file
                    )),
                }
            };
            let (b, c) = (side(&self.baseline), side(&self.canary));
            let note = match (&b, &c) {
                (Err(x), Err(y)) => Some(format!("{x}; {y}")),
                (Err(x), _) | (_, Err(x)) => Some(x.clone()),
                _ => None,
            };
            let (b, bt) = b.unwrap_or_else(|_| (Sample::empty(), Vec::new()));
            let (c, ct) = c.unwrap_or_else(|_| (Sample::empty(), Vec::new()));
            out.push(CollectedPair {
                steps: Vec::new(),
                metric,
                labels: labels.clone(),
                pair: MetricPair {
                    baseline: b,
                    canary: c,
                },
                query: query(labels),
                note,
                times: [bt, ct],
            });
        }
    }
}

fn missing_note(
    series: &str,
    no_baseline: bool,
    no_canary: bool,
    bfile: &str,
    cfile: &str,
) -> Option<String> {
    match (no_baseline, no_canary) {
        (true, true) => Some(format!("no `{series}` rows in {bfile} nor in {cfile}")),
        (true, false) => Some(format!("no `{series}` rows in the baseline ({bfile})")),
        (false, true) => Some(format!("no `{series}` rows in the canary ({cfile})")),
        (false, false) => None,
    }
}

/// Timestamps of the intervals [`align_counts`] produces.
fn counts_times(events: &SeriesData, totals: &SeriesData) -> Vec<f64> {
    let timed =
        |s: &SeriesData| !s.timestamps.is_empty() && s.timestamps.iter().all(|t| t.is_finite());
    if timed(events) && timed(totals) {
        totals.timestamps.clone()
    } else {
        let n = events.values.len().min(totals.values.len());
        totals
            .timestamps
            .get(..n)
            .map(<[f64]>::to_vec)
            .unwrap_or_default()
    }
}

/// Pair event and total observations: by timestamp when both series carry timestamps on
/// every row (an interval missing on one side is NaN and dropped), else by position.
fn align_counts(events: &SeriesData, totals: &SeriesData) -> Sample {
    let timed =
        |s: &SeriesData| !s.timestamps.is_empty() && s.timestamps.iter().all(|t| t.is_finite());
    if timed(events) && timed(totals) {
        let by_time: HashMap<u64, f64> = events
            .timestamps
            .iter()
            .map(|t| t.to_bits())
            .zip(events.values.iter().copied())
            .collect();
        let ev = totals
            .timestamps
            .iter()
            .map(|t| by_time.get(&t.to_bits()).copied().unwrap_or(f64::NAN))
            .collect();
        return Sample::Counts {
            events: ev,
            totals: totals.values.clone(),
        };
    }
    let n = events.values.len().min(totals.values.len());
    Sample::Counts {
        events: events.values[..n].to_vec(),
        totals: totals.values[..n].to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_align_by_timestamp() {
        let events = SeriesData {
            timestamps: vec![10.0, 30.0],
            values: vec![1.0, 3.0],
        };
        let totals = SeriesData {
            timestamps: vec![10.0, 20.0, 30.0],
            values: vec![100.0, 200.0, 300.0],
        };
        match align_counts(&events, &totals) {
            Sample::Counts { events, totals } => {
                assert_eq!(events[0], 1.0);
                assert!(events[1].is_nan());
                assert_eq!(events[2], 3.0);
                assert_eq!(totals, vec![100.0, 200.0, 300.0]);
            }
            other => panic!("expected counts, got {other:?}"),
        }
    }
}
