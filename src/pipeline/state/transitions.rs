//! The transitions: each event applied to the phase it arrives in — entering and
//! advancing stages, router answers, verdicts, smoke tests, judgments, deadlines.

use super::*;

pub(super) struct Out {
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

    /// The execution fails where it stands, and people are told (an alert, then the
    /// completion).
    fn fail(&mut self, now: f64, reason: String) {
        self.next.status = Status::Failed;
        self.next.reason = Some(reason.clone());
        self.next.phase = Phase::Done;
        self.note(now, "failed", reason.clone());
        self.actions.push(Action::Notify {
            kind: NotifyKind::Alert,
            message: reason.clone(),
        });
        self.actions.push(Action::Notify {
            kind: NotifyKind::Completed,
            message: format!("failed: {reason}"),
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
pub(super) fn enter(p: &Pipeline, out: &mut Out, now: f64) {
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
                out.fail(now, format!("the window {} never opens", w.describe()));
                return;
            }
        }
    }
    let target = e.target;
    out.note(
        now,
        "stage started",
        format!("{} ({})", stage.name, stage.kind.kind()),
    );
    out.actions.push(Action::Notify {
        kind: NotifyKind::StageStarted,
        message: format!("{}: {}", p.targets[target].name, stage.name),
    });
    start_stage(out, now, stage);
}

/// Start `stage`'s work: the phase it waits in and the actions that do it.
pub(super) fn start_stage(out: &mut Out, now: f64, stage: &Stage) {
    let (target, idx) = (out.next.target, out.next.stage);
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
pub(super) fn advance(p: &Pipeline, out: &mut Out, now: f64) {
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
        ) => out.fail(now, format!("the router failed: {message}")),
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
pub(super) fn on_tick(p: &Pipeline, stage: Option<&Stage>, out: &mut Out, now: f64, phase: &Phase) {
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

/// An analysis stage's verdict and where the stage stood.
pub(super) struct StageVerdict<'a> {
    outcome: AnalysisOutcome,
    summary: &'a str,
    deadline: f64,
    extended: bool,
}

/// An analysis stage's verdict: advance, roll back, judge again, or act on an undecided
/// verdict as the stage says.
pub(super) fn analysis_done(
    p: &Pipeline,
    spec: &AnalysisSpec,
    out: &mut Out,
    now: f64,
    v: &StageVerdict,
) {
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
pub(super) fn undecided_analysis(spec: &AnalysisSpec, out: &mut Out, now: f64, v: &StageVerdict) {
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
pub(super) fn smoke_done(
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

pub(super) fn event_name(e: &Event) -> &'static str {
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

pub(super) fn phase_name(p: &Phase) -> &'static str {
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
