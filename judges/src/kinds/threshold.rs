//! `threshold`: bounds on an aggregate of the canary, absolute or relative to the baseline's
//! same aggregate — the checks Flagger and Argo Rollouts users write today, with the
//! numbers that decided in every result.
//!
//! Bounds (any combination, at least one):
//! - absolute: `max`, `min` on the canary's aggregate;
//! - ratio: `max_ratio`, `min_ratio` on canary / baseline (a zero baseline gives a ratio of
//!   +∞ for any positive canary, so errors rising from zero are caught);
//! - difference: `max_increase`, `max_decrease` on canary − baseline.
//!
//! Breaching an upper bound is `high`, a lower bound `low`. Relative bounds need baseline
//! data; without it the result is `nodata` (absolute bounds alone still judge the canary).

use serde::{Deserialize, Serialize};

use super::num;
use crate::effect::mean_ratio;
use crate::judge::{FieldError, Judge, JudgeKind, Prepared};
use crate::judgement::{AggregateDetail, Check, Classification, Judged, Judgement};
use crate::options::{Direction, MetricOptions};
use crate::sample::{MetricPair, Sample};
use crate::stats::percentile_sorted;

/// The aggregate a threshold applies to.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Aggregate {
    Mean,
    Median,
    /// A percentile in [0, 100] (type R-7), written `p99`, `p99.9`, `p50`.
    Percentile(f64),
    Max,
    Min,
    Sum,
    /// Σ events / Σ totals of a count metric.
    Rate,
}

impl TryFrom<String> for Aggregate {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Ok(match s.as_str() {
            "mean" => Aggregate::Mean,
            "median" => Aggregate::Median,
            "max" => Aggregate::Max,
            "min" => Aggregate::Min,
            "sum" => Aggregate::Sum,
            "rate" => Aggregate::Rate,
            other => {
                let p = other
                    .strip_prefix('p')
                    .and_then(|p| p.parse::<f64>().ok())
                    .filter(|p| (0.0..=100.0).contains(p));
                match p {
                    Some(p) => Aggregate::Percentile(p),
                    None => {
                        return Err(format!(
                            "unknown aggregate `{other}`, expected mean, median, max, min, sum, rate or a percentile like p99 or p99.9"
                        ));
                    }
                }
            }
        })
    }
}

impl From<Aggregate> for String {
    fn from(a: Aggregate) -> String {
        match a {
            Aggregate::Mean => "mean".into(),
            Aggregate::Median => "median".into(),
            Aggregate::Percentile(p) => format!("p{p}"),
            Aggregate::Max => "max".into(),
            Aggregate::Min => "min".into(),
            Aggregate::Sum => "sum".into(),
            Aggregate::Rate => "rate".into(),
        }
    }
}

impl Aggregate {
    /// The aggregate of sorted, NaN-free values (NaN when empty, except sum = 0).
    pub fn of_sorted(self, sorted: &[f64]) -> f64 {
        if sorted.is_empty() {
            return match self {
                Aggregate::Sum => 0.0,
                _ => f64::NAN,
            };
        }
        match self {
            Aggregate::Mean => crate::stats::mean(sorted),
            Aggregate::Median => percentile_sorted(sorted, 0.5),
            Aggregate::Percentile(p) => percentile_sorted(sorted, p / 100.0),
            Aggregate::Max => sorted[sorted.len() - 1],
            Aggregate::Min => sorted[0],
            Aggregate::Sum => sorted.iter().sum(),
            Aggregate::Rate => f64::NAN,
        }
    }
}

/// Options of the `threshold` judge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdConfig {
    /// What to aggregate: mean, median, pNN, max, min, sum or rate.
    pub aggregate: Aggregate,
    /// The canary's aggregate must be ≤ this.
    pub max: Option<f64>,
    /// The canary's aggregate must be ≥ this.
    pub min: Option<f64>,
    /// canary / baseline must be ≤ this.
    pub max_ratio: Option<f64>,
    /// canary / baseline must be ≥ this.
    pub min_ratio: Option<f64>,
    /// canary − baseline must be ≤ this.
    pub max_increase: Option<f64>,
    /// baseline − canary must be ≤ this.
    pub max_decrease: Option<f64>,
}

