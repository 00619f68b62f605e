//! Pipeline specs (TOML): targets with their routers and the ordered stages that move
//! traffic to a canary, gated on analyses, smoke tests, people and time windows.
//! Strategies (`canary`, `red_black`, `rolling_red_black`) are presets that expand into
//! stages. Written form: [`RawPipeline`]; validated: [`Pipeline`]. Reference:
//! docs/pipelines.md.

use serde::{Deserialize, Serialize};

use super::window::{RawWindow, Window};
use crate::config::source::{self, Format};
use crate::routers::{RouterConfig, WebhookConfig};
use crate::secret::Secret;
use crate::time::Seconds;

mod redact;
mod validate;

pub use redact::{as_toml, redacted_spec, redacted_url};
use validate::*;

fn default_steps() -> Vec<f64> {
    vec![1.0, 5.0, 25.0, 50.0, 100.0]
}

fn yes() -> bool {
    true
}

/// What an analysis stage does when its judges stay undecided at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnInconclusive {
    /// Roll back at once.
    Rollback,
    /// Wait for a person's judgment; the stage's deadline rolls back if nobody decides
    /// (the default: undecided evidence neither promotes nor destroys a healthy canary).
    #[default]
    Hold,
    /// Run the analysis once more for the same duration, then roll back.
    Extend,
}

/// What a new execution does when a router target it would drive is already driven by a
/// running execution (of this pipeline or another).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnConflict {
    /// Refuse to start (HTTP 409 naming the running execution): two executions moving the
    /// same traffic would undo each other's steps.
    #[default]
    Refuse,
    /// Start, but wait (traffic untouched) until every earlier execution on its targets
    /// has ended, then run.
    Queue,
}

/// What happens when a stage's deadline passes without a decision (no data, an outage,
/// nobody judged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDeadline {
    #[default]
    Rollback,
    /// Go on to the next stage (only for manual judgments and smoke tests that say so).
    Proceed,
}

/// An analysis as written in a stage or a strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisSpec {
    /// A stored canary config's name.
    pub config: String,
    pub duration: Seconds,
    pub interval: Seconds,
    #[serde(default)]
    pub warmup: Option<Seconds>,
    #[serde(default)]
    pub step: Option<Seconds>,
    #[serde(default)]
    pub on_inconclusive: OnInconclusive,
    /// How long no data or an outage may hold the stage (default: twice the duration).
    #[serde(default)]
    pub deadline: Option<Seconds>,
    /// End the analysis at the first interval whose verdict is `fail` (default), so the
    /// rollback follows at once, as Spinnaker's canary stage does. `false` judges every
    /// interval to the end (sequential judges always stop early when they decide).
    #[serde(default = "yes")]
    pub fail_fast: bool,
}

/// An HTTP smoke test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    pub url: String,
    #[serde(default = "default_status")]
    pub expect_status: u16,
}

fn default_status() -> u16 {
    200
}

/// A smoke test: an HTTP request or a command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmokeSpec {
    #[serde(default)]
    pub http: Option<HttpCheck>,
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub expect_exit: i32,
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default = "default_smoke_timeout")]
    pub timeout: Seconds,
}

/// How long a manual judgment waits for a person before its `on_timeout` (default
/// rollback): long enough to be paged and look, short enough not to block a release day.
pub const DEFAULT_JUDGMENT_TIMEOUT_S: f64 = 3600.0;

fn default_judgment_timeout() -> Seconds {
    Seconds(DEFAULT_JUDGMENT_TIMEOUT_S)
}

fn default_retries() -> u32 {
    2
}

fn default_smoke_timeout() -> Seconds {
    Seconds(30.0)
}

