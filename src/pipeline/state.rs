//! The pure state machine of a pipeline execution: a state, an event, and the next state
//! with the side effects it allows ([`Action`]s) and what to record ([`Note`]s). Nothing
//! here does I/O or reads a clock: times come in events. The runner stores the new state
//! *before* it performs the actions, and every action is idempotent (absolute weights), so a
//! runner killed at any point resumes from the stored state by performing its pending
//! actions again.
//!
//! Failure policy (docs/pipelines.md): a fail verdict rolls back at once; an analysis without
//! a verdict (no data, an outage) holds traffic where it is and is retried until the stage's
//! deadline, then its deadline action (rollback by default); inconclusive has one configured
//! action (roll back, hold for a person, or extend once); a router that still fails after its
//! retries fails the execution, and the runner reads the split back.

use serde::{Deserialize, Serialize};

use super::spec::{
    AnalysisSpec, NotifyKind, OnDeadline, OnInconclusive, Pipeline, Stage, StageKind,
};

/// Where an execution is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running,
    /// Finishes the current stage, then waits for `resume`.
    Paused,
    Succeeded,
    RolledBack,
    Failed,
}

impl Status {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Succeeded | Status::RolledBack | Status::Failed
        )
    }
}

/// What the current stage is waiting for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// About to enter the stage (checks its window first).
    Entering,
    WaitingWindow {
        until: f64,
    },
    /// A split was asked of the router.
    Applying {
        percent: f64,
    },
    /// The baseline group is being taken out of service.
    Disabling,
    /// An analysis runs; `deadline` bounds holds for missing data. `analysis` is the id of
    /// the running analysis once the runner has started it (so a restart watches it
    /// instead of starting a second one).
    Analysing {
        deadline: f64,
        extended: bool,
        #[serde(default)]
        analysis: Option<String>,
    },
    SmokeTesting {
        attempt: u32,
    },
    AwaitingJudgment {
        deadline: f64,
        after_analysis: bool,
    },
    Waiting {
        until: f64,
    },
    /// Traffic is going back to the baseline.
    RollingBack {
        reason: String,
    },
    Done,
}

/// The stored state of one execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    pub status: Status,
    pub target: usize,
    pub stage: usize,
    pub phase: Phase,
    /// Not before this time (scheduled start), unix seconds.
    pub not_before: f64,
    /// Last canary percent each target's router confirmed; `None` before any.
    pub split: Vec<Option<f64>>,
    /// Why it ended, when it did.
    pub reason: Option<String>,
}

/// An analysis' outcome as the stage sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisOutcome {
    Pass,
    Marginal,
    Fail,
    Inconclusive,
    /// No verdict: no data, an outage, an error. Holds, never promotes.
    NoVerdict,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Tick {
        now: f64,
    },
    RouterDone {
        now: f64,
        /// The canary share the router reported right after the call, when it can tell:
        /// the split recorded (and shown) is what the router really has, not what was asked.
        #[serde(default)]
        read_back: Option<f64>,
    },
    /// The router still failed after its retries.
    RouterFailed {
        now: f64,
        message: String,
    },
    /// The runner started the stage's analysis (stored before it is watched).
    AnalysisStarted {
        now: f64,
        analysis: String,
    },
    AnalysisDone {
        now: f64,
        outcome: AnalysisOutcome,
        summary: String,
    },
    SmokeDone {
        now: f64,
        ok: bool,
        detail: String,
    },
    Judgment {
        now: f64,
        approve: bool,
        by: String,
        comment: String,
    },
    Pause {
        now: f64,
        by: String,
    },
    Resume {
        now: f64,
        by: String,
    },
    Rollback {
        now: f64,
        by: String,
        reason: String,
    },
}

impl Event {
    pub fn now(&self) -> f64 {
        match self {
            Event::Tick { now }
            | Event::RouterDone { now, .. }
            | Event::RouterFailed { now, .. }
            | Event::AnalysisStarted { now, .. }
            | Event::AnalysisDone { now, .. }
            | Event::SmokeDone { now, .. }
            | Event::Judgment { now, .. }
            | Event::Pause { now, .. }
            | Event::Resume { now, .. }
            | Event::Rollback { now, .. } => *now,
        }
    }
}

