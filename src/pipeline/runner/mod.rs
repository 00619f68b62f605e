//! The pipeline runner: the only code that moves traffic. One task per running execution
//! feeds events to the pure state machine ([`super::state`]), stores each transition with a
//! compare-and-set on its sequence number, and only then performs the transition's actions
//! (router calls, analyses, smoke tests, timers, notifications). After a restart every
//! unfinished execution resumes by performing `Execution::pending()` — idempotent actions —
//! so the split stays what the store says and no step is applied twice in effect.
//!
//! One daemon per store, enforced by `canaryd serve`'s lock on its data dir: several daemons
//! sharing a store would each resume the same executions (the compare-and-set stops the
//! second writer, not its side effects).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::notify::{Message, Notifier};
use super::spec::{OnConflict, Pipeline, StageKind};
use super::state::{Action, AnalysisOutcome, Event, Execution, Phase, Status, Transition, step};
use crate::analysis::live::{AnalysisRequest, Runner as AnalysisRunner, WindowSpec, new_record};
use crate::collectors::Scope;
use crate::config::CanaryConfig;
use crate::config::source::Format;
use crate::routers::{Group, RouteContext, RouterError, Split, TrafficRouter};
use crate::store::blocking;
use crate::store::{AnalysisStatus, ExecutionEvent, ExecutionRecord, Store, StoreError};
use crate::time::{Clock, Seconds, SystemClock};

/// Why an execution task stopped driving.
enum Stop {
    /// Reading or writing the store failed: the task retries with backoff, from the stored
    /// state (no transition was applied, so no side effect was either).
    Store(String),
    /// Anything else (the execution is gone, another writer took it over): logged.
    Other(String),
}

impl Stop {
    fn store(e: impl std::fmt::Display) -> Stop {
        Stop::Store(e.to_string())
    }
}

/// First and longest wait between attempts after a store error.
const STORE_RETRY_MIN: Duration = Duration::from_millis(500);
const STORE_RETRY_MAX: Duration = Duration::from_secs(30);

/// A router this daemon may not use (its program is no longer allowed, or its config no
/// longer builds): every call fails at once, so the execution fails and frees its target
/// instead of holding traffic with nothing able to act.
struct RefusedRouter {
    message: String,
}

impl TrafficRouter for RefusedRouter {
    fn kind(&self) -> &'static str {
        "refused"
    }

    fn set<'a>(
        &'a self,
        _split: Split,
        _ctx: &'a RouteContext,
    ) -> crate::routers::RouterFuture<'a, crate::routers::RouterOutput> {
        Box::pin(async move { Err(RouterError::fatal(self.message.clone())) })
    }

    fn current<'a>(&'a self) -> crate::routers::RouterFuture<'a, Option<Split>> {
        Box::pin(async move { Err(RouterError::fatal(self.message.clone())) })
    }

    fn set_enabled<'a>(
        &'a self,
        _group: Group,
        _enabled: bool,
        _ctx: &'a RouteContext,
    ) -> crate::routers::RouterFuture<'a, crate::routers::RouterOutput> {
        Box::pin(async move { Err(RouterError::fatal(self.message.clone())) })
    }
}

/// What started an execution: the scopes its analyses compare, and who.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    pub baseline: Scope,
    pub canary: Scope,
    #[serde(default)]
    pub by: Option<String>,
    /// Scheduled start (unix seconds or RFC 3339 through the API); default now.
    #[serde(default)]
    pub not_before: Option<f64>,
}

/// Knobs of router calls, what pipelines may run, and the clock executions are stamped by.
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// Where "now" comes from: transitions, events and deadlines ([`SystemClock`] unless a
    /// test sets its own).
    pub clock: Arc<dyn Clock>,
    /// Attempts of a retryable router failure before the execution fails.
    pub router_attempts: u32,
    pub router_backoff: Duration,
    /// How often a running analysis is checked besides being woken when it ends.
    pub analysis_poll: Duration,
    /// Programs pipelines may run (the daemon's `[commands] allow`); none by default.
    pub allowed_commands: Vec<String>,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        RunnerSettings {
            clock: Arc::new(SystemClock),
            router_attempts: 4,
            router_backoff: Duration::from_millis(500),
            analysis_poll: Duration::from_secs(5),
            allowed_commands: Vec::new(),
        }
    }
}