/// A stage as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RawStage {
    Traffic {
        percent: f64,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        window: Option<RawWindow>,
    },
    Analysis {
        config: String,
        duration: Seconds,
        interval: Seconds,
        #[serde(default)]
        warmup: Option<Seconds>,
        #[serde(default)]
        step: Option<Seconds>,
        #[serde(default)]
        on_inconclusive: OnInconclusive,
        #[serde(default)]
        deadline: Option<Seconds>,
        #[serde(default = "yes")]
        fail_fast: bool,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        window: Option<RawWindow>,
    },
    SmokeTest {
        #[serde(default)]
        http: Option<HttpCheck>,
        #[serde(default)]
        command: Option<Vec<String>>,
        #[serde(default)]
        expect_exit: i32,
        #[serde(default = "default_retries")]
        retries: u32,
        #[serde(default = "default_smoke_timeout")]
        timeout: Seconds,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        window: Option<RawWindow>,
    },
    ManualJudgment {
        message: String,
        /// Who may approve or reject; empty: anyone with a write token.
        #[serde(default)]
        approvers: Vec<String>,
        #[serde(default = "default_judgment_timeout")]
        timeout: Seconds,
        #[serde(default)]
        on_timeout: OnDeadline,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        window: Option<RawWindow>,
    },
    Wait {
        duration: Seconds,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        window: Option<RawWindow>,
    },
    /// Take the baseline group out of service (the end of a promotion).
    DisableBaseline {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        window: Option<RawWindow>,
    },
}

/// A gate between traffic steps of a rolling red/black.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Gate {
    Analysis(AnalysisSpec),
    SmokeTest(SmokeSpec),
    ManualJudgment {
        message: String,
        #[serde(default)]
        approvers: Vec<String>,
        #[serde(default = "default_judgment_timeout")]
        timeout: Seconds,
        #[serde(default)]
        on_timeout: OnDeadline,
    },
    Wait {
        duration: Seconds,
    },
}

/// Presets that expand into stages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Strategy {
    /// Traffic steps with an analysis after every step below 100%.
    Canary {
        #[serde(default = "default_steps")]
        steps: Vec<f64>,
        analysis: AnalysisSpec,
        #[serde(default = "yes")]
        disable_baseline: bool,
    },
    /// Validate the new group, cut over to 100%, keep the old group enabled but idle for
    /// `keep_old_for` (instant rollback), then take it out of service if `scale_down`.
    RedBlack {
        #[serde(default)]
        smoke_test: Option<SmokeSpec>,
        #[serde(default)]
        analysis: Option<AnalysisSpec>,
        keep_old_for: Seconds,
        #[serde(default = "yes")]
        scale_down: bool,
    },
    /// Traffic steps with a gate between each.
    RollingRedBlack {
        #[serde(default = "default_steps")]
        steps: Vec<f64>,
        gate: Gate,
        #[serde(default = "yes")]
        disable_baseline: bool,
    },
}

/// What a notification tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyKind {
    StageStarted,
    StageFinished,
    /// A person must approve or reject (a manual judgment, or an inconclusive analysis
    /// held for one).
    JudgmentNeeded,
    /// Traffic goes back to the baseline (a fail verdict, a rejection, a deadline, an
    /// operator).
    Rollback,
    /// The execution ended: succeeded, rolled back or failed (`status` says which).
    Completed,
    /// The execution failed and needs a person (a router that kept failing).
    Alert,
}

impl NotifyKind {
    pub const ALL: [NotifyKind; 6] = [
        NotifyKind::StageStarted,
        NotifyKind::StageFinished,
        NotifyKind::JudgmentNeeded,
        NotifyKind::Rollback,
        NotifyKind::Completed,
        NotifyKind::Alert,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyKind::StageStarted => "stage_started",
            NotifyKind::StageFinished => "stage_finished",
            NotifyKind::JudgmentNeeded => "judgment_needed",
            NotifyKind::Rollback => "rollback",
            NotifyKind::Completed => "completed",
            NotifyKind::Alert => "alert",
        }
    }
}

/// A notification webhook: a signed JSON POST (the webhook router's format and headers)
/// for each of `events` (default: all).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notification {
    pub url: String,
    pub secret: Secret,
    #[serde(default = "all_kinds")]
    pub events: Vec<NotifyKind>,
    #[serde(default = "notify_retries")]
    pub retries: u32,
    #[serde(default = "notify_backoff_ms")]
    pub backoff_ms: u64,
    #[serde(default = "notify_timeout_s")]
    pub timeout_s: f64,
}

fn all_kinds() -> Vec<NotifyKind> {
    NotifyKind::ALL.to_vec()
}

fn notify_retries() -> u32 {
    3
}

fn notify_backoff_ms() -> u64 {
    500
}

fn notify_timeout_s() -> f64 {
    10.0
}

impl Notification {
    /// The delivery settings, as a webhook router's.
    pub fn webhook(&self) -> WebhookConfig {
        WebhookConfig {
            url: self.url.clone(),
            secret: self.secret.clone(),
            retries: self.retries,
            backoff_ms: self.backoff_ms,
            timeout_s: self.timeout_s,
        }
    }