impl ThresholdConfig {
    /// A config with only the aggregate set (add bounds with struct update syntax).
    pub fn on(aggregate: Aggregate) -> Self {
        ThresholdConfig {
            aggregate,
            max: None,
            min: None,
            max_ratio: None,
            min_ratio: None,
            max_increase: None,
            max_decrease: None,
        }
    }

    fn has_relative(&self) -> bool {
        self.max_ratio.is_some()
            || self.min_ratio.is_some()
            || self.max_increase.is_some()
            || self.max_decrease.is_some()
    }

    pub fn validate(&self, options: &MetricOptions) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut err =
            |field: &'static str, message: String| errors.push(FieldError { field, message });
        let bounds: [(&'static str, Option<f64>, bool); 6] = [
            ("max", self.max, true),
            ("min", self.min, false),
            ("max_ratio", self.max_ratio, true),
            ("min_ratio", self.min_ratio, false),
            ("max_increase", self.max_increase, true),
            ("max_decrease", self.max_decrease, false),
        ];
        if bounds.iter().all(|b| b.1.is_none()) {
            err(
                "aggregate",
                "a threshold judge needs at least one bound: max, min, max_ratio, min_ratio, max_increase or max_decrease"
                    .into(),
            );
        }
        for (name, value, upper) in bounds {
            let Some(v) = value else { continue };
            if !v.is_finite() {
                err(name, format!("must be a finite number, got {v}"));
            }
            if name.ends_with("ratio") && v < 0.0 {
                err(name, format!("a ratio bound must be ≥ 0, got {v}"));
            }
            if (name == "max_increase" || name == "max_decrease") && v < 0.0 {
                err(name, format!("must be ≥ 0, got {v}"));
            }
            if upper && options.direction == Direction::Decrease {
                err(name, "an upper bound never counts when direction = \"decrease\"; remove it or change the direction".into());
            }
            if !upper && options.direction == Direction::Increase {
                err(name, "a lower bound never counts when direction = \"increase\"; remove it or change the direction".into());
            }
        }
        if let (Some(lo), Some(hi)) = (self.min, self.max)
            && lo > hi
        {
            err("min", format!("min {lo} is above max {hi}"));
        }
        if let (Some(lo), Some(hi)) = (self.min_ratio, self.max_ratio)
            && lo > hi
        {
            err(
                "min_ratio",
                format!("min_ratio {lo} is above max_ratio {hi}"),
            );
        }
        errors
    }
}

/// Threshold judge.
#[derive(Debug, Clone)]
pub struct ThresholdJudge {
    config: ThresholdConfig,
}

impl ThresholdJudge {
    pub fn new(config: ThresholdConfig) -> Self {
        ThresholdJudge { config }
    }

    /// The aggregate of one arm, and whether the arm had any data for it.
    fn aggregate(&self, sample: &Sample, sorted: &[f64]) -> Result<Option<f64>, String> {
        match self.config.aggregate {
            Aggregate::Rate => match sample.count_totals() {
                // An empty arm is missing data, whatever its shape.
                None if sample.is_empty() => Ok(None),
                None => {
                    Err("aggregate `rate` needs an event-count metric (events and total)".into())
                }
                Some((_, total)) if total <= 0.0 => Ok(None),
                Some((events, total)) => Ok(Some(events / total)),
            },
            a if sorted.is_empty() => {
                let _ = a;
                Ok(None)
            }
            a => Ok(Some(a.of_sorted(sorted))),
        }
    }
}

/// canary / baseline with a defined answer for a zero baseline.
fn ratio(canary: f64, baseline: f64) -> f64 {
    if baseline == 0.0 {
        if canary == 0.0 {
            1.0
        } else {
            canary.signum() * f64::INFINITY
        }
    } else {
        canary / baseline
    }
}

/// Every bound's check, and its text by outcome.
struct Outcomes {
    checks: Vec<Check>,
    /// Above an upper bound.
    high: Vec<String>,
    /// Below a lower bound.
    low: Vec<String>,
    ok: Vec<String>,
}