/// Why an execution could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("no pipeline named `{0}`")]
    NoPipeline(String),
    #[error("{0}")]
    Invalid(String),
    /// A target of the pipeline is driven by a running execution (`on_conflict = "refuse"`).
    #[error(
        "target `{target}` ({router}) is driven by running execution {execution} of pipeline \
         `{pipeline}`; let it finish or roll it back first, or set `on_conflict = \"queue\"` in \
         the pipeline to start after it"
    )]
    Conflict {
        target: String,
        router: String,
        execution: String,
        pipeline: String,
    },
    #[error("{0}")]
    Store(String),
}

/// An unfinished execution that drives one of a pipeline's router targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The pipeline's own target name.
    pub target: String,
    /// What the router moves ([`crate::routers::RouterConfig::target`]).
    pub router: String,
    pub execution: String,
    pub pipeline: String,
}

/// What an operator does to an execution, from the API or the web UI alike
/// ([`PipelineRunner::act`]); `by` names who, for the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorAction {
    /// Approve or reject a pending manual judgment.
    Judgment {
        approve: bool,
        by: String,
        comment: String,
    },
    Rollback {
        by: String,
        reason: String,
    },
    Pause {
        by: String,
    },
    Resume {
        by: String,
    },
}

/// Why an operator's event was not applied ([`PipelineRunner::submit`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// No task of this daemon drives the execution (finished, or never started here).
    #[error("execution `{0}` is not running here")]
    NotRunning(String),
    /// The execution's task ended before it read the event.
    #[error("execution `{0}` has ended")]
    Ended(String),
    /// The execution turned the event down; why, in words (a stage that takes no
    /// judgment, a pause of a paused execution, a queued execution, a lost race).
    #[error("{0}")]
    Refused(String),
}

type Reply = oneshot::Sender<Result<(), SubmitError>>;

/// How long an operator's request waits for its event to apply before it is answered as
/// queued ([`PipelineRunner::submit_within`]).
pub const OPERATOR_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// What became of an operator's event ([`PipelineRunner::submit_within`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// The state machine took it; the stored state shows its effect.
    Applied,
    /// The execution is in the middle of a step; the event applies when the step ends.
    Queued,
}
type Events = mpsc::UnboundedSender<(Event, Option<Reply>)>;

/// What an execution's actions need, fixed for its life.
struct Ctx<'a> {
    id: &'a str,
    spec: &'a Pipeline,
    version: i64,
    trigger: &'a Trigger,
    routers: &'a [Box<dyn TrafficRouter>],
    notifier: &'a Notifier,
    tx: &'a Events,
    /// Programs the daemon no longer allows, by the spec field naming them.
    refused: &'a HashMap<String, String>,
}

pub struct PipelineRunner {
    store: Arc<dyn Store>,
    analyses: Arc<AnalysisRunner>,
    /// For smoke tests (redirects followed, like a browser).
    http: reqwest::Client,
    /// Every webhook router and notification of every execution sends through this one.
    webhooks: reqwest::Client,
    settings: RunnerSettings,
    tasks: Mutex<HashMap<String, Task>>,
    /// Held from the conflict check to the insert of a new execution, so two starts at once
    /// cannot both pass the check.
    starting: tokio::sync::Mutex<()>,
    /// Signalled whenever an execution's task ends: queued executions look again.
    ended: tokio::sync::Notify,
}

struct Task {
    events: mpsc::UnboundedSender<(Event, Option<Reply>)>,
    handle: tokio::task::AbortHandle,
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Running => "running",
        Status::Paused => "paused",
        Status::Succeeded => "succeeded",
        Status::RolledBack => "rolled_back",
        Status::Failed => "failed",
    }
}

impl PipelineRunner {
    /// Programs pipelines may run here.
    /// Unix seconds now, by the runner's clock.
    pub fn now_s(&self) -> f64 {
        self.settings.clock.now_s()
    }

    /// Unix milliseconds now, by the runner's clock.
    pub fn now_ms(&self) -> i64 {
        self.settings.clock.now_ms()
    }

    pub fn allowed_commands(&self) -> &[String] {
        &self.settings.allowed_commands
    }

    pub fn new(
        store: Arc<dyn Store>,
        analyses: Arc<AnalysisRunner>,
        settings: RunnerSettings,
    ) -> Arc<Self> {
        Arc::new(PipelineRunner {
            store,
            analyses,
            http: reqwest::Client::new(),
            webhooks: crate::routers::webhook::webhook_client(),
            settings,
            tasks: Mutex::new(HashMap::new()),
            starting: tokio::sync::Mutex::new(()),
            ended: tokio::sync::Notify::new(),
        })
    }