    pub fn wants(&self, kind: NotifyKind) -> bool {
        self.events.contains(&kind)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub name: String,
    pub router: RouterConfig,
}

/// A pipeline as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// When the whole pipeline may move traffic.
    #[serde(default)]
    pub window: Option<RawWindow>,
    /// In order: the next target starts when the previous one finished.
    pub targets: Vec<RawTarget>,
    #[serde(default)]
    pub strategy: Option<Strategy>,
    #[serde(default)]
    pub stages: Vec<RawStage>,
    /// Webhooks told of stage starts and ends, judgments needed, rollbacks and completion.
    #[serde(default)]
    pub notifications: Vec<Notification>,
    /// When a target is already driven by a running execution: `refuse` or `queue`.
    #[serde(default)]
    pub on_conflict: OnConflict,
}

/// What a validated stage does.
#[derive(Debug, Clone, PartialEq)]
pub enum StageKind {
    Traffic {
        percent: f64,
    },
    Analysis(AnalysisSpec),
    SmokeTest(SmokeSpec),
    ManualJudgment {
        message: String,
        approvers: Vec<String>,
        timeout: f64,
        on_timeout: OnDeadline,
    },
    Wait {
        duration: f64,
    },
    DisableBaseline,
}

impl StageKind {
    pub fn kind(&self) -> &'static str {
        match self {
            StageKind::Traffic { .. } => "traffic",
            StageKind::Analysis(_) => "analysis",
            StageKind::SmokeTest(_) => "smoke_test",
            StageKind::ManualJudgment { .. } => "manual_judgment",
            StageKind::Wait { .. } => "wait",
            StageKind::DisableBaseline => "disable_baseline",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub name: String,
    pub kind: StageKind,
    pub window: Option<Window>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub name: String,
    pub router: RouterConfig,
}

/// A validated pipeline: every target runs the same stages, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub name: String,
    pub description: Option<String>,
    pub window: Option<Window>,
    pub targets: Vec<Target>,
    pub stages: Vec<Stage>,
    pub notifications: Vec<Notification>,
    pub on_conflict: OnConflict,
}

/// (field path, message)
pub type Problem = (String, String);

fn gate_stage(gate: &Gate) -> StageKind {
    match gate {
        Gate::Analysis(a) => StageKind::Analysis(a.clone()),
        Gate::SmokeTest(s) => StageKind::SmokeTest(s.clone()),
        Gate::ManualJudgment {
            message,
            approvers,
            timeout,
            on_timeout,
        } => StageKind::ManualJudgment {
            message: message.clone(),
            approvers: approvers.clone(),
            timeout: timeout.0,
            on_timeout: *on_timeout,
        },
        Gate::Wait { duration } => StageKind::Wait {
            duration: duration.0,
        },
    }
}

fn pct(p: f64) -> String {
    let s = format!("{p}");
    format!("{s}%")
}

/// Expand a strategy into stages (name, kind).
pub fn expand(strategy: &Strategy) -> Vec<(String, StageKind)> {
    let mut out = Vec::new();
    match strategy {
        Strategy::Canary {
            steps,
            analysis,
            disable_baseline,
        } => {
            for &p in steps {
                out.push((
                    format!("traffic {}", pct(p)),
                    StageKind::Traffic { percent: p },
                ));
                if p < 100.0 {
                    out.push((
                        format!("analysis at {}", pct(p)),
                        StageKind::Analysis(analysis.clone()),
                    ));
                }
            }
            if *disable_baseline {
                out.push(("disable baseline".into(), StageKind::DisableBaseline));
            }
        }
        Strategy::RedBlack {
            smoke_test,
            analysis,
            keep_old_for,
            scale_down,
        } => {
            if let Some(s) = smoke_test {
                out.push(("smoke test".into(), StageKind::SmokeTest(s.clone())));
            }
            out.push(("cut over".into(), StageKind::Traffic { percent: 100.0 }));
            if let Some(a) = analysis {
                out.push((
                    "analysis after cut-over".into(),
                    StageKind::Analysis(a.clone()),
                ));
            }
            out.push((
                "keep old group idle".into(),
                StageKind::Wait {
                    duration: keep_old_for.0,
                },
            ));
            if *scale_down {
                out.push(("disable baseline".into(), StageKind::DisableBaseline));
            }
        }
        Strategy::RollingRedBlack {
            steps,
            gate,
            disable_baseline,
        } => {
            for (i, &p) in steps.iter().enumerate() {
                out.push((
                    format!("traffic {}", pct(p)),
                    StageKind::Traffic { percent: p },
                ));
                if i + 1 < steps.len() {
                    out.push((format!("gate after {}", pct(p)), gate_stage(gate)));
                }
            }
            if *disable_baseline {
                out.push(("disable baseline".into(), StageKind::DisableBaseline));
            }
        }
    }
    out
}

