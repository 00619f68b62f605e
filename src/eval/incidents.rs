//! The real-incident benchmark: canary configs judged on PetShop's recorded microservice
//! metrics (68 injected incidents across 41 components, CC-BY-4.0), read in place.
//!
//! Cases, built from the dataset's own recordings (never copied into the project):
//! - **bad canary**: an incident file's rows from the one the incident starts in, the
//!   first `canary_len` of them (5-minute buckets);
//! - **its baseline**: clean buckets of the same recording run — the buckets wholly before
//!   each of that run's incidents — the `baseline_len` nearest in time to the canary, at
//!   least `gap_s` away from it;
//! - **healthy canary**: `canary_len` consecutive buckets of a no-issue recording (one
//!   window per hour), its baseline the `baseline_len` nearest buckets at the same spacing
//!   as the incident runs' clean buckets (one per 30 minutes), at least `gap_s` away and
//!   outside the window.
//!
//! Every case is one analysis of every node's `latency_p50`, `latency_p90`, `latency_p99`
//! (seconds) and `availability` (%), with `requests` (per bucket) beside them, label `node` — the long format the shipped config
//! (`datasets/petshop/canary.toml`) reads, so the same config judges the same data from
//! files. A case is **flagged** when its verdict is fail or marginal: recall is the share
//! of incidents flagged, false alarms the share of healthy windows flagged.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use canary_judges::{Classification, Verdict};
use polars::prelude::*;
use rayon::prelude::*;
use serde::Serialize;

use crate::analysis::{AnalysisReport, analyze};
use crate::collectors::Labels;
use crate::collectors::file::FileCollector;
use crate::collectors::table::{SeriesData, SeriesSet};
use crate::config::CanaryConfig;

/// The dataset's (metric, statistic) columns the cases carry, and their names.
const METRICS: [(&str, &str, &str); 5] = [
    ("latency", "p50", "latency_p50"),
    ("latency", "p90", "latency_p90"),
    ("latency", "p99", "latency_p99"),
    ("availability", "Average", "availability"),
    ("requests", "Sum", "requests"),
];

/// Spacing of the healthy cases' baseline buckets: the incident runs' incidents (and so
/// their clean buckets) are about 30 minutes apart.
const HEALTHY_BASELINE_SPACING_S: f64 = 1800.0;
/// One healthy window per hour of a no-issue recording.
const HEALTHY_WINDOW_EVERY_S: f64 = 3600.0;

/// One recording: timestamped rows of every (node, metric) series.
#[derive(Debug, Clone)]
pub struct Recording {
    pub file: String,
    /// Unix seconds of each row (the bucket's start).
    pub times: Vec<f64>,
    /// (node, metric name) → one value per row (NaN when empty).
    pub series: BTreeMap<(String, &'static str), Vec<f64>>,
    /// Seconds between rows.
    pub step_s: f64,
}

/// One injected incident.
#[derive(Debug, Clone)]
pub struct Incident {
    /// `low_traffic/test/issue_0`.
    pub name: String,
    /// The recording run it belongs to (`low_traffic`).
    pub run: String,
    /// Unix seconds the incident began.
    pub at: f64,
    pub root_cause: String,
    pub recording: Recording,
}

/// The dataset, read once.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub incidents: Vec<Incident>,
    /// Run name → no-issue recording.
    pub healthy: BTreeMap<String, Recording>,
}

/// How cases are built.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Design {
    /// Clean buckets in a baseline (fewer when the run has fewer).
    pub baseline_len: usize,
    /// Buckets in a canary.
    pub canary_len: usize,
    /// Minimum seconds between any baseline bucket and the canary's first bucket.
    pub gap_s: f64,
}

impl Design {
    pub fn describe(&self) -> String {
        let gap = if self.gap_s > 0.0 {
            format!(
                ", baseline ≥ {} h away",
                canary_judges::format_number(self.gap_s / 3600.0)
            )
        } else {
            String::new()
        };
        format!(
            "baseline {} buckets, canary {} buckets{gap}",
            self.baseline_len, self.canary_len
        )
    }
}

/// The shipped design and its variations (one change each).
pub fn designs() -> Vec<Design> {
    let base = Design {
        baseline_len: 12,
        canary_len: 4,
        gap_s: 0.0,
    };
    vec![
        base,
        Design {
            baseline_len: 6,
            ..base
        },
        Design {
            baseline_len: 24,
            ..base
        },
        Design {
            canary_len: 3,
            ..base
        },
        Design {
            canary_len: 2,
            ..base
        },
        Design {
            gap_s: 3.0 * 3600.0,
            ..base
        },
    ]
}