/// A side effect the runner performs after storing the new state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    SetSplit {
        target: usize,
        percent: f64,
    },
    DisableBaseline {
        target: usize,
    },
    StartAnalysis {
        target: usize,
        stage: usize,
    },
    /// Wait for a started analysis to end (after a restart).
    WatchAnalysis {
        analysis: String,
    },
    RunSmokeTest {
        target: usize,
        stage: usize,
        attempt: u32,
    },
    /// Deliver a `Tick` at this time.
    WakeAt {
        at: f64,
    },
    Notify {
        kind: NotifyKind,
        message: String,
    },
}

/// One line of the execution's event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub at: f64,
    pub target: usize,
    pub stage: usize,
    pub what: String,
    pub detail: String,
    /// The analysis the note is about (its verdict, the rollback or hold it caused).
    pub analysis: Option<String>,
}

/// An event the state does not accept (e.g. a judgment when none is awaited).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Rejected(pub String);

/// The outcome of one transition.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub next: Execution,
    pub actions: Vec<Action>,
    pub notes: Vec<Note>,
}

impl Execution {
    /// A new execution of `pipeline`, starting not before `not_before`.
    pub fn new(pipeline: &Pipeline, not_before: f64) -> Self {
        Execution {
            status: Status::Running,
            target: 0,
            stage: 0,
            phase: Phase::Entering,
            not_before,
            split: vec![None; pipeline.targets.len()],
            reason: None,
        }
    }

    /// The actions to (re)perform for the current phase: after a restart, or the first
    /// time. All are idempotent.
    pub fn pending(&self, pipeline: &Pipeline) -> Vec<Action> {
        if self.status.is_final() {
            return Vec::new();
        }
        match &self.phase {
            Phase::Entering => vec![Action::WakeAt {
                at: self.not_before,
            }],
            Phase::WaitingWindow { until } | Phase::Waiting { until } => {
                vec![Action::WakeAt { at: *until }]
            }
            Phase::Applying { percent } => vec![Action::SetSplit {
                target: self.target,
                percent: *percent,
            }],
            Phase::Disabling => vec![Action::DisableBaseline {
                target: self.target,
            }],
            Phase::Analysing {
                deadline, analysis, ..
            } => vec![
                match analysis {
                    Some(id) => Action::WatchAnalysis {
                        analysis: id.clone(),
                    },
                    None => Action::StartAnalysis {
                        target: self.target,
                        stage: self.stage,
                    },
                },
                Action::WakeAt { at: *deadline },
            ],
            Phase::SmokeTesting { attempt } => vec![Action::RunSmokeTest {
                target: self.target,
                stage: self.stage,
                attempt: *attempt,
            }],
            Phase::AwaitingJudgment { deadline, .. } => vec![Action::WakeAt { at: *deadline }],
            Phase::RollingBack { .. } => vec![Action::SetSplit {
                target: self.target,
                percent: 0.0,
            }],
            Phase::Done => {
                let _ = pipeline;
                Vec::new()
            }
        }
    }
}

struct Out {
    next: Execution,
    actions: Vec<Action>,
    notes: Vec<Note>,
}

impl Out {
    fn note(&mut self, at: f64, what: &str, detail: impl Into<String>) {
        self.notes.push(Note {
            at,
            target: self.next.target,
            stage: self.next.stage,
            what: what.into(),
            detail: detail.into(),
            analysis: None,
        });
    }

    fn rollback(&mut self, now: f64, reason: String) {
        self.note(now, "rollback", reason.clone());
        self.actions.push(Action::Notify {
            kind: NotifyKind::Rollback,
            message: reason.clone(),
        });
        self.actions.push(Action::SetSplit {
            target: self.next.target,
            percent: 0.0,
        });
        self.next.phase = Phase::RollingBack { reason };
    }
}