    /// The earliest unfinished execution other than `except` — and, when `before` is given
    /// (created ms, id), created before it — that drives a router target of `spec`.
    pub async fn conflict(
        &self,
        spec: &Pipeline,
        except: Option<&str>,
        before: Option<(i64, &str)>,
    ) -> Result<Option<Conflict>, StoreError> {
        let mine: Vec<(String, String)> = spec
            .targets
            .iter()
            .map(|t| (t.name.clone(), t.router.target()))
            .collect();
        let list = blocking(&self.store, |s| s.unfinished_executions()).await?;
        for other in list {
            if Some(other.id.as_str()) == except
                || before.is_some_and(|(ms, id)| (other.created_ms, other.id.as_str()) >= (ms, id))
            {
                continue;
            }
            let (name, version) = (other.pipeline.clone(), other.version);
            let Some(rec) =
                blocking(&self.store, move |s| s.get_pipeline(&name, Some(version))).await?
            else {
                continue;
            };
            let Ok(theirs) = Pipeline::parse(&rec.body, &rec.name) else {
                continue;
            };
            for t in &theirs.targets {
                let router = t.router.target();
                if let Some((target, _)) = mine.iter().find(|(_, r)| *r == router) {
                    return Ok(Some(Conflict {
                        target: target.clone(),
                        router,
                        execution: other.id,
                        pipeline: other.pipeline,
                    }));
                }
            }
        }
        Ok(None)
    }