/// A problem reading the dataset, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct DatasetError {
    pub file: String,
    pub message: String,
}

fn err(file: &Path, message: impl Into<String>) -> DatasetError {
    DatasetError {
        file: file.display().to_string(),
        message: message.into(),
    }
}

/// Read one wide PetShop CSV: rows `microservice` (node), `metric`, `statistic`,
/// `unix_timestamp` (empty), then one row per bucket starting with its unix time.
pub fn read_recording(path: &Path) -> Result<Recording, DatasetError> {
    let df = CsvReadOptions::default()
        .with_has_header(false)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(PathBuf::from(path)))
        .and_then(|r| r.finish())
        .map_err(|e| err(path, e.to_string().lines().next().unwrap_or("").to_string()))?;
    let columns = df.get_columns();
    if columns.len() < 2 || df.height() < 5 {
        return Err(err(
            path,
            "expected 4 header rows, data rows and 2+ columns",
        ));
    }
    let text = |c: usize, row: usize| -> Option<String> {
        columns[c].str().ok()?.get(row).map(str::to_string)
    };
    let heads: Vec<Option<String>> = (0..4).map(|r| text(0, r)).collect();
    let expected = ["microservice", "metric", "statistic", "unix_timestamp"];
    if heads
        .iter()
        .map(|h| h.as_deref())
        .ne(expected.iter().map(|e| Some(*e)))
    {
        return Err(err(
            path,
            format!("the first column must start with {}", expected.join(", ")),
        ));
    }
    let number = |c: usize, row: usize| -> f64 {
        text(c, row)
            .and_then(|s| s.trim().parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    let times: Vec<f64> = (4..df.height()).map(|r| number(0, r)).collect();
    if let Some(i) = times.iter().position(|t| !t.is_finite()) {
        return Err(err(path, format!("row {} has no unix time", i + 5)));
    }
    let mut series = BTreeMap::new();
    for c in 1..columns.len() {
        let (Some(node), Some(metric), Some(stat)) = (text(c, 0), text(c, 1), text(c, 2)) else {
            continue;
        };
        let Some(name) = METRICS
            .iter()
            .find(|(m, s, _)| *m == metric && *s == stat)
            .map(|(_, _, n)| *n)
        else {
            continue;
        };
        let values = (4..df.height()).map(|r| number(c, r)).collect();
        series.insert((node, name), values);
    }
    let mut steps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    steps.sort_by(f64::total_cmp);
    let step_s = steps.get(steps.len() / 2).copied().unwrap_or(300.0);
    Ok(Recording {
        file: path.display().to_string(),
        times,
        series,
        step_s,
    })
}

/// Read every incident and no-issue recording under `root` (the dataset's directory, with
/// `dataset/<run>/{train,test}/issue_N/{metrics.csv,target.json}` and
/// `dataset/<run>/noissue/metrics.csv`).
pub fn read_dataset(root: &Path) -> Result<Dataset, DatasetError> {
    let base = root.join("dataset");
    let runs = std::fs::read_dir(&base).map_err(|e| {
        err(
            &base,
            format!("{e} (pass the PetShop dataset's directory, e.g. ../shared/datasets/petshop)"),
        )
    })?;
    let mut run_names: Vec<String> = runs
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    run_names.sort();
    let mut issue_dirs = Vec::new();
    let mut healthy = BTreeMap::new();
    for run in &run_names {
        for split in ["train", "test"] {
            let dir = base.join(run).join(split);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.filter_map(|e| e.ok()) {
                if e.path().join("metrics.csv").is_file() {
                    issue_dirs.push((run.clone(), split, e.path()));
                }
            }
        }
        let noissue = base.join(run).join("noissue").join("metrics.csv");
        if noissue.is_file() {
            healthy.insert(run.clone(), read_recording(&noissue)?);
        }
    }
    issue_dirs.sort_by(|a, b| a.2.cmp(&b.2));
    let incidents = issue_dirs
        .par_iter()
        .map(|(run, split, dir)| {
            let target = dir.join("target.json");
            let text = std::fs::read_to_string(&target).map_err(|e| err(&target, e.to_string()))?;
            let v: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| err(&target, e.to_string()))?;
            let at = v["target"]["timestamp"]
                .as_f64()
                .ok_or_else(|| err(&target, "no target.timestamp"))?;
            let root_cause = v["root_cause"]["node"].as_str().unwrap_or("").to_string();
            let issue = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok(Incident {
                name: format!("{run}/{split}/{issue}"),
                run: run.clone(),
                at,
                root_cause,
                recording: read_recording(&dir.join("metrics.csv"))?,
            })
        })
        .collect::<Result<Vec<_>, DatasetError>>()?;
    if incidents.is_empty() {
        return Err(err(
            &base,
            "no incidents found (dataset/<run>/{train,test}/issue_N)",
        ));
    }
    Ok(Dataset { incidents, healthy })
}

