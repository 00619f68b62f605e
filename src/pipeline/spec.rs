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

fn window(raw: &Option<RawWindow>, field: &str, problems: &mut Vec<Problem>) -> Option<Window> {
    raw.as_ref().and_then(|w| match Window::parse(w) {
        Ok(w) => Some(w),
        Err((f, m)) => {
            problems.push((format!("{field}.{f}"), m));
            None
        }
    })
}

fn check_analysis(a: &AnalysisSpec, field: &str, problems: &mut Vec<Problem>) {
    if a.config.trim().is_empty() {
        problems.push((
            format!("{field}.config"),
            "name a stored canary config".into(),
        ));
    }
    if a.interval.0 <= 0.0 {
        problems.push((format!("{field}.interval"), "must be > 0".into()));
    }
    if a.duration.0 < a.interval.0 {
        problems.push((
            format!("{field}.duration"),
            "must be at least one interval".into(),
        ));
    }
    if let Some(w) = a.warmup
        && w.0 >= a.duration.0
    {
        problems.push((
            format!("{field}.warmup"),
            "must be shorter than the duration".into(),
        ));
    }
}

/// Most retries of a smoke test: each is a request or a program run, and an event.
pub const MAX_SMOKE_RETRIES: u32 = 100;

fn check_smoke(s: &SmokeSpec, field: &str, problems: &mut Vec<Problem>) {
    if s.retries > MAX_SMOKE_RETRIES {
        problems.push((
            format!("{field}.retries"),
            format!(
                "at most {MAX_SMOKE_RETRIES}, got {} (a failing smoke test then rolls back)",
                s.retries
            ),
        ));
    }
    match (&s.http, &s.command) {
        (None, None) | (Some(_), Some(_)) => problems.push((
            field.to_string(),
            "a smoke test is either `http` or `command`".into(),
        )),
        (Some(h), None) if !(h.url.starts_with("http://") || h.url.starts_with("https://")) => {
            problems.push((
                format!("{field}.http.url"),
                format!("`{}` is not an http(s) URL", h.url),
            ));
        }
        (None, Some(c)) if c.is_empty() => {
            problems.push((format!("{field}.command"), "the command is empty".into()))
        }
        _ => {}
    }
}

/// Keys whose values are secrets wherever they appear in a spec.
const SECRET_KEYS: [&str; 3] = ["secret", "token", "password"];

/// A spec written as JSON or YAML, re-written as the TOML document canaryd stores (a TOML
/// spec is stored as written, comments and all). `None` when the document has no TOML form
/// (it is not a table at the top, or holds a `null`).
pub fn as_toml(text: &str, format: Format) -> Option<String> {
    if format == Format::Toml {
        return Some(text.to_string());
    }
    let value: toml::Table = source::deserialize(text, format).ok()?;
    toml::to_string_pretty(&value).ok()
}

/// Query parameters whose values are credentials wherever a URL carries them.
const SECRET_PARAMS: [&str; 10] = [
    "token",
    "access_token",
    "key",
    "api_key",
    "apikey",
    "secret",
    "password",
    "pass",
    "auth",
    "signature",
];

/// A URL with its credentials replaced by `***`: the user and password before `@`, and the
/// values of query parameters named like credentials (`?token=…`). Other text is returned
/// as it is.
pub fn redacted_url(text: &str) -> String {
    let Ok(mut url) = reqwest::Url::parse(text) else {
        return text.to_string();
    };
    if !matches!(url.scheme(), "http" | "https") {
        return text.to_string();
    }
    let mut changed = false;
    if !url.username().is_empty() {
        changed |= url.set_username("***").is_ok();
    }
    if url.password().is_some() {
        changed |= url.set_password(Some("***")).is_ok();
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let secret = SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str());
                changed |= secret;
                (
                    k.into_owned(),
                    if secret { "***".into() } else { v.into_owned() },
                )
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    if changed {
        url.to_string()
    } else {
        text.to_string()
    }
}

