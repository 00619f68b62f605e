//! The `sequential` judge's settings: [`SequentialConfig`] and what it names.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::counts;
use crate::judge::FieldError;
use crate::kinds::num;

/// What the `Values` of a metric are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    /// One value per request (latencies): compared as distributions.
    #[default]
    Requests,
    /// One value per interval and arm (a per-scrape aggregate): compared as paired means.
    Intervals,
}

/// What an undecided test becomes at its horizon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InconclusiveAction {
    /// `inconclusive`: never promotes; caps the analysis at marginal (a person decides).
    #[default]
    Hold,
    /// Counts as a failure (`high`/`low` in the watched direction): roll back.
    Fail,
    /// Counts as a pass: promote what could not be shown worse (for low-risk changes).
    Pass,
}

/// Options of the `sequential` judge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequentialConfig {
    /// False-alarm rate of the whole analysis, at any stopping time (split across pairs).
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Deviation band: the canary may be worse by this fraction without failing
    /// (error-rate ratio, quantile ratio or mean ratio).
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// Pass bands: a canary is promoted once the confidence sequence rules out that it is
    /// worse than the baseline by more than this fraction — per quantile (`p50`, `p99.9`),
    /// for event counts (`rate`) and per-interval means (`mean`); a key not given falls back
    /// to `tolerance`. Wider than the fail band where the data cannot prove a tight one
    /// (tails): see docs/sequential.md, "Pass bands".
    #[serde(default = "default_pass_bands")]
    pub pass_bands: BTreeMap<String, f64>,
    /// Share of the horizon after which a pass takes effect: 1 (the default) promotes only
    /// at the horizon, after the restarted tests watched the whole run for a late
    /// regression; 0 promotes as soon as the bands are proven.
    #[serde(default = "default_pass_from")]
    pub pass_from: f64,
    /// Quantiles compared for distributions.
    #[serde(default = "default_quantiles")]
    pub quantiles: Vec<f64>,
    /// Quantiles that also get a fixed-quantile confidence sequence: tighter than the
    /// uniform band for one quantile (the more so in the tail), at a share of α.
    #[serde(default = "default_fixed_quantiles")]
    pub fixed_quantiles: Vec<f64>,
    /// How to read plain values: per request or per interval.
    #[serde(default)]
    pub values: ValueKind,
    /// Concentration of the count test's Dirichlet prior (Lindon & Malek's k); half the
    /// prior mass.
    #[serde(default = "default_prior_k")]
    pub prior_k: f64,
    /// Concentration of the broad half of the count prior, for large changes (a crash
    /// loop is caught within a few errors).
    #[serde(default = "default_broad_prior_k")]
    pub broad_prior_k: f64,
    /// Intervals before the paired-mean test may decide.
    #[serde(default = "default_burn_in")]
    pub burn_in: usize,
    /// Horizon: observations per arm after which an undecided test is inconclusive.
    #[serde(default)]
    pub max_samples: Option<f64>,
    /// What an undecided test becomes at its horizon: `hold` (inconclusive), `fail`, `pass`.
    #[serde(default)]
    pub on_inconclusive: InconclusiveAction,
    /// Relative bucket width for raw per-request values (0.01 = 1%).
    #[serde(default = "default_bucket_width")]
    pub bucket_width: f64,
    /// Change points watched for a regression that starts mid-analysis: the count test's
    /// "no change" e-process restarts this many times, evenly over the analysis's horizon,
    /// and the restarts are mixed ([`restart`](super::restart)); 1 watches only for a regression present
    /// from the start.
    #[serde(default = "default_restarts")]
    pub restarts: usize,
    /// Starts of the distribution test (latency) over the horizon, the first at 0: each
    /// later one is a fresh test fed the scrapes from its start on, at an equal share of
    /// half the pair's α (the test from 0 keeps the other half); 1 = from the start only.
    #[serde(default = "default_distribution_restarts")]
    pub distribution_restarts: usize,
}

