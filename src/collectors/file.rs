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

    /// Config series without rows and input series no metric reads, named together (see
    /// [`series_warnings`]), for the two files of an analysis.
    pub fn series_warnings(&self, config: &CanaryConfig) -> Vec<String> {
        let b = format!("the baseline ({})", self.baseline.file);
        let c = format!("the canary ({})", self.canary.file);
        series_warnings(config, &[(&b, &self.baseline), (&c, &self.canary)])
    }
}

/// Config series without rows in some of `sets` (each with how to name it), and series of
/// `sets` no metric reads, named together: a config series missing from a file comes with
/// the unread input series it was most likely meant to be ("did you mean …?"), then every
/// other unread input series is named. Empty when config and files agree.
pub fn series_warnings(config: &CanaryConfig, sets: &[(&str, &SeriesSet)]) -> Vec<String> {
    let used = config.series_names();
    let all: BTreeSet<&str> = sets
        .iter()
        .flat_map(|(_, set)| set.series.keys().map(String::as_str))
        .collect();
    let unused: Vec<&str> = all.iter().copied().filter(|n| !used.contains(n)).collect();
    let mut suggested: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::new();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for m in &config.metrics {
        let series: Vec<&str> = match &m.source {
            MetricSource::Series(s) => vec![s.as_str()],
            MetricSource::Counts { events, total } => vec![events.as_str(), total.as_str()],
        };
        for name in series {
            if !seen.insert(name) {
                continue;
            }
            let lacking: Vec<&str> = sets
                .iter()
                .filter(|(_, set)| set.metric(name).is_none())
                .map(|(desc, _)| *desc)
                .collect();
            if lacking.is_empty() {
                continue;
            }
            let hint = match crate::suggest::did_you_mean(name, unused.iter().copied()) {
                Some(g) => {
                    suggested.insert(g);
                    format!("; did you mean `{g}`, which no metric reads?")
                }
                None => crate::suggest::hint(name, all.iter().copied()),
            };
            out.push(format!(
                "series `{name}` (metric `{}`) has no rows in {}{hint}",
                m.name,
                lacking.join(" nor in ")
            ));
        }
    }
    for name in unused {
        if !suggested.contains(name) {
            out.push(format!(
                "series `{name}` in the input files is read by no metric of the config; it was \
                 ignored"
            ));
        }
    }
    out
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

    fn warnings(&self, config: &CanaryConfig) -> Vec<String> {
        self.series_warnings(config)
    }
}

impl FileCollector {
    /// Every metric of `config`, one pair per label set (the files hold one window).
    pub fn read(&self, config: &CanaryConfig) -> Result<Vec<CollectedPair>, CollectError> {
        let mut out = Vec::new();
        for (i, metric) in config.metrics.iter().enumerate() {
            match &metric.source {
                MetricSource::Series(name) => {
                    self.collect_series(i, name, metric.requests.as_deref(), &mut out)
                }
                MetricSource::Counts { events, total } => {
                    self.collect_counts(i, events, total, &mut out)
                }
            }
        }
        Ok(out)
    }
}

impl FileCollector {
    /// "the baseline (a.csv)", "the canary (b.csv)", or both.
    fn sides(&self, baseline: bool, canary: bool) -> String {
        match (baseline, canary) {
            (true, true) => format!(
                "the baseline ({}) nor in the canary ({})",
                self.baseline.file, self.canary.file
            ),
            (true, false) => format!("the baseline ({})", self.baseline.file),
            _ => format!("the canary ({})", self.canary.file),
        }
    }

    /// "; did you mean `x`?" for a series name that neither file has.
    fn hint(&self, name: &str) -> String {
        let known = self
            .baseline
            .series
            .keys()
            .chain(self.canary.series.keys())
            .map(String::as_str);
        crate::suggest::hint(name, known)
    }

