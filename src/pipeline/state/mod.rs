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

mod transitions;
pub use transitions::step;

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

#[cfg(test)]
mod tests;
