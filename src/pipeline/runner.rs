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
use super::state::{Action, AnalysisOutcome, Event, Execution, Phase, Status, step};
use crate::analysis::live::{AnalysisRequest, Runner as AnalysisRunner, WindowSpec, new_record};
use crate::collectors::Scope;
use crate::config::CanaryConfig;
use crate::config::source::Format;
use crate::routers::{Group, RouteContext, RouterError, Split, TrafficRouter};
use crate::store::blocking;
use crate::store::{AnalysisStatus, ExecutionEvent, ExecutionRecord, Store, StoreError};
use crate::time::{Seconds, now_ms, now_s};

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

/// Knobs of router calls, and what pipelines may run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunnerSettings {
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
        let exec = Execution::new(&spec, trigger.not_before.unwrap_or_else(now_s));
        let now = now_ms();
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
                        let since = outage.as_ref().map_or_else(now_s, |o| o.0);
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

    async fn drive(
        &self,
        id: &str,
        tx: mpsc::UnboundedSender<(Event, Option<Reply>)>,
        rx: &mut mpsc::UnboundedReceiver<(Event, Option<Reply>)>,
        outage: &mut Option<(f64, u32, String)>,
    ) -> Result<(), Stop> {
        let key = id.to_string();
        let rec = blocking(&self.store, move |s| s.get_execution(&key))
            .await
            .map_err(Stop::store)?
            .ok_or_else(|| Stop::Other(format!("no execution `{id}`")))?;
        let (name, version) = (rec.pipeline.clone(), rec.version);
        let spec_rec = blocking(&self.store, move |s| s.get_pipeline(&name, Some(version)))
            .await
            .map_err(Stop::store)?
            .ok_or_else(|| {
                Stop::Other(format!(
                    "pipeline {} v{} is gone",
                    rec.pipeline, rec.version
                ))
            })?;
        let spec = Pipeline::parse(&spec_rec.body, &spec_rec.name)
            .map_err(|e| Stop::Other(e.join("; ")))?;
        // The allow-list is checked again here: a daemon restarted with a shorter list must
        // not run what it no longer allows. The execution is not stranded for it: a smoke
        // test whose program is refused fails (its retries, then the rollback, follow) and a
        // router that is refused fails its call (the execution fails, its target is freed).
        let refused: HashMap<String, String> = spec
            .disallowed_programs(&self.settings.allowed_commands)
            .into_iter()
            .collect();
        let trigger: Trigger =
            serde_json::from_value(rec.trigger.clone()).map_err(|e| Stop::Other(e.to_string()))?;
        let routers: Vec<Box<dyn TrafficRouter>> = spec
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let refusal = ["command", "read_command"]
                    .iter()
                    .find_map(|f| refused.get(&format!("targets[{i}].router.{f}")));
                match (refusal, t.router.build_with(&self.webhooks)) {
                    (Some(why), _) => Box::new(RefusedRouter {
                        message: format!("targets[{i}].router: {why}"),
                    }) as Box<dyn TrafficRouter>,
                    (None, Ok(r)) => r,
                    (None, Err(e)) => Box::new(RefusedRouter {
                        message: format!("targets[{i}].router cannot be built: {e}"),
                    }),
                }
            })
            .collect();
        let mut exec: Execution =
            serde_json::from_value(rec.state.clone()).map_err(|e| Stop::Other(e.to_string()))?;
        let notifier = Notifier::start(&spec, id, &self.webhooks);
        let ctx = Ctx {
            id,
            spec: &spec,
            version: rec.version,
            trigger: &trigger,
            routers: &routers,
            notifier: &notifier,
            tx: &tx,
            refused: &refused,
        };
        let mut seq = rec.seq;
        // Back from a store outage: say so in the event log (the state is unchanged).
        if let Some((since, attempts, error)) = outage.clone() {
            let event = ExecutionEvent {
                execution_id: id.to_string(),
                seq: 0,
                at_ms: now_ms(),
                kind: "store recovered".into(),
                detail: json!({
                    "detail": format!(
                        "the store failed for {} s ({attempts} attempts; last: {error}); resumed from the stored state",
                        canary_judges::format_number(now_s() - since)
                    ),
                    "split": exec.split,
                }),
            };
            let (key, status, state) = (id.to_string(), rec.status.clone(), rec.state.clone());
            let expected = seq;
            let applied = blocking(&self.store, move |s| {
                s.apply_transition(&key, expected, &status, &state, now_ms(), &[event])
            })
            .await
            .map_err(Stop::store)?;
            if applied {
                seq += 1;
            }
            *outage = None;
        }
        if !exec.status.is_final() {
            seq = self
                .wait_for_targets(id, &rec, &spec, seq, rx)
                .await
                .map_err(Stop::Store)?;
        }
        let mut actions = exec.pending(&spec);
        let mut ready: VecDeque<Event> = VecDeque::new();
        let mut wake: Option<f64> = None;
        loop {
            // The final transition's actions (its notifications) are performed too.
            for action in std::mem::take(&mut actions) {
                self.perform(&ctx, &exec, action, &mut ready, &mut wake)
                    .await;
            }
            if exec.status.is_final() {
                return Ok(());
            }
            let (event, reply) = match ready.pop_front() {
                Some(e) => (e, None),
                None => {
                    let sleep = wake.map(|w| crate::time::duration((w - now_s()).max(0.0)));
                    tokio::select! {
                        m = rx.recv() => match m {
                            Some(m) => m,
                            None => return Ok(()),
                        },
                        _ = async {
                            match sleep {
                                Some(d) => tokio::time::sleep(d).await,
                                None => std::future::pending().await,
                            }
                        } => {
                            wake = None;
                            (Event::Tick { now: now_s() }, None)
                        }
                    }
                }
            };
            let t = match step(&spec, &exec, &event) {
                Ok(t) => t,
                Err(rejected) => {
                    if let Some(r) = reply
                        && r.send(Err(SubmitError::Refused(rejected.to_string())))
                            .is_err()
                    {
                        // The operator stopped waiting (a queued event): say it here.
                        tracing::warn!(execution = %id, event = ?event, %rejected,
                            "a queued operator event was not applicable");
                    }
                    continue;
                }
            };
            let events: Vec<ExecutionEvent> = t
                .notes
                .iter()
                .map(|n| ExecutionEvent {
                    execution_id: id.to_string(),
                    seq: 0,
                    at_ms: (n.at * 1000.0) as i64,
                    kind: n.what.clone(),
                    detail: json!({
                        "target": spec.targets.get(n.target).map(|t| t.name.clone()),
                        "stage": spec.stages.get(n.stage).map(|s| s.name.clone()),
                        "detail": n.detail,
                        "split": t.next.split,
                        "analysis": n.analysis,
                    }),
                })
                .collect();
            let state = serde_json::to_value(&t.next).map_err(|e| Stop::Other(e.to_string()))?;
            let status = status_name(t.next.status);
            let key = id.to_string();
            let expected = seq;
            // Stored before any of the transition's side effects.
            let stored = blocking(&self.store, move |s| {
                s.apply_transition(&key, expected, status, &state, now_ms(), &events)
            })
            .await;
            let applied = match stored {
                Ok(applied) => applied,
                Err(e) => {
                    // Not applied, no side effect done: an event someone waits on (an
                    // operator's) goes back in line for when the store is back; the task's
                    // own events are made again from the stored state then.
                    if let Some(r) = reply {
                        let _ = tx.send((event, Some(r)));
                    }
                    return Err(Stop::store(e));
                }
            };
            if !applied {
                if let Some(r) = reply {
                    let _ = r.send(Err(SubmitError::Refused(
                        "the execution changed meanwhile; try again".into(),
                    )));
                }
                return Err(Stop::Other(
                    "another writer changed the execution; stopping this task".into(),
                ));
            }
            if let Some(r) = reply {
                let _ = r.send(Ok(()));
            }
            seq += 1;
            exec = t.next;
            actions = t.actions;
            // Timers belong to the phase: the new phase's own wake-up (from its actions, or
            // the one it keeps, e.g. a judgment's deadline after an early tick).
            // (Not for a stage about to be entered: its transition says when, and a paused
            // execution waits for `resume`, not for a timer.)
            let kept = if exec.phase == Phase::Entering {
                Vec::new()
            } else {
                exec.pending(&spec)
            };
            wake = actions
                .iter()
                .chain(kept.iter())
                .filter_map(|a| match a {
                    Action::WakeAt { at } => Some(*at),
                    _ => None,
                })
                .min_by(f64::total_cmp);
        }
    }

    async fn perform(
        &self,
        c: &Ctx<'_>,
        exec: &Execution,
        action: Action,
        ready: &mut VecDeque<Event>,
        wake: &mut Option<f64>,
    ) {
        let (id, spec, routers, tx) = (c.id, c.spec, c.routers, c.tx);
        let ctx = |target: usize| RouteContext {
            target: spec.targets[target].name.clone(),
            execution: id.to_string(),
            stage: spec
                .stages
                .get(exec.stage)
                .map(|s| s.name.clone())
                .unwrap_or_default(),
        };
        match action {
            Action::SetSplit { target, percent } => {
                let c = ctx(target);
                let r = self
                    .with_retries(|| routers[target].set(Split::canary(percent), &c))
                    .await;
                ready.push_back(self.router_event(routers[target].as_ref(), r).await);
            }
            Action::DisableBaseline { target } => {
                let c = ctx(target);
                let r = self
                    .with_retries(|| routers[target].set_enabled(Group::Baseline, false, &c))
                    .await;
                ready.push_back(self.router_event(routers[target].as_ref(), r).await);
            }
            Action::StartAnalysis { target: _, stage } => {
                match self.start_analysis(spec, stage, c.trigger).await {
                    Ok(analysis) => {
                        ready.push_back(Event::AnalysisStarted {
                            now: now_s(),
                            analysis: analysis.clone(),
                        });
                        self.watch(analysis, tx.clone());
                    }
                    Err(e) => ready.push_back(Event::AnalysisDone {
                        now: now_s(),
                        outcome: AnalysisOutcome::NoVerdict,
                        summary: e,
                    }),
                }
            }
            Action::WatchAnalysis { analysis } => self.watch(analysis, tx.clone()),
            Action::RunSmokeTest { stage, .. } => {
                if let Some(why) = c.refused.get(&format!("stages[{stage}].command")) {
                    ready.push_back(Event::SmokeDone {
                        now: now_s(),
                        ok: false,
                        detail: format!("not run: {why}"),
                    });
                } else if let Some(StageKind::SmokeTest(smoke)) =
                    spec.stages.get(stage).map(|s| &s.kind)
                {
                    let (smoke, http, tx) = (smoke.clone(), self.http.clone(), tx.clone());
                    tokio::spawn(async move {
                        let r = super::smoke::run(&smoke, &http).await;
                        let _ = tx.send((
                            Event::SmokeDone {
                                now: now_s(),
                                ok: r.ok,
                                detail: r.detail,
                            },
                            None,
                        ));
                    });
                }
            }
            Action::WakeAt { at } => *wake = Some(wake.map_or(at, |w| w.min(at))),
            Action::Notify { kind, message } => c.notifier.send(&Message::new(
                spec,
                c.version,
                id,
                exec,
                kind,
                message,
                now_s(),
            )),
        }
    }

    /// Wait, traffic untouched, while an execution created earlier drives one of this
    /// execution's targets (a queued start, or two executions left over from before a
    /// restart). Operators' events are refused meanwhile: even a rollback would move the
    /// other execution's traffic. Records one `queued` event; returns the new sequence.
    async fn wait_for_targets(
        &self,
        id: &str,
        rec: &ExecutionRecord,
        spec: &Pipeline,
        mut seq: i64,
        rx: &mut mpsc::UnboundedReceiver<(Event, Option<Reply>)>,
    ) -> Result<i64, String> {
        let mut told = false;
        loop {
            let ended = self.ended.notified();
            let Some(c) = self
                .conflict(spec, Some(id), Some((rec.created_ms, &rec.id)))
                .await
                .map_err(|e| e.to_string())?
            else {
                return Ok(seq);
            };
            if !told {
                told = true;
                tracing::info!(execution = %id, behind = %c.execution, target = %c.router, "queued");
                let event = ExecutionEvent {
                    execution_id: id.to_string(),
                    seq: 0,
                    at_ms: now_ms(),
                    kind: "queued".into(),
                    detail: json!({
                        "target": c.target,
                        "detail": format!(
                            "waiting for execution {} of pipeline `{}`, which drives {}",
                            c.execution, c.pipeline, c.router
                        ),
                        "behind": c.execution,
                    }),
                };
                let (key, status, state) = (id.to_string(), rec.status.clone(), rec.state.clone());
                let expected = seq;
                let applied = blocking(&self.store, move |s| {
                    s.apply_transition(&key, expected, &status, &state, now_ms(), &[event])
                })
                .await
                .map_err(|e| e.to_string())?;
                if !applied {
                    return Err("another writer changed the execution; stopping this task".into());
                }
                seq += 1;
            }
            tokio::select! {
                m = rx.recv() => match m {
                    Some((_, Some(reply))) => {
                        let _ = reply.send(Err(SubmitError::Refused(format!(
                            "the execution is queued behind execution {} (pipeline `{}`) and has not started; nothing changed",
                            c.execution, c.pipeline
                        ))));
                    }
                    Some((_, None)) => {}
                    None => return Err("the execution's task was stopped".into()),
                },
                _ = ended => {}
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
    }

    async fn with_retries<F, Fut, T>(&self, mut call: F) -> Result<T, RouterError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, RouterError>>,
    {
        let mut attempt = 1;
        loop {
            match call().await {
                Err(e) if e.retryable && attempt < self.settings.router_attempts => {
                    tokio::time::sleep(self.settings.router_backoff * 2u32.pow(attempt - 1)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// The event of a router call; on failure the split is read back for the log.
    async fn router_event<T>(
        &self,
        router: &dyn TrafficRouter,
        result: Result<T, RouterError>,
    ) -> Event {
        match result {
            Ok(_) => Event::RouterDone {
                now: now_s(),
                read_back: match router.current().await {
                    Ok(Some(s)) => Some(s.canary_percent),
                    Ok(None) => None,
                    Err(e) => {
                        tracing::warn!(error = %e, "reading the split back failed");
                        None
                    }
                },
            },
            Err(e) => {
                let known = match router.current().await {
                    Ok(Some(s)) => format!("the router reads canary {}%", s.canary_percent),
                    Ok(None) => "the router cannot report its split".to_string(),
                    Err(r) => format!("reading the split back failed too: {r}"),
                };
                Event::RouterFailed {
                    now: now_s(),
                    message: format!("{e}; {known}"),
                }
            }
        }
    }

    async fn start_analysis(
        &self,
        spec: &Pipeline,
        stage: usize,
        trigger: &Trigger,
    ) -> Result<String, String> {
        let Some(StageKind::Analysis(a)) = spec.stages.get(stage).map(|s| &s.kind) else {
            return Err("no analysis at this stage".into());
        };
        let name = a.config.clone();
        let rec = blocking(&self.store, move |s| s.get_config_by_name(&name))
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no stored canary config named `{}`", a.config))?;
        let format = Format::from_name(&rec.format).unwrap_or(Format::Json);
        let config =
            CanaryConfig::parse(&rec.body, format, &rec.name).map_err(|e| e.to_string())?;
        let request = AnalysisRequest {
            baseline: trigger.baseline.clone(),
            canary: trigger.canary.clone(),
            window: WindowSpec::Live {
                start: None,
                interval: a.interval,
                max_duration: a.duration,
                warmup: a.warmup,
                step: a.step.unwrap_or(Seconds(10.0)),
                lag: None,
                fail_fast: a.fail_fast,
            }
            .resolve(now_s()),
            thresholds: None,
            scoring: None,
        };
        request.validate(&config).map_err(|problems| {
            problems
                .iter()
                .map(|p| format!("{}: {}", p.field, p.message))
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        let analysis = new_record(
            &config,
            Some(rec.id),
            format,
            rec.body,
            None,
            &request,
            "pipeline",
        );
        let id = analysis.id.clone();
        blocking(&self.store, move |s| s.insert_analysis(&analysis))
            .await
            .map_err(|e| e.to_string())?;
        self.analyses.submit(id.clone());
        Ok(id)
    }

    /// Wait until an analysis ends — woken when its task ends, with a poll of the store as
    /// the fallback — then report its outcome to the execution.
    fn watch(&self, analysis: String, tx: Events) {
        let store = Arc::clone(&self.store);
        let poll = self.settings.analysis_poll;
        // Subscribed before the first read, so an end between the read and the wait wakes.
        let mut ended = self.analyses.subscribe_ended();
        self.analyses.submit(analysis.clone());
        tokio::spawn(async move {
            let mut first = true;
            loop {
                if !first {
                    let wait = async {
                        loop {
                            match ended.recv().await {
                                Ok(a) if a == analysis => return,
                                Ok(_) => {}
                                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                                    return;
                                }
                                Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                                    std::future::pending::<()>().await
                                }
                            }
                        }
                    };
                    tokio::select! {
                        _ = wait => {}
                        _ = tokio::time::sleep(poll) => {}
                    }
                }
                first = false;
                let key = analysis.clone();
                let rec = blocking(&store, move |s| s.get_analysis(&key)).await;
                let (outcome, summary) = match rec {
                    Ok(Some(r)) if !r.status.is_final() => {
                        if tx.is_closed() {
                            return;
                        }
                        continue;
                    }
                    Ok(Some(r)) => {
                        let outcome = outcome_of(r.status, r.verdict.as_deref(), &r.report);
                        (outcome, analysis_summary(&r))
                    }
                    Ok(None) => (
                        AnalysisOutcome::NoVerdict,
                        format!("analysis {analysis} is gone"),
                    ),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read an analysis; retrying");
                        continue;
                    }
                };
                let _ = tx.send((
                    Event::AnalysisDone {
                        now: now_s(),
                        outcome,
                        summary,
                    },
                    None,
                ));
                return;
            }
        });
    }
}

/// An ended analysis for the event log, rollbacks and notifications: a first line with its
/// verdict, score and counts, then one line per worse pair with its judged numbers and
/// failed checks, what is undecided, and what held it (or the error that ended it).
pub fn analysis_summary(r: &crate::store::AnalysisRecord) -> String {
    let explained = r.report.as_ref().and_then(explain);
    match (r.status, explained) {
        (AnalysisStatus::Succeeded, Some(e)) => format!("analysis {}: {e}", r.id),
        (status, _) => format!(
            "analysis {} ended {}{}",
            r.id,
            match status {
                AnalysisStatus::Succeeded => "without a report",
                AnalysisStatus::Error => "in error",
                AnalysisStatus::Cancelled => "cancelled",
                AnalysisStatus::Running => "running",
            },
            r.error
                .as_ref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ),
    }
}

/// A stored report, as much of it as a summary needs.
#[derive(Deserialize)]
struct Explained {
    verdict: String,
    score: Option<f64>,
    #[serde(default)]
    metrics: Vec<ExplainedPair>,
    #[serde(default)]
    holds: Vec<ExplainedHold>,
}

#[derive(Deserialize)]
struct ExplainedPair {
    metric: String,
    #[serde(default)]
    labels: crate::collectors::Labels,
    classification: canary_judges::Classification,
    #[serde(default)]
    muted: bool,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    judged: Option<canary_judges::Judged>,
    #[serde(default)]
    unit: Option<String>,
}

#[derive(Deserialize)]
struct ExplainedHold {
    kind: String,
    message: String,
}

/// What decided a report's verdict, as lines: first the verdict and score with how many
/// pairs were worse or undecided (a screen with room for one line shows this one), then one
/// line per worse pair with its judged numbers and failed checks, the undecided pairs by
/// name, and the holds (at most three of each). `None` for a report that cannot be read.
pub fn explain(report: &serde_json::Value) -> Option<String> {
    use canary_judges::Classification;
    let r = Explained::deserialize(report).ok()?;
    let mut parts = vec![format!(
        "verdict {}, score {}",
        r.verdict.to_uppercase(),
        r.score.map_or("–".into(), canary_judges::format_number)
    )];
    let pair = |m: &ExplainedPair, only_failed: bool| {
        let unit = m.unit.as_deref();
        let mut s = format!(
            "{} {}",
            crate::collectors::display_name(&m.metric, &m.labels),
            m.classification.as_str().to_uppercase()
        );
        match &m.judged {
            Some(j) => {
                let u = canary_judges::judgement::unit_for(&j.quantity, unit);
                let checks: Vec<String> = j
                    .checks
                    .iter()
                    .filter(|c| c.failed || !only_failed)
                    .map(|c| c.describe(u))
                    .collect();
                s.push_str(&format!(" ({}", j.describe(unit)));
                if !checks.is_empty() {
                    s.push_str(&format!("; {}", checks.join("; ")));
                }
                s.push(')');
            }
            None if !m.reason.is_empty() => s.push_str(&format!(" ({})", m.reason)),
            None => {}
        }
        s
    };
    let list = |pred: &dyn Fn(Classification) -> bool, only_failed: bool| -> Vec<String> {
        let all: Vec<&ExplainedPair> = r
            .metrics
            .iter()
            .filter(|m| !m.muted && pred(m.classification))
            .collect();
        let mut v: Vec<String> = all.iter().take(3).map(|m| pair(m, only_failed)).collect();
        if all.len() > 3 {
            v.push(format!("and {} more", all.len() - 3));
        }
        v
    };
    let count = |pred: &dyn Fn(Classification) -> bool| {
        r.metrics
            .iter()
            .filter(|m| !m.muted && pred(m.classification))
            .count()
    };
    let (n_worse, n_undecided) = (
        count(&|c| c.is_failure()),
        count(&|c| c == Classification::Inconclusive),
    );
    let mut counts = Vec::new();
    if n_worse > 0 {
        counts.push(format!("{n_worse} worse"));
    }
    if n_undecided > 0 {
        counts.push(format!("{n_undecided} undecided"));
    }
    if !counts.is_empty() {
        parts[0].push_str(&format!(" ({})", counts.join(", ")));
    }
    for w in list(&|c| c.is_failure(), true) {
        match w.strip_prefix("and ") {
            Some(more) => parts.push(format!("worse: … and {more}")),
            None => parts.push(format!("worse: {w}")),
        }
    }
    // Undecided pairs by name only: their numbers are the analysis page's.
    let undecided: Vec<String> = r
        .metrics
        .iter()
        .filter(|m| !m.muted && m.classification == Classification::Inconclusive)
        .map(|m| crate::collectors::display_name(&m.metric, &m.labels))
        .collect();
    if !undecided.is_empty() {
        let mut names = undecided
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if undecided.len() > 3 {
            names.push_str(&format!(" and {} more", undecided.len() - 3));
        }
        parts.push(format!("undecided: {names}"));
    }
    for h in r.holds.iter().filter(|h| h.kind != "undecided").take(3) {
        parts.push(format!("held: {}", h.message));
    }
    Some(parts.join("\n"))
}

/// What an ended analysis means for its stage. An `inconclusive` held only by missing data
/// is no verdict (held and retried until the deadline); one a sequential judge left
/// undecided is inconclusive (the stage's `on_inconclusive`). A `fail` that no metric found worse (no
/// high or low, and no `must_have_data` metric without data — only Kayenta's "≥ 50 % nodata
/// fails" rule) is no verdict: it holds and is tried again until the stage's deadline
/// instead of rolling back at once.
pub fn outcome_of(
    status: AnalysisStatus,
    verdict: Option<&str>,
    report: &Option<serde_json::Value>,
) -> AnalysisOutcome {
    let found_worse = || {
        report
            .as_ref()
            .and_then(|r| r["metrics"].as_array())
            .is_some_and(|ms| {
                ms.iter().any(|m| {
                    m["muted"] != true
                        && matches!(
                            m["classification"].as_str(),
                            Some("high" | "low" | "nodata_fail")
                        )
                })
            })
    };
    let only_missing_data = || {
        report
            .as_ref()
            .and_then(|r| r["holds"].as_array())
            .is_some_and(|hs| {
                !hs.is_empty() && hs.iter().all(|h| h["kind"].as_str() != Some("undecided"))
            })
    };
    match (status, verdict) {
        (AnalysisStatus::Succeeded, Some("pass")) => AnalysisOutcome::Pass,
        (AnalysisStatus::Succeeded, Some("marginal")) => AnalysisOutcome::Marginal,
        // Inconclusive: the evidence there is would pass. Missing evidence holds and is
        // tried again until the deadline (an outage must not roll back a healthy canary);
        // a sequential judge undecided at its horizon is the stage's `on_inconclusive`.
        (AnalysisStatus::Succeeded, Some("inconclusive")) if only_missing_data() => {
            AnalysisOutcome::NoVerdict
        }
        (AnalysisStatus::Succeeded, Some("inconclusive")) => AnalysisOutcome::Inconclusive,
        (AnalysisStatus::Succeeded, Some("fail")) if found_worse() => AnalysisOutcome::Fail,
        _ => AnalysisOutcome::NoVerdict,
    }
}

#[cfg(test)]
mod tests;