/// The spec text to show anyone: every `secret`, `token` and `password` value replaced by
/// `***` (webhook and notification secrets are HMAC keys: a reader who had them could
/// forge canaryd's signatures), and credentials inside URLs too ([`redacted_url`]). The
/// document is re-written, so comments are not kept; a text that does not parse is not
/// shown at all.
pub fn redacted_spec(text: &str) -> String {
    fn walk(v: &mut toml::Value) {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t.iter_mut() {
                    if SECRET_KEYS.contains(&k.as_str()) && v.is_str() {
                        *v = toml::Value::String("***".into());
                    } else {
                        walk(v);
                    }
                }
            }
            toml::Value::Array(a) => a.iter_mut().for_each(walk),
            toml::Value::String(s) => *s = redacted_url(s),
            _ => {}
        }
    }
    match text.parse::<toml::Table>() {
        Ok(t) => {
            let mut v = toml::Value::Table(t);
            walk(&mut v);
            toml::to_string_pretty(&v).unwrap_or_else(|_| "# (the spec cannot be shown)\n".into())
        }
        Err(_) => "# (the spec cannot be shown)\n".into(),
    }
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

/// The pipeline's, targets' and notifications' names, routers and events.
fn check_names(raw: &RawPipeline, problems: &mut Vec<Problem>) {
    if raw.name.trim().is_empty() {
        problems.push(("name".into(), "the pipeline needs a name".into()));
    } else if let Some(p) = crate::suggest::new_name_problem(&raw.name) {
        problems.push(("name".into(), p));
    }
    for (i, t) in raw.targets.iter().enumerate() {
        if let Some(p) = crate::suggest::new_name_problem(&t.name) {
            problems.push((format!("targets[{i}].name"), p));
        }
    }
    if raw.targets.is_empty() {
        problems.push((
            "targets".into(),
            "name at least one target and its router".into(),
        ));
    }
    let mut names = std::collections::BTreeSet::new();
    for (i, t) in raw.targets.iter().enumerate() {
        if !names.insert(t.name.as_str()) {
            problems.push((
                format!("targets[{i}].name"),
                format!("duplicate target `{}`", t.name),
            ));
        }
        for (f, m) in t.router.problems() {
            problems.push((format!("targets[{i}].router.{f}"), m));
        }
    }
    for (i, n) in raw.notifications.iter().enumerate() {
        for (f, m) in n.webhook().problems() {
            problems.push((format!("notifications[{i}].{f}"), m));
        }
        if n.events.is_empty() {
            problems.push((
                format!("notifications[{i}].events"),
                "name at least one event (or leave it out for all)".into(),
            ));
        }
    }
}

/// The stages a strategy expands to, its steps and gates checked.
fn strategy_stages(strategy: &Strategy, problems: &mut Vec<Problem>) -> Vec<Stage> {
    match strategy {
        Strategy::Canary {
            steps, analysis, ..
        } => {
            check_steps(steps, "strategy.steps", problems);
            check_analysis(analysis, "strategy.analysis", problems);
        }
        Strategy::RedBlack {
            smoke_test,
            analysis,
            ..
        } => {
            if let Some(s) = smoke_test {
                check_smoke(s, "strategy.smoke_test", problems);
            }
            if let Some(a) = analysis {
                check_analysis(a, "strategy.analysis", problems);
            }
        }
        Strategy::RollingRedBlack { steps, gate, .. } => {
            check_steps(steps, "strategy.steps", problems);
            match gate {
                Gate::Analysis(a) => check_analysis(a, "strategy.gate", problems),
                Gate::SmokeTest(s) => check_smoke(s, "strategy.gate", problems),
                _ => {}
            }
        }
    }
    expand(strategy)
        .into_iter()
        .map(|(name, kind)| Stage {
            name,
            kind,
            window: None,
        })
        .collect()
}

/// Stages listed one by one, each checked; an unnamed analysis is named after the
/// traffic it judges.
fn explicit_stages(raw: &[RawStage], problems: &mut Vec<Problem>) -> Vec<Stage> {
    let mut stages = Vec::new();
    let mut last_percent: Option<f64> = None;
    for (i, s) in raw.iter().enumerate() {
        let field = format!("stages[{i}]");
        let (name, kind, w) = raw_stage(s, &field, &mut last_percent, problems);
        let w = self::window(w, &format!("{field}.window"), problems);
        stages.push(Stage {
            name,
            kind,
            window: w,
        });
    }
    stages
}

