//! Replay: standalone analysis of many historical deploys.
//!
//! A deploy is a folder with `baseline.csv|parquet` and `canary.csv|parquet` in the
//! `analyze` long format, an optional `label` file (`good` or `bad`), and optionally its own
//! canary config (`canary.toml|json|yaml|yml`) when no config is given for all. A manifest
//! (`deploys.toml`: `[[deploys]] path = "…", label = "good"`) may list deploys instead of a
//! folder of folders. Each deploy is analysed with the sequential judges stepped through
//! time (so the time to decision is known), and a broken deploy is reported and skipped.

use std::path::{Path, PathBuf};

use canary_judges::{ScoringRules, Thresholds, Verdict};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::analysis::timeline::analyze_over_time;
use crate::collectors::file::FileCollector;
use crate::config::CanaryConfig;

/// What a user said a deploy was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    Good,
    Bad,
}

impl Label {
    fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "good" => Some(Label::Good),
            "bad" => Some(Label::Bad),
            _ => None,
        }
    }
}

/// One deploy to replay.
#[derive(Debug, Clone)]
pub struct Deploy {
    pub name: String,
    pub dir: PathBuf,
    pub label: Option<Label>,
}

/// One row of the replay output.
#[derive(Debug, Clone, Serialize)]
pub struct DeployResult {
    pub deploy: String,
    pub label: Option<Label>,
    pub verdict: Option<Verdict>,
    pub score: Option<f64>,
    /// Metric pairs that failed (`name{labels}`), comma-separated.
    pub failing: String,
    /// Seconds from the deploy's first timestamp to the sequential judges' decision.
    pub decided_after_s: Option<f64>,
    /// Why the deploy could not be analysed.
    pub error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    deploys: Vec<ManifestEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestEntry {
    path: PathBuf,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    label: Option<Label>,
}

/// Deploys that cannot be found: the path given, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", .path.display())]
pub struct DiscoverError {
    pub path: PathBuf,
    pub reason: String,
}

/// Find the deploys under `path`: a manifest file, a folder of deploy folders, or a
/// single deploy folder.
pub fn discover(path: &Path) -> Result<Vec<Deploy>, DiscoverError> {
    let fail = |reason: String| DiscoverError {
        path: path.to_path_buf(),
        reason,
    };
    if path.is_file() {
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let manifest: Manifest =
            toml::from_str(&text).map_err(|e| fail(e.message().to_string()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        return Ok(manifest
            .deploys
            .into_iter()
            .map(|e| {
                let dir = base.join(&e.path);
                Deploy {
                    name: e.name.unwrap_or_else(|| e.path.display().to_string()),
                    label: e.label.or_else(|| read_label(&dir)),
                    dir,
                }
            })
            .collect());
    }
    if !path.is_dir() {
        return Err(fail("no such folder or manifest".into()));
    }
    if data_file(path, "baseline").is_some() {
        return Ok(vec![Deploy {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| ".".into()),
            dir: path.to_path_buf(),
            label: read_label(path),
        }]);
    }
    let mut deploys: Vec<Deploy> = std::fs::read_dir(path)
        .map_err(|e| fail(e.to_string()))?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| Deploy {
            name: e.file_name().to_string_lossy().into_owned(),
            label: read_label(&e.path()),
            dir: e.path(),
        })
        .collect();
    deploys.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(deploys)
}

fn read_label(dir: &Path) -> Option<Label> {
    std::fs::read_to_string(dir.join("label"))
        .ok()
        .and_then(|t| Label::parse(&t))
}

fn data_file(dir: &Path, arm: &str) -> Option<PathBuf> {
    ["csv", "parquet"]
        .iter()
        .map(|ext| dir.join(format!("{arm}.{ext}")))
        .find(|p| p.is_file())
}

fn deploy_config(dir: &Path) -> Option<PathBuf> {
    ["toml", "json", "yaml", "yml"]
        .iter()
        .map(|ext| dir.join(format!("canary.{ext}")))
        .find(|p| p.is_file())
}

/// Analyse one deploy.
pub fn replay_one(
    deploy: &Deploy,
    config: Option<&CanaryConfig>,
    thresholds: Option<Thresholds>,
    scoring: Option<ScoringRules>,
    step_s: f64,
) -> DeployResult {
    let mut row = DeployResult {
        deploy: deploy.name.clone(),
        label: deploy.label,
        verdict: None,
        score: None,
        failing: String::new(),
        decided_after_s: None,
        error: None,
    };
    let outcome = (|| -> Result<(), String> {
        let mut config = match config {
            Some(c) => c.clone(),
            None => {
                let path = deploy_config(&deploy.dir)
                    .ok_or("no --config given and no canary.toml|json|yaml in the deploy folder")?;
                CanaryConfig::load(&path).map_err(|e| e.to_string())?
            }
        };
        if let Some(rules) = scoring {
            config.scoring = Some(rules);
        }
        let config = &config;
        let b = data_file(&deploy.dir, "baseline").ok_or("no baseline.csv or baseline.parquet")?;
        let c = data_file(&deploy.dir, "canary").ok_or("no canary.csv or canary.parquet")?;
        let collector = FileCollector::open(&b, &c).map_err(|e| e.to_string())?;
        let pairs = collector.read(config).map_err(|e| e.to_string())?;
        let timed = analyze_over_time(config, &pairs, thresholds, step_s);
        row.verdict = Some(timed.report.verdict);
        row.score = Some(timed.report.score);
        row.failing = timed
            .report
            .metrics
            .iter()
            .filter(|m| m.classification.is_failure() || m.critical)
            .map(|m| m.display_name())
            .collect::<Vec<_>>()
            .join(", ");
        row.decided_after_s = timed.decided_after_s;
        Ok(())
    })();
    if let Err(e) = outcome {
        row.error = Some(e);
    }
    row
}

/// Replay every deploy (in parallel), calling `progress` after each.
pub fn replay_all(
    deploys: &[Deploy],
    config: Option<&CanaryConfig>,
    thresholds: Option<Thresholds>,
    scoring: Option<ScoringRules>,
    step_s: f64,
    progress: &(dyn Fn() + Sync),
) -> Vec<DeployResult> {
    deploys
        .par_iter()
        .map(|d| {
            let r = replay_one(d, config, thresholds, scoring, step_s);
            progress();
            r
        })
        .collect()
}

/// Counts of (label, verdict) pairs.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Confusion {
    /// Rows: label good, bad; columns: verdict pass, marginal, inconclusive, fail.
    pub good: [usize; 4],
    pub bad: [usize; 4],
}

