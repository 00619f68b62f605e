//! Scenario files (TOML, `datasets/scenarios/`): what the simulator generates.
//!
//! A scenario is read raw (serde, unknown fields refused) and validated into
//! [`Scenario`]; every problem is reported with `file:line:column: field: message`, all
//! problems of a file at once. The format, every field and its default are documented in
//! `datasets/scenarios/README.md`. In short:
//!
//! - `duration_s` (1800) of deploy, scraped every `step_s` (10); `[traffic]` `rps` over
//!   both arms, `canary_share`, `hosts` per arm (`canary_hosts` for the canary), fixed
//!   lognormal host multipliers (`host_sigma`), a diurnal factor common to both arms
//!   (`diurnal_amplitude`, `diurnal_period_s`) on rate and latency;
//! - `[latency]`: lognormal body (`median_ms`, `sigma`), a Pareto tail mixture
//!   (`tail_prob`, `tail_alpha`, `tail_scale`), AR(1) on log-latency per arm and host and
//!   step (`ar_phi`, `ar_sigma` = the process' stationary σ); `[errors]` `rate`;
//!   `[noise]`: `missing_scrape_prob`, `counter_reset_prob`;
//! - `[[changes]]`, applied to the canary from `onset_s` for `duration_s` (default: to the
//!   end), at step resolution (a step is affected when its midpoint is):
//!   - `latency_shift`: every latency × `factor`;
//!   - `tail_shift`: the quantile at level `u` of the latency shape ([`shape`]) is
//!     multiplied by `factor` for `u ≥ quantile` (0.99), unchanged for `u ≤ ramp_from`
//!     (default `max(0.5, 1 − 10·(1 − quantile))`), and by `factor^r` between, with `r`
//!     rising linearly in log-latency from 0 to 1. So `factor = 1.5, quantile = 0.99`
//!     raises Q(0.99) by exactly 50% and leaves Q(0.5) unchanged;
//!   - `median_shift`: the mirror image: quantiles at levels `u ≤ 0.5` × `factor`, levels
//!     `u ≥ quantile` (0.9) unchanged, a geometric ramp between;
//!   - `error_rate`: error probability × `factor` (capped at 1);
//!   - `crash_loop`: error probability `factor` (default 1: every request fails);
//!   - `warmup_spike`: latency × `factor` for `duration_s` (default 30) — not a regression.
//!
//!   `hosts_affected = N` applies a change to the first N canary hosts only (one bad
//!   instance among healthy ones); by default every canary host.
//!
//! - `[evaluation]`: how `canaryd evaluate` analyses the scenario: `warmup_s` (0, data
//!   ignored after the start) and the sequential judge's `latency_tolerance`,
//!   `error_tolerance`, `quantiles` and `fixed_quantiles` (defaults from the command line),
//!   and `aggregate_s`: the length of the per-interval aggregates the `band` monitor judges;
//!   `buckets_ms`: classic histogram bucket bounds the `sequential` monitor reads instead
//!   of the fine ones; `pass_from`: the sequential judge's (default 1, passes at the
//!   horizon).
//!
//!   Both warps are monotone (validation refuses a factor that would reorder quantiles),
//!   so quantiles map exactly, conditional on host and step.

pub mod shape;

use std::path::Path;

use serde::Deserialize;

use self::shape::{Shape, Warp, WarpEnd, WarpError};
use super::Truth;
use crate::config::source::{self, DeError, Format, Pos, SourceTree};

mod validate;

/// A validated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// Length of the deploy, a whole number of steps.
    pub duration_s: f64,
    /// Scrape interval.
    pub step_s: f64,
    pub traffic: Traffic,
    pub latency: Latency,
    pub errors: Errors,
    pub noise: Noise,
    /// Changes of the canary, in file order.
    pub changes: Vec<Change>,
    /// How `canaryd evaluate` analyses this scenario.
    pub evaluation: Evaluation,
}