/// One listed stage: its name (given, or after what it does), its kind, its window;
/// problems noted.
fn raw_stage<'a>(
    s: &'a RawStage,
    field: &str,
    last_percent: &mut Option<f64>,
    problems: &mut Vec<Problem>,
) -> (String, StageKind, &'a Option<RawWindow>) {
    match s {
        RawStage::Traffic {
            percent,
            name,
            window,
        } => {
            if !(0.0..=100.0).contains(percent) {
                problems.push((
                    format!("{field}.percent"),
                    format!("must be between 0 and 100, got {percent}"),
                ));
            }
            let n = name
                .clone()
                .unwrap_or_else(|| format!("traffic {}", pct(*percent)));
            *last_percent = Some(*percent);
            (n, StageKind::Traffic { percent: *percent }, window)
        }
        RawStage::Analysis {
            config,
            duration,
            interval,
            warmup,
            step,
            on_inconclusive,
            deadline,
            fail_fast,
            name,
            window,
        } => {
            let analysis = &AnalysisSpec {
                fail_fast: *fail_fast,
                config: config.clone(),
                duration: *duration,
                interval: *interval,
                warmup: *warmup,
                step: *step,
                on_inconclusive: *on_inconclusive,
                deadline: *deadline,
            };
            check_analysis(analysis, field, problems);
            let n = name.clone().unwrap_or_else(|| match last_percent {
                Some(p) => format!("analysis at {}", pct(*p)),
                None => "analysis".into(),
            });
            (n, StageKind::Analysis(analysis.clone()), window)
        }
        RawStage::SmokeTest {
            http,
            command,
            expect_exit,
            retries,
            timeout,
            name,
            window,
        } => {
            let smoke = &SmokeSpec {
                http: http.clone(),
                command: command.clone(),
                expect_exit: *expect_exit,
                retries: *retries,
                timeout: *timeout,
            };
            check_smoke(smoke, field, problems);
            let n = name.clone().unwrap_or_else(|| "smoke test".into());
            (n, StageKind::SmokeTest(smoke.clone()), window)
        }
        RawStage::ManualJudgment {
            message,
            approvers,
            timeout,
            on_timeout,
            name,
            window,
        } => {
            if timeout.0 <= 0.0 {
                problems.push((format!("{field}.timeout"), "must be > 0".into()));
            }
            let n = name.clone().unwrap_or_else(|| "manual judgment".into());
            (
                n,
                StageKind::ManualJudgment {
                    message: message.clone(),
                    approvers: approvers.clone(),
                    timeout: timeout.0,
                    on_timeout: *on_timeout,
                },
                window,
            )
        }
        RawStage::Wait {
            duration,
            name,
            window,
        } => {
            let n = name.clone().unwrap_or_else(|| "wait".into());
            (
                n,
                StageKind::Wait {
                    duration: duration.0,
                },
                window,
            )
        }
        RawStage::DisableBaseline { name, window } => {
            let n = name.clone().unwrap_or_else(|| "disable baseline".into());
            (n, StageKind::DisableBaseline, window)
        }
    }
}

fn check_steps(steps: &[f64], field: &str, problems: &mut Vec<Problem>) {
    if steps.is_empty() {
        problems.push((field.into(), "give at least one step".into()));
    }
    for (i, p) in steps.iter().enumerate() {
        if !(*p > 0.0 && *p <= 100.0) {
            problems.push((
                format!("{field}[{i}]"),
                format!("must be in (0, 100], got {p}"),
            ));
        }
        if i > 0 && *p <= steps[i - 1] {
            problems.push((format!("{field}[{i}]"), "steps must increase".into()));
        }
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::*;

    #[test]
    fn credentials_inside_urls_are_never_shown() {
        assert_eq!(
            redacted_url("https://alice:hunter2@hooks.example.com/x?token=abc&team=web"),
            "https://***:***@hooks.example.com/x?token=***&team=web"
        );
        assert_eq!(
            redacted_url("https://hooks.example.com/x?team=web"),
            "https://hooks.example.com/x?team=web"
        );
        assert_eq!(redacted_url("not a url"), "not a url");
        let spec = "name = \"p\"\n[[notifications]]\nurl = \"https://u:pw@h.example/n?api_key=k1\"\nsecret = \"s\"\n";
        let shown = redacted_spec(spec);
        for leak in ["pw", "k1", "\"s\""] {
            assert!(!shown.contains(leak), "{leak} in {shown}");
        }
        assert!(shown.contains("h.example"), "{shown}");
    }
}