/// Rows `rows` of a recording as one arm's long-format series.
fn arm(recording: &Recording, rows: &[usize], file: &str) -> SeriesSet {
    let mut series: HashMap<String, BTreeMap<Labels, SeriesData>> = HashMap::new();
    for ((node, metric), values) in &recording.series {
        let data = SeriesData {
            timestamps: rows.iter().map(|&r| recording.times[r]).collect(),
            values: rows.iter().map(|&r| values[r]).collect(),
        };
        if data.values.iter().all(|v| v.is_nan()) {
            continue;
        }
        let labels: Labels = [("node".to_string(), node.clone())].into_iter().collect();
        series
            .entry(metric.to_string())
            .or_default()
            .insert(labels, data);
    }
    SeriesSet {
        file: file.to_string(),
        series,
        rows: rows.len(),
    }
}

/// A baseline of clean rows from several recordings merged into one arm: for each
/// (node, metric) the values of the chosen rows, in time order.
fn merged_arm(rows: &[(&Recording, usize)], file: &str) -> SeriesSet {
    let mut series: HashMap<String, BTreeMap<Labels, SeriesData>> = HashMap::new();
    for (recording, row) in rows {
        for ((node, metric), values) in &recording.series {
            let labels: Labels = [("node".to_string(), node.clone())].into_iter().collect();
            let data = series
                .entry(metric.to_string())
                .or_default()
                .entry(labels)
                .or_default();
            data.timestamps.push(recording.times[*row]);
            data.values.push(values[*row]);
        }
    }
    for by_labels in series.values_mut() {
        by_labels.retain(|_, d| d.values.iter().any(|v| !v.is_nan()));
    }
    SeriesSet {
        file: file.to_string(),
        series,
        rows: rows.len(),
    }
}

/// One case: baseline and canary arms, and whether it holds an incident.
pub struct Case {
    pub name: String,
    pub incident: bool,
    pub baseline: SeriesSet,
    pub canary: SeriesSet,
    pub baseline_len: usize,
}

/// The cases of `design`.
pub fn cases(data: &Dataset, design: Design) -> Vec<Case> {
    let mut out = Vec::new();
    // Clean buckets per run: every incident file's buckets that end before its incident.
    let mut clean: BTreeMap<&str, Vec<(&Recording, usize)>> = BTreeMap::new();
    for inc in &data.incidents {
        let r = &inc.recording;
        for (row, t) in r.times.iter().enumerate() {
            if t + r.step_s <= inc.at {
                clean.entry(inc.run.as_str()).or_default().push((r, row));
            }
        }
    }
    for inc in &data.incidents {
        let r = &inc.recording;
        let rows: Vec<usize> = (0..r.times.len())
            .filter(|&row| r.times[row] + r.step_s > inc.at)
            .take(design.canary_len)
            .collect();
        let Some(&first) = rows.first() else { continue };
        let start = r.times[first];
        let mut pool: Vec<(&Recording, usize)> = clean
            .get(inc.run.as_str())
            .map(|v| {
                v.iter()
                    .copied()
                    .filter(|(rec, row)| (rec.times[*row] - start).abs() >= design.gap_s)
                    .collect()
            })
            .unwrap_or_default();
        pool.sort_by(|a, b| {
            let d = |x: &(&Recording, usize)| (x.0.times[x.1] - start).abs();
            d(a).total_cmp(&d(b))
        });
        pool.truncate(design.baseline_len);
        pool.sort_by(|a, b| a.0.times[a.1].total_cmp(&b.0.times[b.1]));
        out.push(Case {
            name: inc.name.clone(),
            incident: true,
            baseline_len: pool.len(),
            baseline: merged_arm(
                &pool,
                &format!("{} (clean buckets of {})", inc.name, inc.run),
            ),
            canary: arm(r, &rows, &inc.name),
        });
    }
    for (run, r) in &data.healthy {
        let every = (HEALTHY_WINDOW_EVERY_S / r.step_s).round().max(1.0) as usize;
        let spacing = (HEALTHY_BASELINE_SPACING_S / r.step_s).round().max(1.0) as usize;
        let mut w0 = 0;
        while w0 + design.canary_len <= r.times.len() {
            let window: Vec<usize> = (w0..w0 + design.canary_len).collect();
            let start = r.times[w0];
            let mut pool: Vec<usize> = (0..r.times.len())
                .filter(|&row| {
                    !window.contains(&row)
                        && row.abs_diff(w0) % spacing == 0
                        && (r.times[row] - start).abs() >= design.gap_s
                })
                .collect();
            pool.sort_by_key(|&row| row.abs_diff(w0));
            pool.truncate(design.baseline_len);
            pool.sort();
            let name = format!("{run}/noissue@{}", r.times[w0]);
            out.push(Case {
                baseline_len: pool.len(),
                baseline: arm(r, &pool, &format!("{name} (baseline)")),
                canary: arm(r, &window, &name),
                name,
                incident: false,
            });
            w0 += every;
        }
    }
    out
}

