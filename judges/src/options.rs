//! Per-metric options every judge honours, with Kayenta's names and defaults.
//!
//! | option | values | default |
//! |---|---|---|
//! | `direction` | `increase`, `decrease`, `either` (which change is bad) | `either` |
//! | `nan_strategy` | `remove` (drop NaN), `replace` (NaN → 0) | `remove` |
//! | `outliers` | `keep`, or `remove` with `factor` | `keep`, factor 3 |
//! | `effect_size` | `mean_ratio` or `cles`, with allowed/critical increase/decrease | mean ratio, gates 1.0 (CLES 0.5) |
//! | `critical` | a failure of this metric fails the whole canary | false |
//! | `must_have_data` | missing data counts as a failure (`nodata_fail`) | false |

use serde::{Deserialize, Serialize};

/// Which change of the canary against the baseline is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Only a higher canary is bad (latency, errors).
    Increase,
    /// Only a lower canary is bad (throughput, success rate).
    Decrease,
    /// Any change is bad.
    #[default]
    Either,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Increase => "increase",
            Direction::Decrease => "decrease",
            Direction::Either => "either",
        }
    }

    /// True when a higher canary is bad.
    pub fn watches_increase(self) -> bool {
        matches!(self, Direction::Increase | Direction::Either)
    }

    /// True when a lower canary is bad.
    pub fn watches_decrease(self) -> bool {
        matches!(self, Direction::Decrease | Direction::Either)
    }
}

/// What to do with NaN (and ±∞) observations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NanStrategy {
    /// Drop them.
    #[default]
    Remove,
    /// Replace them with 0.
    Replace,
}

/// Outlier handling, applied to each arm separately after the NaN strategy.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "strategy", rename_all = "snake_case", deny_unknown_fields)]
pub enum Outliers {
    /// Keep every value.
    #[default]
    Keep,
    /// Drop values outside `min(P1, Q1 − factor·IQR) .. max(P99, Q3 + factor·IQR)`.
    Remove {
        #[serde(default = "default_outlier_factor")]
        factor: f64,
    },
}

fn default_outlier_factor() -> f64 {
    3.0
}

/// Which effect size gates a classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectSizeMeasure {
    /// mean(canary) / mean(baseline); NaN when either mean is 0.
    #[default]
    MeanRatio,
    /// Common-language effect size: P(canary > baseline) + ½·P(canary = baseline).
    Cles,
}

impl EffectSizeMeasure {
    /// The neutral value of the measure, used as the default of every gate.
    pub fn neutral(self) -> f64 {
        match self {
            EffectSizeMeasure::MeanRatio => 1.0,
            EffectSizeMeasure::Cles => 0.5,
        }
    }
}

/// Effect-size gates: a statistically significant change is only a failure when the effect
/// is at least this large. Unset gates default to the measure's neutral value.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EffectSizeConfig {
    #[serde(default)]
    pub measure: EffectSizeMeasure,
    /// A high needs an effect ≥ this.
    pub allowed_increase: Option<f64>,
    /// A low needs an effect ≤ this.
    pub allowed_decrease: Option<f64>,
    /// A high of a critical metric is critical when its effect is ≥ this.
    pub critical_increase: Option<f64>,
    /// A low of a critical metric is critical when its effect is ≤ this.
    pub critical_decrease: Option<f64>,
}

impl EffectSizeConfig {
    pub fn allowed_increase(&self) -> f64 {
        self.allowed_increase.unwrap_or(self.measure.neutral())
    }
    pub fn allowed_decrease(&self) -> f64 {
        self.allowed_decrease.unwrap_or(self.measure.neutral())
    }
    pub fn critical_increase(&self) -> f64 {
        self.critical_increase.unwrap_or(self.measure.neutral())
    }
    pub fn critical_decrease(&self) -> f64 {
        self.critical_decrease.unwrap_or(self.measure.neutral())
    }
}

/// Options of one metric that every judge honours.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MetricOptions {
    pub direction: Direction,
    pub nan_strategy: NanStrategy,
    pub outliers: Outliers,
    pub effect_size: EffectSizeConfig,
    pub critical: bool,
    pub must_have_data: bool,
}