    /// Why `series` (of metric `name`) is missing on the sides that lack it, or `None`.
    fn missing(&self, name: &str, series: &str, baseline: bool, canary: bool) -> Option<String> {
        if !baseline && !canary {
            return None;
        }
        let hint = if self.baseline.metric(name).is_none() && self.canary.metric(name).is_none() {
            self.hint(name)
        } else {
            String::new()
        };
        Some(format!(
            "no `{series}` rows in {}{hint}",
            self.sides(baseline, canary)
        ))
    }

    fn collect_series(
        &self,
        metric: usize,
        name: &str,
        requests: Option<&str>,
        out: &mut Vec<CollectedPair>,
    ) {
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
                    "no rows with metric `{name}` in {}{}",
                    self.sides(true, true),
                    self.hint(name)
                ),
            ));
            return;
        }
        for labels in label_sets {
            let bv = b.and_then(|m| m.get(labels));
            let cv = c.and_then(|m| m.get(labels));
            let series = display_name(name, labels);
            let mut note = self.missing(name, &series, bv.is_none(), cv.is_none());
            // With `requests`, each arm's values carry the requests behind them.
            let sample = |set: &SeriesSet, values: Option<&SeriesData>| -> Sample {
                let values = values.cloned().unwrap_or_default();
                match requests
                    .and_then(|r| set.metric(r))
                    .and_then(|m| m.get(labels))
                {
                    Some(r) if !values.values.is_empty() => align_requests(&values, r),
                    _ => Sample::Values(values.values),
                }
            };
            let pair = MetricPair {
                baseline: sample(&self.baseline, bv),
                canary: sample(&self.canary, cv),
            };
            if let Some(r) = requests {
                let lacking = |s: &Sample| matches!(s, Sample::Values(v) if !v.is_empty());
                let (b, c) = (lacking(&pair.baseline), lacking(&pair.canary));
                if b || c {
                    let text = format!(
                        "no `{}` rows in {}: judged without request counts",
                        display_name(r, labels),
                        self.sides(b, c).replace(" nor in ", " nor ")
                    );
                    note = Some(match note {
                        Some(n) => format!("{n}; {text}"),
                        None => text,
                    });
                }
            }
            out.push(CollectedPair {
                histogram_steps: Default::default(),
                steps: Vec::new(),
                metric,
                labels: labels.clone(),
                pair,
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
        let empty = || Sample::Counts {
            events: Vec::new(),
            totals: Vec::new(),
        };
        if label_sets.is_empty() {
            let mut pair = CollectedPair::missing(
                metric,
                query(&Labels::new()),
                format!(
                    "no rows with metric `{events}`{} or `{total}`{} in {}",
                    self.hint(events),
                    self.hint(total),
                    self.sides(true, true)
                ),
            );
            pair.pair = MetricPair {
                baseline: empty(),
                canary: empty(),
            };
            out.push(pair);
            return;
        }
        for labels in label_sets {
            fn get<'s>(set: &'s SeriesSet, name: &str, labels: &Labels) -> Option<&'s SeriesData> {
                set.metric(name).and_then(|m| m.get(labels))
            }
            let (be, bt) = (
                get(&self.baseline, events, labels),
                get(&self.baseline, total, labels),
            );
            let (ce, ct) = (
                get(&self.canary, events, labels),
                get(&self.canary, total, labels),
            );
            let notes: Vec<String> = [
                (events, be.is_none(), ce.is_none()),
                (total, bt.is_none(), ct.is_none()),
            ]
            .into_iter()
            .filter_map(|(name, b, c)| self.missing(name, &display_name(name, labels), b, c))
            .collect();
            let side = |e: Option<&SeriesData>, t: Option<&SeriesData>| match (e, t) {
                (Some(e), Some(t)) => (align_counts(e, t), counts_times(e, t)),
                _ => (empty(), Vec::new()),
            };
            let (b, btimes) = side(be, bt);
            let (c, ctimes) = side(ce, ct);
            out.push(CollectedPair {
                histogram_steps: Default::default(),
                steps: Vec::new(),
                metric,
                labels: labels.clone(),
                pair: MetricPair {
                    baseline: b,
                    canary: c,
                },
                query: query(labels),
                note: (!notes.is_empty()).then(|| notes.join("; ")),
                times: [btimes, ctimes],
            });
        }
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

/// Whether every row of `s` carries a finite timestamp.
fn timed(s: &SeriesData) -> bool {
    !s.timestamps.is_empty() && s.timestamps.iter().all(|t| t.is_finite())
}

/// `source`'s values at `target`'s timestamps (NaN where `source` has none).
fn values_at(target: &SeriesData, source: &SeriesData) -> Vec<f64> {
    let by_time: HashMap<u64, f64> = source
        .timestamps
        .iter()
        .map(|t| t.to_bits())
        .zip(source.values.iter().copied())
        .collect();
    target
        .timestamps
        .iter()
        .map(|t| by_time.get(&t.to_bits()).copied().unwrap_or(f64::NAN))
        .collect()
}

/// Per-interval aggregates and the requests behind them, aligned to the values: by
/// timestamp when both series have one on every row (a value without a request count gets
/// NaN: judged unweighted), else by position.
fn align_requests(values: &SeriesData, requests: &SeriesData) -> Sample {
    let requests = if timed(values) && timed(requests) {
        values_at(values, requests)
    } else {
        (0..values.values.len())
            .map(|i| requests.values.get(i).copied().unwrap_or(f64::NAN))
            .collect()
    };
    Sample::Aggregates {
        values: values.values.clone(),
        requests,
    }
}

/// Pair event and total observations: by timestamp when both series carry timestamps on
/// every row (an interval missing on one side is NaN and dropped), else by position.
fn align_counts(events: &SeriesData, totals: &SeriesData) -> Sample {
    if timed(events) && timed(totals) {
        return Sample::Counts {
            events: values_at(totals, events),
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

    fn set(file: &str, series: &[(&str, &[f64], &[f64])]) -> SeriesSet {
        let labels: Labels = [("node".to_string(), "a".to_string())]
            .into_iter()
            .collect();
        let mut out: HashMap<String, std::collections::BTreeMap<Labels, SeriesData>> =
            HashMap::new();
        for (name, t, v) in series {
            out.entry(name.to_string()).or_default().insert(
                labels.clone(),
                SeriesData {
                    timestamps: t.to_vec(),
                    values: v.to_vec(),
                },
            );
        }
        SeriesSet {
            file: file.into(),
            series: out,
            rows: 0,
        }
    }

    /// `requests = "requests"` puts each value's request count beside it, by timestamp; an
    /// arm without the series is judged without counts, and the pair says so.
    #[test]
    fn aggregates_carry_their_requests_and_a_missing_count_series_is_said() {
        let config = CanaryConfig::parse(
            "name = \"x\"\n[[metrics]]\nname = \"p99\"\nrequests = \"requests\"\njudge = { kind = \"band\" }\n",
            crate::config::source::Format::Toml,
            "x.toml",
        )
        .expect("valid config");
        let collector = FileCollector {
            baseline: set(
                "b.csv",
                &[
                    ("p99", &[0.0, 300.0], &[1.0, 2.0]),
                    ("requests", &[300.0, 0.0], &[20.0, 10.0]),
                ],
            ),
            canary: set("c.csv", &[("p99", &[600.0], &[3.0])]),
        };
        let pairs = collector.read(&config).expect("read");
        assert_eq!(pairs.len(), 1);
        assert_eq!(
            pairs[0].pair.baseline,
            Sample::Aggregates {
                values: vec![1.0, 2.0],
                requests: vec![10.0, 20.0],
            }
        );
        assert_eq!(pairs[0].pair.canary, Sample::Values(vec![3.0]));
        assert!(
            pairs[0].pair.problem().is_none(),
            "values with or without counts pair up"
        );
        let note = pairs[0].note.as_deref().unwrap_or("");
        assert!(
            note.contains("no `requests{node=\"a\"}` rows in the canary (c.csv): judged without request counts"),
            "{note}"
        );
        // The series is read by a metric: no "read by no metric" warning.
        assert!(series_warnings(&config, &[("the baseline", &collector.baseline)]).is_empty());
    }
}