/// `[evaluation]`: analysis settings for `canaryd evaluate`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Evaluation {
    /// Seconds after the start that every judge ignores (the analysis' warm-up).
    pub warmup_s: f64,
    /// Sequential judge: the latency band (default: `evaluate --tolerance`).
    pub latency_tolerance: Option<f64>,
    /// Sequential judge: the error-rate band (default: `evaluate --error-tolerance`).
    pub error_tolerance: Option<f64>,
    /// Sequential judge: quantiles compared (default p50, p90, p99).
    pub quantiles: Option<Vec<f64>>,
    /// Sequential judge: tail quantiles with fixed-quantile sequences (default p99).
    pub fixed_quantiles: Option<Vec<f64>>,
    /// The metrics exist only as per-interval aggregates of this many seconds (p50, p90,
    /// p99 latency and error rate, as recording rules keep them): the `band` monitor
    /// judges those (default: `evaluate --aggregate-interval`, 300 s).
    pub aggregate_s: Option<f64>,
    /// The latency histogram as a classic Prometheus one with these finite bucket bounds
    /// (ms), +∞ added: the `sequential` monitor sees the simulator's fine buckets summed
    /// into them (default: the fine 0.54% buckets).
    pub buckets_ms: Option<Vec<f64>>,
    /// Sequential judge: share of the horizon after which a pass may take effect
    /// (default 1: at the horizon).
    pub pass_from: Option<f64>,
}

impl Scenario {
    /// The configured warm-up, if any.
    pub fn warmup_s(&self) -> Option<f64> {
        (self.evaluation.warmup_s > 0.0).then_some(self.evaluation.warmup_s)
    }

    /// Whether the canary carries a regression a judge should catch.
    pub fn is_regression(&self) -> bool {
        self.truth().regression
    }

    /// What really happened: see [`Truth`].
    pub fn truth(&self) -> Truth {
        let base = self.errors.rate;
        let onset = self
            .changes
            .iter()
            .filter(|c| c.is_regression(base))
            .filter_map(|c| {
                (0..self.steps())
                    .map(|i| i as f64 * self.step_s)
                    .find(|&t0| c.active(t0, self.step_s))
            })
            .min_by(f64::total_cmp);
        let touched: Vec<Option<usize>> = self
            .changes
            .iter()
            .filter(|c| c.is_regression(base))
            .map(|c| c.hosts_affected)
            .collect();
        let bad_hosts = if touched.is_empty() || touched.contains(&None) {
            None
        } else {
            touched.into_iter().flatten().max()
        };
        Truth {
            regression: onset.is_some(),
            onset_s: onset.unwrap_or(0.0),
            bad_hosts,
            bad_latency_ms: self.latency.nominal_quantile_ms(0.99),
        }
    }
}

/// `[traffic]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Traffic {
    /// Requests per second over both arms.
    pub rps: f64,
    /// The canary's share of `rps`; the baseline gets the rest.
    pub canary_share: f64,
    /// Hosts of the baseline (and of the canary unless `canary_hosts` is set).
    pub hosts: u32,
    pub canary_hosts: Option<u32>,
    /// Lognormal σ of fixed per-host latency multipliers.
    pub host_sigma: f64,
    /// Rate and latency × (1 + a·sin(2π t / period)), both arms alike.
    pub diurnal_amplitude: f64,
    pub diurnal_period_s: f64,
}

impl Default for Traffic {
    fn default() -> Self {
        Traffic {
            rps: 50.0,
            canary_share: 0.5,
            hosts: 3,
            canary_hosts: None,
            host_sigma: 0.0,
            diurnal_amplitude: 0.0,
            diurnal_period_s: 86_400.0,
        }
    }
}

impl Traffic {
    /// Hosts of `arm` ([`super::BASELINE`] or [`super::CANARY`]).
    pub fn hosts_of(&self, arm: usize) -> usize {
        let n = match arm {
            super::CANARY => self.canary_hosts.unwrap_or(self.hosts),
            _ => self.hosts,
        };
        n as usize
    }

