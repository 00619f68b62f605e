//! canaryd's own canary-config format as written by people (TOML, JSON or YAML), before
//! validation. Unknown fields are rejected everywhere.

use std::collections::BTreeMap;

use canary_judges::{
    Combine, Direction, EffectSizeConfig, JudgeConfig, NanStrategy, Outliers, ScoringRules,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub applications: Vec<String>,
    #[serde(default)]
    pub thresholds: Option<RawThresholds>,
    /// Group weights: group name → weight (0–100, sum ≤ 100).
    #[serde(default)]
    pub groups: BTreeMap<String, f64>,
    /// Judge for metrics that do not name one.
    #[serde(default)]
    pub judge: Option<JudgeConfig>,
    /// Scoring rules: `canaryd` (missing evidence holds) or `kayenta` (Kayenta's scorer).
    #[serde(default)]
    pub scoring: Option<ScoringRules>,
    /// How judged failures combine: `auto` (default), `share` or `any`.
    #[serde(default)]
    pub combine: Combine,
    /// Hosts as the unit for every metric: the label naming a host (`instance`, `host`).
    #[serde(default)]
    pub unit_label: Option<String>,
    pub metrics: Vec<RawMetric>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThresholds {
    pub pass: f64,
    pub marginal: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetric {
    pub name: String,
    /// Series name in the data (files: the `metric` column). Defaults to `name`.
    #[serde(default)]
    pub series: Option<String>,
    /// Event-count metric: series of events (e.g. errors).
    #[serde(default)]
    pub events: Option<String>,
    /// Event-count metric: series of totals (e.g. requests).
    #[serde(default)]
    pub total: Option<String>,
    /// Per-interval aggregates: the series of the request count behind each value
    /// (files), which the `band` judge weighs intervals by.
    #[serde(default)]
    pub requests: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub direction: Direction,
    #[serde(default)]
    pub nan_strategy: NanStrategy,
    #[serde(default)]
    pub outliers: Outliers,
    #[serde(default)]
    pub effect_size: EffectSizeConfig,
    #[serde(default)]
    pub critical: bool,
    #[serde(default)]
    pub must_have_data: bool,
    #[serde(default)]
    pub muted: bool,
    #[serde(default)]
    pub judge: Option<JudgeConfig>,
    /// The unit of the metric's values (`ms`, `s`, `req/s`, …), shown beside every number.
    #[serde(default)]
    pub unit: Option<String>,
    /// The Prometheus query (for `canaryd serve` and Prometheus windows).
    #[serde(default)]
    pub query: Option<super::query::PromQuery>,
    /// Hosts as the unit for this metric (overrides the config's `unit_label`).
    #[serde(default)]
    pub unit_label: Option<String>,
}