/// Enter the current stage (window first), or finish when every stage of every target ran.
fn enter(p: &Pipeline, out: &mut Out, now: f64) {
    let e = &mut out.next;
    if e.stage >= p.stages.len() {
        e.stage = 0;
        e.target += 1;
    }
    if e.target >= p.targets.len() {
        // Done: the position stays on the last stage of the last target, so the log and
        // notifications name where it finished.
        e.target = p.targets.len().saturating_sub(1);
        e.stage = p.stages.len().saturating_sub(1);
        e.phase = Phase::Done;
        e.status = Status::Succeeded;
        out.note(now, "completed", "every stage of every target ran");
        out.actions.push(Action::Notify {
            kind: NotifyKind::Completed,
            message: format!("pipeline `{}` completed", p.name),
        });
        return;
    }
    if e.status == Status::Paused {
        e.phase = Phase::Entering;
        return;
    }
    if now < e.not_before {
        e.phase = Phase::Entering;
        out.actions.push(Action::WakeAt { at: e.not_before });
        return;
    }
    let stage = &p.stages[e.stage];
    if let Some(w) = stage.window.as_ref().or(p.window.as_ref()) {
        match w.next_open(now.floor() as i64) {
            Some(t) if (t as f64) <= now => {}
            Some(t) => {
                e.phase = Phase::WaitingWindow { until: t as f64 };
                out.note(now, "waiting for window", w.describe());
                out.actions.push(Action::WakeAt { at: t as f64 });
                return;
            }
            None => {
                let reason = format!("the window {} never opens", w.describe());
                e.status = Status::Failed;
                e.reason = Some(reason.clone());
                e.phase = Phase::Done;
                out.note(now, "failed", reason.clone());
                out.actions.push(Action::Notify {
                    kind: NotifyKind::Alert,
                    message: reason.clone(),
                });
                out.actions.push(Action::Notify {
                    kind: NotifyKind::Completed,
                    message: format!("failed: {reason}"),
                });
                return;
            }
        }
    }
    let (target, idx) = (e.target, e.stage);
    out.note(
        now,
        "stage started",
        format!("{} ({})", stage.name, stage.kind.kind()),
    );
    out.actions.push(Action::Notify {
        kind: NotifyKind::StageStarted,
        message: format!("{}: {}", p.targets[target].name, stage.name),
    });
    let e = &mut out.next;
    match &stage.kind {
        StageKind::Traffic { percent } => {
            e.phase = Phase::Applying { percent: *percent };
            out.actions.push(Action::SetSplit {
                target,
                percent: *percent,
            });
        }
        StageKind::DisableBaseline => {
            e.phase = Phase::Disabling;
            out.actions.push(Action::DisableBaseline { target });
        }
        StageKind::Analysis(a) => {
            let deadline = now + a.deadline.map_or(2.0 * a.duration.0, |d| d.0);
            e.phase = Phase::Analysing {
                deadline,
                extended: false,
                analysis: None,
            };
            out.actions
                .push(Action::StartAnalysis { target, stage: idx });
            out.actions.push(Action::WakeAt { at: deadline });
        }
        StageKind::SmokeTest(_) => {
            e.phase = Phase::SmokeTesting { attempt: 0 };
            out.actions.push(Action::RunSmokeTest {
                target,
                stage: idx,
                attempt: 0,
            });
        }
        StageKind::ManualJudgment {
            message, timeout, ..
        } => {
            let deadline = now + timeout;
            e.phase = Phase::AwaitingJudgment {
                deadline,
                after_analysis: false,
            };
            out.actions.push(Action::Notify {
                kind: NotifyKind::JudgmentNeeded,
                message: message.clone(),
            });
            out.actions.push(Action::WakeAt { at: deadline });
        }
        StageKind::Wait { duration } => {
            let until = now + duration;
            e.phase = Phase::Waiting { until };
            out.actions.push(Action::WakeAt { at: until });
        }
    }
}

/// The current stage is done: on to the next.
fn advance(p: &Pipeline, out: &mut Out, now: f64) {
    let name = p.stages[out.next.stage].name.clone();
    out.note(now, "stage finished", name.clone());
    out.actions.push(Action::Notify {
        kind: NotifyKind::StageFinished,
        message: format!("{}: {name}", p.targets[out.next.target].name),
    });
    out.next.stage += 1;
    out.next.phase = Phase::Entering;
    enter(p, out, now);
}