pub(super) fn default_alpha() -> f64 {
    0.01
}
pub(super) fn default_tolerance() -> f64 {
    0.05
}
/// The pass bands canaryd ships (docs/sequential.md, "Pass bands", has the measurements
/// behind them).
pub fn default_pass_bands() -> BTreeMap<String, f64> {
    [
        ("p50", 0.05),
        ("p90", 0.10),
        ("p99", 0.30),
        ("rate", 1.0),
        ("mean", 0.10),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}
pub(super) fn default_pass_from() -> f64 {
    1.0
}
pub(super) fn default_quantiles() -> Vec<f64> {
    vec![0.5, 0.9, 0.99]
}
pub(super) fn default_fixed_quantiles() -> Vec<f64> {
    vec![0.99]
}
pub(super) fn default_prior_k() -> f64 {
    counts::DEFAULT_PRIOR_K
}
pub(super) fn default_broad_prior_k() -> f64 {
    2.0
}
pub(super) fn default_burn_in() -> usize {
    10
}
pub(super) fn default_restarts() -> usize {
    30
}
pub(super) fn default_distribution_restarts() -> usize {
    6
}
pub(super) fn default_bucket_width() -> f64 {
    0.01
}

impl Default for SequentialConfig {
    fn default() -> Self {
        SequentialConfig {
            alpha: default_alpha(),
            tolerance: default_tolerance(),
            pass_bands: default_pass_bands(),
            pass_from: default_pass_from(),
            quantiles: default_quantiles(),
            fixed_quantiles: default_fixed_quantiles(),
            values: ValueKind::default(),
            prior_k: default_prior_k(),
            broad_prior_k: default_broad_prior_k(),
            burn_in: default_burn_in(),
            max_samples: None,
            on_inconclusive: InconclusiveAction::default(),
            bucket_width: default_bucket_width(),
            restarts: default_restarts(),
            distribution_restarts: default_distribution_restarts(),
        }
    }
}

/// The pass-band key of quantile `p`: `p50`, `p99.9`.
pub fn quantile_key(p: f64) -> String {
    format!("p{}", num(p * 100.0))
}

/// The quantile a pass-band key names (`p99.9` → 0.999), if it names one.
pub(super) fn key_quantile(key: &str) -> Option<f64> {
    let pct: f64 = key.strip_prefix('p')?.parse().ok()?;
    (pct > 0.0 && pct < 100.0).then_some(pct / 100.0)
}

impl SequentialConfig {
    /// The pass band for `key` (`rate`, `mean`, or a quantile's `p50`): its own, else the
    /// fail band.
    pub fn pass_band(&self, key: &str) -> f64 {
        self.pass_bands.get(key).copied().unwrap_or(self.tolerance)
    }

    /// The pass band of quantile `p`.
    pub fn quantile_pass_band(&self, p: f64) -> f64 {
        self.pass_bands
            .iter()
            .find(|(k, _)| key_quantile(k).is_some_and(|q| (q - p).abs() < 1e-9))
            .map_or(self.tolerance, |(_, v)| *v)
    }

    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut err =
            |field: &'static str, message: String| errors.push(FieldError { field, message });
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            err(
                "alpha",
                format!("must be between 0 and 1 (exclusive), got {}", self.alpha),
            );
        }
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            err(
                "tolerance",
                format!("must be a finite number ≥ 0, got {}", self.tolerance),
            );
        }
        for (key, band) in &self.pass_bands {
            if !(key == "rate" || key == "mean" || key_quantile(key).is_some()) {
                err(
                    "pass_bands",
                    format!(
                        "unknown key `{key}`: use `rate`, `mean` or a quantile such as `p50`, `p99.9`"
                    ),
                );
            } else if !(band.is_finite() && *band >= 0.0) {
                err(
                    "pass_bands",
                    format!("`{key}` must be a finite number ≥ 0, got {band}"),
                );
            }
        }
        if !(0.0..=1.0).contains(&self.pass_from) {
            err(
                "pass_from",
                format!(
                    "is a share of the horizon between 0 and 1, got {}",
                    self.pass_from
                ),
            );
        }
        if self.quantiles.is_empty() {
            err("quantiles", "needs at least one quantile".into());
        }
        for (field, list) in [
            ("quantiles", &self.quantiles),
            ("fixed_quantiles", &self.fixed_quantiles),
        ] {
            if let Some(p) = list.iter().find(|p| !(**p > 0.0 && **p < 1.0)) {
                err(
                    field,
                    format!("quantiles are fractions between 0 and 1 (p99 is 0.99), got {p}"),
                );
            }
        }
        if !(self.prior_k.is_finite() && self.prior_k > 0.0) {
            err(
                "prior_k",
                format!("must be a positive number, got {}", self.prior_k),
            );
        }
        if let Some(m) = self.max_samples
            && !(m.is_finite() && m > 0.0)
        {
            err("max_samples", format!("must be a positive number, got {m}"));
        }
        if !(1..=100).contains(&self.distribution_restarts) {
            err(
                "distribution_restarts",
                format!(
                    "must be between 1 (no restarts) and 100, got {}",
                    self.distribution_restarts
                ),
            );
        }
        if !(1..=10_000).contains(&self.restarts) {
            err(
                "restarts",
                format!(
                    "must be between 1 (no restarts) and 10000, got {}",
                    self.restarts
                ),
            );
        }
        if !(self.bucket_width > 0.0 && self.bucket_width <= 0.5) {
            err(
                "bucket_width",
                format!("must be in (0, 0.5], got {}", self.bucket_width),
            );
        }
        errors
    }
}