/// What one config did on one design's cases.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub config: String,
    pub design: Design,
    pub incidents: usize,
    pub incidents_flagged: usize,
    pub healthy: usize,
    pub healthy_flagged: usize,
    /// Cases whose verdict was inconclusive (held: neither flagged nor passed).
    pub inconclusive: usize,
    /// Median baseline buckets of the cases (runs with few incidents have fewer).
    pub baseline_median: usize,
    /// Incidents not flagged, by name.
    pub missed: Vec<String>,
    /// Healthy windows flagged, by name, with the series judged worse in each.
    pub false_alarms: Vec<String>,
}

impl Row {
    pub fn recall(&self) -> f64 {
        self.incidents_flagged as f64 / self.incidents.max(1) as f64
    }
    pub fn false_alarms(&self) -> f64 {
        self.healthy_flagged as f64 / self.healthy.max(1) as f64
    }
}

/// One case's whole analysis by `config`: what `bench-incidents --case` prints.
pub fn judge(config: &CanaryConfig, case: &Case) -> AnalysisReport {
    let collector = FileCollector {
        baseline: case.baseline.clone(),
        canary: case.canary.clone(),
    };
    let pairs = collector
        .read(config)
        .expect("in-memory series always read");
    analyze(config, &pairs, None)
}

/// Judge `cases` with `config` (named `label`).
pub fn run(label: &str, config: &CanaryConfig, design: Design, cases: &[Case]) -> Row {
    let verdicts: Vec<(bool, Verdict, &str, usize, Vec<String>)> = cases
        .par_iter()
        .map(|case| {
            let report = judge(config, case);
            let worse = report
                .metrics
                .iter()
                .filter(|m| {
                    !m.muted
                        && matches!(
                            m.classification,
                            Classification::High | Classification::Low | Classification::NodataFail
                        )
                })
                .map(|m| {
                    let node = m.labels.values().cloned().collect::<Vec<_>>().join(",");
                    format!("{}{{{node}}}", m.metric)
                })
                .collect();
            (
                case.incident,
                report.verdict,
                case.name.as_str(),
                case.baseline_len,
                worse,
            )
        })
        .collect();
    let flagged = |v: Verdict| matches!(v, Verdict::Fail | Verdict::Marginal);
    let mut sizes: Vec<usize> = verdicts.iter().map(|v| v.3).collect();
    sizes.sort();
    Row {
        config: label.to_string(),
        design,
        incidents: verdicts.iter().filter(|v| v.0).count(),
        incidents_flagged: verdicts.iter().filter(|v| v.0 && flagged(v.1)).count(),
        healthy: verdicts.iter().filter(|v| !v.0).count(),
        healthy_flagged: verdicts.iter().filter(|v| !v.0 && flagged(v.1)).count(),
        inconclusive: verdicts
            .iter()
            .filter(|v| v.1 == Verdict::Inconclusive)
            .count(),
        baseline_median: sizes.get(sizes.len() / 2).copied().unwrap_or(0),
        missed: verdicts
            .iter()
            .filter(|v| v.0 && !flagged(v.1))
            .map(|v| v.2.to_string())
            .collect(),
        false_alarms: verdicts
            .iter()
            .filter(|v| !v.0 && flagged(v.1))
            .map(|v| format!("{} ({})", v.2, v.4.join(", ")))
            .collect(),
    }
}

/// The benchmark's table in Markdown.
pub fn markdown(rows: &[Row]) -> String {
    let mut s = String::from(
        "| config | design | recall (incidents flagged) | false alarms (healthy flagged) | inconclusive | baseline buckets (median) |\n|---|---|---|---|---|---|\n",
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {:.1}% ({}/{}) | {:.1}% ({}/{}) | {} | {} |\n",
            r.config,
            r.design.describe(),
            100.0 * r.recall(),
            r.incidents_flagged,
            r.incidents,
            100.0 * r.false_alarms(),
            r.healthy_flagged,
            r.healthy,
            r.inconclusive,
            r.baseline_median,
        ));
    }
    s
}