/// Apply `event` to `state`.
pub fn step(p: &Pipeline, state: &Execution, event: &Event) -> Result<Transition, Rejected> {
    if state.status.is_final() {
        return Err(Rejected(format!(
            "the execution has ended ({:?})",
            state.status
        )));
    }
    let now = event.now();
    let mut out = Out {
        next: state.clone(),
        actions: Vec::new(),
        notes: Vec::new(),
    };
    let stage = p.stages.get(state.stage);
    match (event, &state.phase) {
        (Event::Rollback { by, reason, .. }, phase) => {
            if matches!(phase, Phase::RollingBack { .. }) {
                return Err(Rejected("already rolling back".into()));
            }
            out.next.status = Status::Running;
            out.rollback(now, format!("rollback requested by {by}: {reason}"));
        }
        (Event::Pause { by, .. }, _) => {
            if state.status == Status::Paused {
                return Err(Rejected("already paused".into()));
            }
            out.next.status = Status::Paused;
            out.note(
                now,
                "paused",
                format!("by {by}; the current stage finishes first"),
            );
        }
        (Event::Resume { by, .. }, phase) => {
            if state.status != Status::Paused {
                return Err(Rejected("not paused".into()));
            }
            out.next.status = Status::Running;
            out.note(now, "resumed", format!("by {by}"));
            if *phase == Phase::Entering {
                enter(p, &mut out, now);
            }
        }
        (Event::Tick { .. }, phase) => on_tick(p, stage, &mut out, now, phase),
        (Event::RouterDone { read_back, .. }, Phase::Applying { percent }) => {
            out.next.split[state.target] = Some(read_back.unwrap_or(*percent));
            let detail = match read_back {
                Some(r) if (r - percent).abs() > 0.5 => {
                    format!("canary {percent}% asked; the router reads {r}%")
                }
                Some(r) => format!("canary {percent}% (read back: {r}%)"),
                None => format!("canary {percent}% (the router cannot report its split)"),
            };
            out.note(now, "traffic set", detail);
            advance(p, &mut out, now);
        }
        (Event::RouterDone { .. }, Phase::Disabling) => {
            out.note(now, "baseline disabled", "the old group is out of service");
            advance(p, &mut out, now);
        }
        (Event::RouterDone { read_back, .. }, Phase::RollingBack { reason }) => {
            out.next.split[state.target] = Some(read_back.unwrap_or(0.0));
            out.next.status = Status::RolledBack;
            out.next.reason = Some(reason.clone());
            out.next.phase = Phase::Done;
            out.note(now, "rolled back", "canary 0%");
            out.actions.push(Action::Notify {
                kind: NotifyKind::Completed,
                message: format!("rolled back: {reason}"),
            });
        }
        (
            Event::RouterFailed { message, .. },
            Phase::Applying { .. } | Phase::Disabling | Phase::RollingBack { .. },
        ) => router_failed(&mut out, now, message),
        (
            Event::AnalysisStarted { analysis, .. },
            Phase::Analysing {
                deadline,
                extended,
                analysis: None,
            },
        ) => {
            out.next.phase = Phase::Analysing {
                deadline: *deadline,
                extended: *extended,
                analysis: Some(analysis.clone()),
            };
            out.note(now, "analysis started", analysis.clone());
            if let Some(n) = out.notes.last_mut() {
                n.analysis = Some(analysis.clone());
            }
        }
        (
            Event::AnalysisDone {
                outcome, summary, ..
            },
            Phase::Analysing {
                deadline,
                extended,
                analysis,
            },
        ) => {
            let Some(StageKind::Analysis(spec)) = stage.map(|s| &s.kind) else {
                return Err(Rejected("no analysis stage here".into()));
            };
            let first_note = out.notes.len();
            out.note(now, "analysis", format!("{outcome:?}: {summary}"));
            let verdict = StageVerdict {
                outcome: outcome.clone(),
                summary,
                deadline: *deadline,
                extended: *extended,
            };
            analysis_done(p, spec, &mut out, now, &verdict);
            // Every note of this verdict (the verdict, the rollback or hold it caused)
            // points at the analysis behind it.
            for n in &mut out.notes[first_note..] {
                n.analysis = analysis.clone();
            }
        }
        (Event::SmokeDone { ok, detail, .. }, Phase::SmokeTesting { attempt }) => {
            let Some(StageKind::SmokeTest(spec)) = stage.map(|s| &s.kind) else {
                return Err(Rejected("no smoke test here".into()));
            };
            smoke_done(p, spec.retries, &mut out, now, (*ok, detail), *attempt);
        }
        (
            Event::Judgment {
                approve,
                by,
                comment,
                ..
            },
            Phase::AwaitingJudgment { .. },
        ) => {
            if let Some(StageKind::ManualJudgment { approvers, .. }) = stage.map(|s| &s.kind)
                && !approvers.is_empty()
                && !approvers.iter().any(|a| a == by)
            {
                return Err(Rejected(format!(
                    "{by} may not judge this stage (approvers: {})",
                    approvers.join(", ")
                )));
            }
            let verb = if *approve { "approved" } else { "rejected" };
            out.note(now, verb, format!("by {by}: {comment}"));
            if *approve {
                advance(p, &mut out, now);
            } else {
                out.rollback(now, format!("rejected by {by}: {comment}"));
            }
        }
        (event, phase) => {
            return Err(Rejected(format!(
                "{} does not apply while {}",
                event_name(event),
                phase_name(phase)
            )));
        }
    }
    Ok(Transition {
        next: out.next,
        actions: out.actions,
        notes: out.notes,
    })
}