impl Pipeline {
    /// The programs the pipeline would run — command routers (`command`, `read_command`)
    /// and command smoke tests — each with the field that names it.
    pub fn programs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, t) in self.targets.iter().enumerate() {
            if let RouterConfig::Command(c) = &t.router {
                if let Some(p) = c.command.first() {
                    out.push((format!("targets[{i}].router.command"), p.clone()));
                }
                if let Some(p) = c.read_command.as_ref().and_then(|r| r.first()) {
                    out.push((format!("targets[{i}].router.read_command"), p.clone()));
                }
            }
        }
        for (i, s) in self.stages.iter().enumerate() {
            if let StageKind::SmokeTest(smoke) = &s.kind
                && let Some(p) = smoke.command.as_ref().and_then(|c| c.first())
            {
                out.push((format!("stages[{i}].command"), p.clone()));
            }
        }
        out
    }

    /// Every program of [`Pipeline::programs`] that `allow` (the daemon's `[commands]
    /// allow`) does not list: a spec alone can never make the daemon run a program.
    pub fn disallowed_programs(&self, allow: &[String]) -> Vec<Problem> {
        self.programs()
            .into_iter()
            .filter(|(_, p)| !allow.iter().any(|a| a == p))
            .map(|(field, p)| {
                (
                    field,
                    if allow.is_empty() {
                        format!(
                            "program `{p}` may not run: this daemon allows no commands (list the \
                             programs pipelines may run in its config, `[commands] allow = [\"{p}\"]`)"
                        )
                    } else {
                        format!(
                            "program `{p}` may not run: the daemon allows only {}",
                            allow
                                .iter()
                                .map(|a| format!("`{a}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    },
                )
            })
            .collect()
    }

    /// Parse and validate TOML; every problem names its field (with line and column when
    /// the parser knows them).
    pub fn parse(text: &str, file: &str) -> Result<Pipeline, Vec<String>> {
        Self::parse_as(text, Format::Toml, file)
    }

    /// Parse and validate a spec written as TOML, JSON or YAML (the same document in each).
    pub fn parse_as(text: &str, format: Format, file: &str) -> Result<Pipeline, Vec<String>> {
        let raw: RawPipeline = source::deserialize(text, format)
            .map_err(|e| vec![crate::config::locate_de_error(text, format, file, e)])?;
        Self::validate(&raw).map_err(|problems| {
            problems
                .into_iter()
                .map(|(f, m)| format!("{file}: {f}: {m}"))
                .collect()
        })
    }

    /// Validate a written pipeline.
    pub fn validate(raw: &RawPipeline) -> Result<Pipeline, Vec<Problem>> {
        let mut problems: Vec<Problem> = Vec::new();
        check_names(raw, &mut problems);
        let pipeline_window = window(&raw.window, "window", &mut problems);
        let stages = match (&raw.strategy, raw.stages.is_empty()) {
            (Some(_), false) => {
                problems.push((
                    "stages".into(),
                    "give a `strategy` or `stages`, not both".into(),
                ));
                Vec::new()
            }
            (None, true) => {
                problems.push((
                    "stages".into(),
                    "give a `strategy` (canary, red_black, rolling_red_black) or `stages`".into(),
                ));
                Vec::new()
            }
            (Some(strategy), true) => strategy_stages(strategy, &mut problems),
            (None, false) => explicit_stages(&raw.stages, &mut problems),
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Pipeline {
            name: raw.name.clone(),
            description: raw.description.clone(),
            window: pipeline_window,
            targets: raw
                .targets
                .iter()
                .map(|t| Target {
                    name: t.name.clone(),
                    router: t.router.clone(),
                })
                .collect(),
            stages,
            notifications: raw.notifications.clone(),
            on_conflict: raw.on_conflict,
        })
    }
}