    /// Store a new execution of the latest version of `pipeline` and start it.
    /// A target already driven by a running execution refuses the start
    /// ([`StartError::Conflict`]), unless the pipeline queues (`on_conflict = "queue"`): then
    /// the execution is stored and waits, traffic untouched, for the earlier ones to end.
    pub async fn start_execution(
        self: &Arc<Self>,
        pipeline: &str,
        trigger: Trigger,
    ) -> Result<ExecutionRecord, StartError> {
        let name = pipeline.to_string();
        let rec = blocking(&self.store, move |s| s.get_pipeline(&name, None))
            .await
            .map_err(|e| StartError::Store(e.to_string()))?
            .ok_or_else(|| StartError::NoPipeline(pipeline.to_string()))?;
        let spec =
            Pipeline::parse(&rec.body, &rec.name).map_err(|e| StartError::Invalid(e.join("; ")))?;
        let refused = spec.disallowed_programs(&self.settings.allowed_commands);
        if !refused.is_empty() {
            return Err(StartError::Invalid(
                refused
                    .iter()
                    .map(|(f, m)| format!("{f}: {m}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            ));
        }
        let _starting = self.starting.lock().await;
        if spec.on_conflict == OnConflict::Refuse
            && let Some(c) = self
                .conflict(&spec, None, None)
                .await
                .map_err(|e| StartError::Store(e.to_string()))?
        {
            return Err(StartError::Conflict {
                target: c.target,
                router: c.router,
                execution: c.execution,
                pipeline: c.pipeline,
            });
        }
        let exec = Execution::new(&spec, trigger.not_before.unwrap_or_else(|| self.now_s()));
        let now = self.now_ms();
        let record = ExecutionRecord {
            id: uuid::Uuid::new_v4().to_string(),
            pipeline: rec.name.clone(),
            version: rec.version,
            trigger: serde_json::to_value(&trigger)
                .map_err(|e| StartError::Store(e.to_string()))?,
            status: status_name(exec.status).into(),
            state: serde_json::to_value(&exec).map_err(|e| StartError::Store(e.to_string()))?,
            seq: 0,
            created_ms: now,
            updated_ms: now,
        };
        let r = record.clone();
        blocking(&self.store, move |s| s.insert_execution(&r))
            .await
            .map_err(|e| StartError::Store(e.to_string()))?;
        self.spawn(record.id.clone());
        Ok(record)
    }

    /// Resume every unfinished execution (after a restart).
    pub async fn resume_all(self: &Arc<Self>) -> Result<usize, StoreError> {
        let list = blocking(&self.store, |s| s.unfinished_executions()).await?;
        let n = list.len();
        for e in list {
            tracing::info!(execution = %e.id, pipeline = %e.pipeline, "resuming execution");
            self.spawn(e.id);
        }
        Ok(n)
    }

    /// Deliver an operator's event (judgment, pause, resume, rollback); the answer says
    /// whether the state machine accepted it.
    pub async fn submit(&self, id: &str, event: Event) -> Result<(), SubmitError> {
        let answer = self.send(id, event)?;
        answer
            .await
            .map_err(|_| SubmitError::Ended(id.to_string()))?
    }

    /// Carry out an operator's action — the API's and the web UI's one path: its event,
    /// stamped by the runner's clock, is delivered and waited for at most
    /// [`OPERATOR_WAIT`] ([`Self::submit_within`]).
    pub async fn act(&self, id: &str, action: OperatorAction) -> Result<Submitted, SubmitError> {
        let now = self.now_s();
        let event = match action {
            OperatorAction::Judgment {
                approve,
                by,
                comment,
            } => Event::Judgment {
                now,
                approve,
                by,
                comment,
            },
            OperatorAction::Rollback { by, reason } => Event::Rollback { now, by, reason },
            OperatorAction::Pause { by } => Event::Pause { now, by },
            OperatorAction::Resume { by } => Event::Resume { now, by },
        };
        self.submit_within(id, event, OPERATOR_WAIT).await
    }

    /// [`Self::submit`], waiting at most `wait` for the answer. An execution busy with a
    /// step (a router that retries through an outage, a smoke test) reads its events only
    /// between steps; rather than hold the operator's request, the event then stays queued
    /// and applies when the step ends ([`Submitted::Queued`]). A queued event the state
    /// machine turns down is logged.
    pub async fn submit_within(
        &self,
        id: &str,
        event: Event,
        wait: std::time::Duration,
    ) -> Result<Submitted, SubmitError> {
        let answer = self.send(id, event)?;
        match tokio::time::timeout(wait, answer).await {
            Ok(Ok(Ok(()))) => Ok(Submitted::Applied),
            Ok(Ok(Err(e))) => Err(e),
            Ok(Err(_)) => Err(SubmitError::Ended(id.to_string())),
            Err(_) => Ok(Submitted::Queued),
        }
    }

    fn send(
        &self,
        id: &str,
        event: Event,
    ) -> Result<oneshot::Receiver<Result<(), SubmitError>>, SubmitError> {
        let tx = self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .map(|t| t.events.clone())
            .ok_or_else(|| SubmitError::NotRunning(id.to_string()))?;
        let (reply, answer) = oneshot::channel();
        tx.send((event, Some(reply)))
            .map_err(|_| SubmitError::Ended(id.to_string()))?;
        Ok(answer)
    }

    /// Stop every task at once, as a killed daemon would (the state stays in the store).
    pub fn abort_all(&self) {
        for (_, t) in self.tasks.lock().unwrap_or_else(|e| e.into_inner()).drain() {
            t.handle.abort();
        }
    }

    fn spawn(self: &Arc<Self>, id: String) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        if tasks.get(&id).is_some_and(|t| !t.handle.is_finished()) {
            return;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let me = Arc::clone(self);
        let task_id = id.clone();
        let events = tx.clone();
        let handle = tokio::spawn(async move {
            let mut rx = rx;
            // A store error never strands an execution: the task reads the state again and
            // goes on, with backoff, while operator events queue (and apply once it is back).
            let mut backoff = STORE_RETRY_MIN;
            let mut failures = 0u32;
            // The outage so far (first failure, attempts, last error), recorded in the
            // event log once the store takes writes again.
            let mut outage: Option<(f64, u32, String)> = None;
            loop {
                match me.drive(&task_id, tx.clone(), &mut rx, &mut outage).await {
                    Ok(()) => break,
                    Err(Stop::Store(e)) => {
                        failures += 1;
                        let since = outage.as_ref().map_or_else(|| me.now_s(), |o| o.0);
                        outage = Some((since, failures, e.clone()));
                        tracing::warn!(execution = %task_id, error = %e, failures,
                            retry_in_s = backoff.as_secs_f64(),
                            "store error; the execution resumes from its stored state");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(STORE_RETRY_MAX);
                    }
                    Err(Stop::Other(e)) => {
                        tracing::error!(execution = %task_id, error = %e, "execution task stopped");
                        break;
                    }
                }
            }
            me.tasks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&task_id);
            me.ended.notify_waiters();
        });
        tasks.insert(
            id,
            Task {
                events,
                handle: handle.abort_handle(),
            },
        );
    }
}

mod drive;
mod explain;

pub use explain::{analysis_summary, explain, outcome_of};

#[cfg(test)]
mod tests;