/// A tick: enter what waits to be entered, end a wait, and act on passed deadlines.
fn on_tick(p: &Pipeline, stage: Option<&Stage>, out: &mut Out, now: f64, phase: &Phase) {
    match phase {
        Phase::Entering | Phase::WaitingWindow { .. } => enter(p, out, now),
        Phase::Waiting { until } => {
            if now >= *until {
                advance(p, out, now);
            } else {
                out.actions.push(Action::WakeAt { at: *until });
            }
        }
        Phase::Analysing { deadline, .. } if now >= *deadline => {
            out.rollback(
                now,
                "the analysis gave no verdict before the stage deadline".into(),
            );
        }
        Phase::AwaitingJudgment {
            deadline,
            after_analysis,
        } if now >= *deadline => {
            let on_timeout = match stage.map(|s| &s.kind) {
                Some(StageKind::ManualJudgment { on_timeout, .. }) if !after_analysis => {
                    *on_timeout
                }
                _ => OnDeadline::Rollback,
            };
            match on_timeout {
                OnDeadline::Rollback => {
                    out.rollback(now, "nobody judged before the deadline".into())
                }
                OnDeadline::Proceed => {
                    out.note(now, "judgment timed out", "proceeding as configured");
                    advance(p, out, now);
                }
            }
        }
        _ => {}
    }
}

/// The router failed: the execution fails where it stands, and people are told.
fn router_failed(out: &mut Out, now: f64, message: &str) {
    let reason = format!("the router failed: {message}");
    out.next.status = Status::Failed;
    out.next.reason = Some(reason.clone());
    out.next.phase = Phase::Done;
    out.note(now, "failed", reason.clone());
    out.actions.push(Action::Notify {
        kind: NotifyKind::Alert,
        message: reason.clone(),
    });
    out.actions.push(Action::Notify {
        kind: NotifyKind::Completed,
        message: format!("failed: {reason}"),
    });
}

/// An analysis stage's verdict and where the stage stood.
struct StageVerdict<'a> {
    outcome: AnalysisOutcome,
    summary: &'a str,
    deadline: f64,
    extended: bool,
}