impl Confusion {
    pub fn of(results: &[DeployResult]) -> Option<Self> {
        let mut m = Confusion::default();
        let mut any = false;
        for r in results {
            let (Some(label), Some(verdict)) = (r.label, r.verdict) else {
                continue;
            };
            any = true;
            let col = match verdict {
                Verdict::Pass => 0,
                Verdict::Marginal => 1,
                Verdict::Inconclusive => 2,
                Verdict::Fail => 3,
            };
            match label {
                Label::Good => m.good[col] += 1,
                Label::Bad => m.bad[col] += 1,
            }
        }
        any.then_some(m)
    }

    /// A small table with recall and precision of "fail" for "bad".
    pub fn render(&self) -> String {
        let caught = self.bad[3] as f64;
        let bad_total = self.bad.iter().sum::<usize>() as f64;
        let failed_total = (self.bad[3] + self.good[3]) as f64;
        let ratio = |a: f64, b: f64| {
            if b > 0.0 {
                format!("{:.1}%", 100.0 * a / b)
            } else {
                "-".into()
            }
        };
        format!(
            "confusion matrix (rows: label; columns: verdict)\n\
             label   pass  marginal  inconclusive  fail\n\
             good  {:>6} {:>9} {:>13} {:>5}\n\
             bad   {:>6} {:>9} {:>13} {:>5}\n\
             bad deploys failed (recall): {}; failed deploys that were bad (precision): {}\n",
            self.good[0],
            self.good[1],
            self.good[2],
            self.good[3],
            self.bad[0],
            self.bad[1],
            self.bad[2],
            self.bad[3],
            ratio(caught, bad_total),
            ratio(caught, failed_total)
        )
    }
}