impl ThresholdJudge {
    /// The canary's aggregate against every configured bound.
    fn checks(&self, name: &str, canary: f64, baseline: Option<f64>) -> Outcomes {
        let c = &self.config;
        let mut high = Vec::new();
        let mut low = Vec::new();
        let mut ok = Vec::new();
        let mut checks: Vec<Check> = Vec::new();
        let mut check = |c: Check, text: String, upper: bool| {
            if c.failed {
                if upper {
                    high.push(text)
                } else {
                    low.push(text)
                }
            } else {
                ok.push(text);
            }
            checks.push(c);
        };
        if let Some(max) = c.max {
            check(
                Check::value(name, canary, None, Some(max)),
                format!("{name} {} vs max {}", num(canary), num(max)),
                true,
            );
        }
        if let Some(min) = c.min {
            check(
                Check::value(name, canary, Some(min), None),
                format!("{name} {} vs min {}", num(canary), num(min)),
                false,
            );
        }
        if let Some(b) = baseline {
            let r = ratio(canary, b);
            let d = canary - b;
            if let Some(max) = c.max_ratio {
                check(
                    Check::value("ratio", r, None, Some(max)),
                    format!("ratio {} vs max_ratio {}", num(r), num(max)),
                    true,
                );
            }
            if let Some(min) = c.min_ratio {
                check(
                    Check::value("ratio", r, Some(min), None),
                    format!("ratio {} vs min_ratio {}", num(r), num(min)),
                    false,
                );
            }
            if let Some(max) = c.max_increase {
                check(
                    Check::value("increase", d, None, Some(max)),
                    format!("increase {} vs max_increase {}", num(d), num(max)),
                    true,
                );
            }
            if let Some(max) = c.max_decrease {
                check(
                    Check::value("decrease", -d, None, Some(max)),
                    format!("decrease {} vs max_decrease {}", num(-d), num(max)),
                    false,
                );
            }
        }
        Outcomes {
            checks,
            high,
            low,
            ok,
        }
    }
}

impl Judge for ThresholdJudge {
    fn kind(&self) -> JudgeKind {
        JudgeKind::Threshold
    }

    fn judge(&self, options: &MetricOptions, pair: &MetricPair) -> Judgement {
        if let Some(problem) = pair.problem() {
            return Judgement::bare(
                Classification::Error,
                format!("the data is not a valid sample: {problem}"),
            );
        }
        let prep = Prepared::new(options, pair);
        let c = &self.config;
        let name = String::from(c.aggregate);
        let canary = match self.aggregate(&pair.canary, &prep.canary) {
            Ok(Some(v)) => v,
            Ok(None) => return prep.no_data(options, "canary"),
            Err(e) => return prep.judgement(Classification::Error, e),
        };
        let baseline = match self.aggregate(&pair.baseline, &prep.baseline) {
            Ok(v) => v,
            Err(e) => return prep.judgement(Classification::Error, e),
        };
        if baseline.is_none() && c.has_relative() {
            let mut j = prep.no_data(options, "baseline");
            j.aggregate = Some(AggregateDetail {
                name,
                canary,
                baseline: None,
            });
            return j;
        }

        let Outcomes {
            checks,
            high,
            low,
            ok,
        } = self.checks(&name, canary, baseline);
        let versus = match baseline {
            Some(b) => format!("canary {name} {} vs baseline {}", num(canary), num(b)),
            None => format!("canary {name} {}", num(canary)),
        };
        let (classification, reason) = if !high.is_empty() {
            (
                Classification::High,
                format!("{versus}: above bound ({})", high.join("; ")),
            )
        } else if !low.is_empty() {
            (
                Classification::Low,
                format!("{versus}: below bound ({})", low.join("; ")),
            )
        } else {
            (
                Classification::Pass,
                format!("{versus}: within bounds ({})", ok.join("; ")),
            )
        };
        let mut j = prep.judgement(classification, reason);
        j.critical = options.critical && classification.is_failure();
        j.estimate = baseline.map(|b| canary - b);
        j.mean_ratio = Some(mean_ratio(
            prep.canary_summary.mean,
            prep.baseline_summary.mean,
        ));
        j.judged = Some(Judged {
            quantity: if matches!(c.aggregate, Aggregate::Rate) {
                "rate (Σ events / Σ total)".to_string()
            } else {
                name.clone()
            },
            baseline,
            canary: Some(canary),
            checks,
            rule: Some("fails when any check is ✗".into()),
            ruled_out: Vec::new(),
        });
        j.aggregate = Some(AggregateDetail {
            name,
            canary,
            baseline,
        });
        j
    }
}