    /// Requests per second of `arm`.
    pub fn rps_of(&self, arm: usize) -> f64 {
        match arm {
            super::CANARY => self.rps * self.canary_share,
            _ => self.rps * (1.0 - self.canary_share),
        }
    }
}

/// `[latency]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Latency {
    /// Median of the lognormal body, in ms.
    pub median_ms: f64,
    /// σ of the lognormal body.
    pub sigma: f64,
    /// Probability that a request comes from the Pareto tail instead.
    pub tail_prob: f64,
    pub tail_alpha: f64,
    /// The tail's minimum, in multiples of `median_ms`.
    pub tail_scale: f64,
    /// AR(1) coefficient of the per-step log-latency level of each arm and host.
    pub ar_phi: f64,
    /// Stationary σ of that level.
    pub ar_sigma: f64,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            median_ms: 100.0,
            sigma: 1.0,
            tail_prob: 0.0,
            tail_alpha: 1.5,
            tail_scale: 3.0,
            ar_phi: 0.0,
            ar_sigma: 0.0,
        }
    }
}

impl Latency {
    /// The shape of latencies in multiples of `median_ms`.
    pub fn shape(&self) -> Shape {
        Shape {
            sigma: self.sigma,
            tail_prob: self.tail_prob,
            tail_alpha: self.tail_alpha,
            tail_scale: self.tail_scale,
        }
    }

    /// The nominal latency quantile (no host, AR or diurnal noise), in ms.
    pub fn nominal_quantile_ms(&self, u: f64) -> f64 {
        self.median_ms * self.shape().quantile(u)
    }
}

/// `[errors]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Errors {
    /// Probability that a request fails.
    pub rate: f64,
}

impl Default for Errors {
    fn default() -> Self {
        Errors { rate: 0.001 }
    }
}

/// `[noise]`: what goes wrong with metric collection.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Noise {
    /// Probability that a scrape (of every host) fails; its counts arrive with the next.
    pub missing_scrape_prob: f64,
    /// Probability per host and step that the process restarts (counters back to 0).
    pub counter_reset_prob: f64,
}

/// One change of the canary.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: ChangeKind,
    /// Latency or error-rate multiplier; for `crash_loop` the error rate.
    pub factor: f64,
    pub onset_s: f64,
    /// How long the change lasts; `None`: to the end.
    pub duration_s: Option<f64>,
    /// The change touches the first this many canary hosts only; `None`: every host.
    pub hosts_affected: Option<usize>,
}

/// What a change does (see the module doc).
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeKind {
    LatencyShift,
    TailShift { quantile: f64, ramp_from: f64 },
    MedianShift { quantile: f64 },
    ErrorRate,
    CrashLoop,
    WarmupSpike,
}

impl ChangeKind {
    /// The name used in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            ChangeKind::LatencyShift => "latency_shift",
            ChangeKind::TailShift { .. } => "tail_shift",
            ChangeKind::MedianShift { .. } => "median_shift",
            ChangeKind::ErrorRate => "error_rate",
            ChangeKind::CrashLoop => "crash_loop",
            ChangeKind::WarmupSpike => "warmup_spike",
        }
    }
}

impl Change {
    /// True when the change is in effect during the step starting at `t0_s` (judged at
    /// the step's midpoint).
    pub fn active(&self, t0_s: f64, step_s: f64) -> bool {
        let mid = t0_s + 0.5 * step_s;
        mid >= self.onset_s && self.duration_s.is_none_or(|d| mid < self.onset_s + d)
    }

    /// True when the change touches canary host `host` (0-based).
    pub fn touches(&self, host: usize) -> bool {
        self.hosts_affected.is_none_or(|n| host < n)
    }

    /// The latency warp of a `tail_shift` or `median_shift` (validated to be monotone).
    pub fn warp(&self, shape: &Shape) -> Option<Result<Warp, WarpError>> {
        match self.kind {
            ChangeKind::TailShift {
                quantile,
                ramp_from,
            } => Some(Warp::new(
                shape,
                WarpEnd::Tail,
                ramp_from,
                quantile,
                self.factor,
            )),
            ChangeKind::MedianShift { quantile } => {
                Some(Warp::new(shape, WarpEnd::Body, 0.5, quantile, self.factor))
            }
            _ => None,
        }
    }