/// An analysis stage's verdict: advance, roll back, judge again, or act on an undecided
/// verdict as the stage says.
fn analysis_done(p: &Pipeline, spec: &AnalysisSpec, out: &mut Out, now: f64, v: &StageVerdict) {
    let (summary, deadline) = (v.summary, v.deadline);
    match v.outcome {
        AnalysisOutcome::Pass => advance(p, out, now),
        AnalysisOutcome::Fail => out.rollback(now, format!("the analysis failed: {summary}")),
        AnalysisOutcome::NoVerdict => {
            if now < deadline {
                // Hold traffic where it is and judge again.
                out.next.phase = Phase::Analysing {
                    deadline,
                    extended: v.extended,
                    analysis: None,
                };
                out.actions.push(Action::StartAnalysis {
                    target: out.next.target,
                    stage: out.next.stage,
                });
                out.actions.push(Action::WakeAt { at: deadline });
            } else {
                out.rollback(now, format!("no verdict before the deadline: {summary}"));
            }
        }
        AnalysisOutcome::Marginal | AnalysisOutcome::Inconclusive => {
            undecided_analysis(spec, out, now, v)
        }
    }
}

/// A marginal or inconclusive verdict, by the stage's `on_inconclusive`.
fn undecided_analysis(spec: &AnalysisSpec, out: &mut Out, now: f64, v: &StageVerdict) {
    let (summary, deadline) = (v.summary, v.deadline);
    match spec.on_inconclusive {
        OnInconclusive::Rollback => out.rollback(now, format!("inconclusive: {summary}")),
        OnInconclusive::Hold => {
            out.next.phase = Phase::AwaitingJudgment {
                deadline,
                after_analysis: true,
            };
            out.note(
                now,
                "held for judgment",
                format!("inconclusive, a person decides (rollback at the deadline): {summary}"),
            );
            out.actions.push(Action::Notify {
                kind: NotifyKind::JudgmentNeeded,
                message: format!("inconclusive analysis: {summary}"),
            });
            out.actions.push(Action::WakeAt { at: deadline });
        }
        OnInconclusive::Extend if !v.extended => {
            let d = now + spec.deadline.map_or(2.0 * spec.duration.0, |d| d.0);
            out.next.phase = Phase::Analysing {
                deadline: d,
                extended: true,
                analysis: None,
            };
            out.note(now, "analysis extended", "once, as configured");
            out.actions.push(Action::StartAnalysis {
                target: out.next.target,
                stage: out.next.stage,
            });
            out.actions.push(Action::WakeAt { at: d });
        }
        OnInconclusive::Extend => {
            out.rollback(now, format!("inconclusive after the extension: {summary}"))
        }
    }
}

/// A smoke test's result: advance, retry, or roll back when the retries are spent.
fn smoke_done(
    p: &Pipeline,
    retries: u32,
    out: &mut Out,
    now: f64,
    (ok, detail): (bool, &str),
    attempt: u32,
) {
    if ok {
        out.note(now, "smoke test passed", detail);
        advance(p, out, now);
    } else if attempt < retries {
        out.note(now, "smoke test failed; retrying", detail);
        out.next.phase = Phase::SmokeTesting {
            attempt: attempt + 1,
        };
        out.actions.push(Action::RunSmokeTest {
            target: out.next.target,
            stage: out.next.stage,
            attempt: attempt + 1,
        });
    } else {
        out.rollback(now, format!("the smoke test failed: {detail}"));
    }
}

fn event_name(e: &Event) -> &'static str {
    match e {
        Event::Tick { .. } => "a tick",
        Event::RouterDone { .. } => "a router answer",
        Event::RouterFailed { .. } => "a router failure",
        Event::AnalysisStarted { .. } => "an analysis start",
        Event::AnalysisDone { .. } => "an analysis result",
        Event::SmokeDone { .. } => "a smoke-test result",
        Event::Judgment { .. } => "a judgment",
        Event::Pause { .. } => "pause",
        Event::Resume { .. } => "resume",
        Event::Rollback { .. } => "rollback",
    }
}

fn phase_name(p: &Phase) -> &'static str {
    match p {
        Phase::Entering => "entering a stage",
        Phase::WaitingWindow { .. } => "waiting for the window",
        Phase::Applying { .. } => "setting traffic",
        Phase::Disabling => "disabling the baseline",
        Phase::Analysing { .. } => "analysing",
        Phase::SmokeTesting { .. } => "smoke testing",
        Phase::AwaitingJudgment { .. } => "awaiting a judgment",
        Phase::Waiting { .. } => "waiting",
        Phase::RollingBack { .. } => "rolling back",
        Phase::Done => "done",
    }
}

#[cfg(test)]
mod tests;