    /// True when the change makes the canary worse in a way a judge should catch: any
    /// change but a warm-up spike, that increases latency or errors.
    pub fn is_regression(&self, base_error_rate: f64) -> bool {
        match self.kind {
            ChangeKind::WarmupSpike => false,
            ChangeKind::CrashLoop => self.factor > base_error_rate,
            ChangeKind::ErrorRate => self.factor > 1.0 && base_error_rate > 0.0,
            _ => self.factor > 1.0,
        }
    }
}

/// One problem in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioIssue {
    pub file: String,
    pub pos: Option<Pos>,
    /// The field, as a path (`changes[1].factor`).
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for ScenarioIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pos {
            Some(p) => write!(f, "{}:{}:{}: ", self.file, p.line, p.column)?,
            None => write!(f, "{}: ", self.file)?,
        }
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{}", display_issues(.0))]
    Invalid(Vec<ScenarioIssue>),
}

impl ScenarioError {
    /// True when the file does not exist.
    pub fn is_missing(&self) -> bool {
        matches!(self, ScenarioError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }

    /// The individual problems (empty for a read error).
    pub fn issues(&self) -> &[ScenarioIssue] {
        match self {
            ScenarioError::Invalid(issues) => issues,
            ScenarioError::Read { .. } => &[],
        }
    }
}

fn display_issues(issues: &[ScenarioIssue]) -> String {
    let lines: Vec<String> = issues.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

impl Scenario {
    /// Read and validate a scenario file (TOML).
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            file: file.clone(),
            source,
        })?;
        Self::parse(&text, &file)
    }

    /// Parse and validate scenario text; `file_name` names it in errors.
    pub fn parse(text: &str, file_name: &str) -> Result<Self, ScenarioError> {
        let tree = SourceTree::parse(text, Format::Toml);
        let raw: validate::RawScenario = source::deserialize(text, Format::Toml)
            .map_err(|e| ScenarioError::Invalid(vec![de_issue(e, tree.as_ref(), file_name)]))?;
        validate::validate(raw).map_err(|problems| {
            ScenarioError::Invalid(
                problems
                    .into_iter()
                    .map(|(path, message)| ScenarioIssue {
                        file: file_name.to_string(),
                        pos: tree.as_ref().map(|t| t.locate(&path)),
                        field: path.to_string(),
                        message,
                    })
                    .collect(),
            )
        })
    }

    /// Number of scrape steps.
    pub fn steps(&self) -> usize {
        (self.duration_s / self.step_s).round() as usize
    }
}

fn de_issue(e: DeError, tree: Option<&SourceTree>, file: &str) -> ScenarioIssue {
    let mut path = e.path;
    let mut message = e.message;
    if let Some(first) = message.get(..1) {
        message = first.to_lowercase() + &message[1..];
    }
    // serde names an unknown field in the message; point at it.
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some(end) = rest.find('`')
    {
        let key = rest[..end].to_string();
        if !matches!(path.0.last(), Some(source::Seg::Key(k)) if *k == key) {
            path = path.key(key);
        }
    }
    if message.starts_with("unknown variant `")
        && matches!(path.0.last(), Some(source::Seg::Key(k)) if k == "kind")
    {
        message = message.replacen("unknown variant", "unknown change kind", 1);
    }
    let pos = match (tree, e.pos) {
        (Some(t), _) if !path.0.is_empty() => Some(t.locate(&path)),
        (_, Some(p)) => Some(p),
        (Some(t), None) => Some(t.locate(&path)),
        (None, None) => None,
    };
    ScenarioIssue {
        file: file.to_string(),
        pos,
        field: path.to_string(),
        message,
    }
}

#[cfg(test)]
mod tests;
