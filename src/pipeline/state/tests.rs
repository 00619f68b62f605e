use super::*;
use crate::pipeline::spec::Pipeline;

const TARGETS: &str = r#"
[[targets]]
name = "eu"
router = { kind = "command", command = ["true"] }

[[targets]]
name = "us"
router = { kind = "command", command = ["true"] }
"#;

fn pipeline(body: &str) -> Pipeline {
    let text = format!("name = \"shop\"\n{body}\n{TARGETS}");
    Pipeline::parse(&text, "test.toml").unwrap_or_else(|e| panic!("{e:?}"))
}

fn canary() -> Pipeline {
    pipeline(
        r#"
[strategy]
kind = "canary"
steps = [1, 5, 25, 50, 100]
analysis = { config = "web", duration = "10m", interval = "1m" }
"#,
    )
}

/// Drive `events` from a new execution; every transition must be accepted.
fn run(p: &Pipeline, events: &[Event]) -> (Execution, Vec<Action>) {
    let mut e = Execution::new(p, 0.0);
    let mut actions = Vec::new();
    for ev in events {
        let t = step(p, &e, ev).unwrap_or_else(|r| panic!("{ev:?} rejected in {e:?}: {r}"));
        // What the runner would redo after a crash includes what it was just asked to do.
        for a in &t.actions {
            if matches!(
                a,
                Action::SetSplit { .. }
                    | Action::DisableBaseline { .. }
                    | Action::StartAnalysis { .. }
            ) {
                assert!(
                    t.next.pending(p).contains(a),
                    "{a:?} not pending in {:?}",
                    t.next
                );
            }
        }
        e = t.next;
        actions.extend(t.actions);
    }
    (e, actions)
}

fn splits(actions: &[Action]) -> Vec<(usize, f64)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SetSplit { target, percent } => Some((*target, *percent)),
            _ => None,
        })
        .collect()
}

fn tick(now: f64) -> Event {
    Event::Tick { now }
}
fn done(now: f64) -> Event {
    Event::RouterDone {
        now,
        read_back: None,
    }
}
fn analysis(now: f64, outcome: AnalysisOutcome) -> Event {
    Event::AnalysisDone {
        now,
        outcome,
        summary: "numbers".into(),
    }
}

#[test]
fn a_healthy_canary_goes_through_every_step_of_every_target() {
    let p = canary();
    assert_eq!(p.stages.len(), 10, "5 steps, 4 analyses, disable baseline");
    let mut events = vec![tick(0.0)];
    for _target in 0..2 {
        for step in 0..5 {
            events.push(done(1.0));
            if step < 4 {
                events.push(analysis(2.0, AnalysisOutcome::Pass));
            }
        }
        events.push(done(3.0)); // baseline disabled
    }
    let (e, actions) = run(&p, &events);
    assert_eq!(e.status, Status::Succeeded);
    assert_eq!(e.split, vec![Some(100.0), Some(100.0)]);
    let want: Vec<(usize, f64)> = [0, 1]
        .iter()
        .flat_map(|t| [1.0, 5.0, 25.0, 50.0, 100.0].map(|p| (*t, p)))
        .collect();
    assert_eq!(splits(&actions), want);
    assert_eq!(
        actions
            .iter()
            .filter(|a| matches!(a, Action::DisableBaseline { .. }))
            .count(),
        2
    );
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Notify { kind, .. } if *kind == NotifyKind::Completed))
    );
}

#[test]
fn a_fail_verdict_rolls_back_at_once_and_stops_there() {
    let p = canary();
    let (e, actions) = run(
        &p,
        &[
            tick(0.0),
            done(1.0),
            analysis(2.0, AnalysisOutcome::Pass),
            done(3.0),
        ],
    );
    let t = step(&p, &e, &analysis(4.0, AnalysisOutcome::Fail)).unwrap();
    assert_eq!(
        splits(&t.actions),
        vec![(0, 0.0)],
        "the same transition moves traffic back"
    );
    assert!(matches!(t.next.phase, Phase::RollingBack { .. }));
    let end = step(&p, &t.next, &done(5.0)).unwrap().next;
    assert_eq!(end.status, Status::RolledBack);
    assert_eq!(end.split[0], Some(0.0));
    assert!(end.reason.unwrap().contains("failed"));
    assert_eq!(splits(&actions), vec![(0, 1.0), (0, 5.0)]);
    assert!(step(&p, &end_state(&p), &tick(9.0)).is_err());
}

fn end_state(p: &Pipeline) -> Execution {
    let mut e = Execution::new(p, 0.0);
    e.status = Status::RolledBack;
    e
}

#[test]
fn no_verdict_holds_traffic_until_the_deadline_then_rolls_back() {
    let p = canary(); // deadline: 2 × 10 min
    let (e, _) = run(&p, &[tick(0.0), done(1.0)]);
    let t = step(&p, &e, &analysis(100.0, AnalysisOutcome::NoVerdict)).unwrap();
    assert!(
        splits(&t.actions).is_empty(),
        "an outage never moves traffic"
    );
    assert!(t.actions.contains(&Action::StartAnalysis {
        target: 0,
        stage: 1
    }));
    let t = step(&p, &t.next, &tick(500.0)).unwrap();
    assert!(t.actions.is_empty() && matches!(t.next.phase, Phase::Analysing { .. }));
    let t = step(&p, &t.next, &tick(1201.0)).unwrap();
    assert_eq!(splits(&t.actions), vec![(0, 0.0)]);
}

#[test]
fn a_started_analysis_is_watched_not_started_again_after_a_restart() {
    let p = canary();
    let (e, _) = run(&p, &[tick(0.0), done(1.0)]);
    assert_eq!(
        e.pending(&p)[0],
        Action::StartAnalysis {
            target: 0,
            stage: 1
        },
        "not started yet: start it"
    );
    let t = step(
        &p,
        &e,
        &Event::AnalysisStarted {
            now: 2.0,
            analysis: "a-1".into(),
        },
    )
    .unwrap();
    assert!(t.actions.is_empty());
    assert_eq!(
        t.next.pending(&p)[0],
        Action::WatchAnalysis {
            analysis: "a-1".into()
        },
        "after a restart: watch the running one"
    );
    // A second start report for the same stage is refused.
    assert!(
        step(
            &p,
            &t.next,
            &Event::AnalysisStarted {
                now: 3.0,
                analysis: "a-2".into()
            }
        )
        .is_err()
    );
    // No verdict: the next attempt is a new analysis.
    let again = step(&p, &t.next, &analysis(4.0, AnalysisOutcome::NoVerdict)).unwrap();
    assert_eq!(
        again.next.pending(&p)[0],
        Action::StartAnalysis {
            target: 0,
            stage: 1
        }
    );
}

fn with_inconclusive(action: &str) -> Pipeline {
    pipeline(&format!(
        r#"
[[stages]]
kind = "traffic"
percent = 10
[[stages]]
kind = "analysis"
config = "web"
duration = "10m"
interval = "1m"
on_inconclusive = "{action}"
"#
    ))
}

#[test]
fn inconclusive_has_one_configured_action() {
    let p = with_inconclusive("rollback");
    let (e, _) = run(&p, &[tick(0.0), done(1.0)]);
    let t = step(&p, &e, &analysis(2.0, AnalysisOutcome::Inconclusive)).unwrap();
    assert_eq!(splits(&t.actions), vec![(0, 0.0)]);

    let p = with_inconclusive("hold");
    let (e, _) = run(&p, &[tick(0.0), done(1.0)]);
    let t = step(&p, &e, &analysis(2.0, AnalysisOutcome::Marginal)).unwrap();
    assert!(matches!(t.next.phase, Phase::AwaitingJudgment { .. }));
    let approved = step(
        &p,
        &t.next,
        &Event::Judgment {
            now: 3.0,
            approve: true,
            by: "alice".into(),
            comment: "looked at the charts".into(),
        },
    )
    .unwrap();
    assert_eq!(approved.next.stage, 0, "on to the next target");
    assert_eq!(approved.next.target, 1);

    let p = with_inconclusive("extend");
    let (e, _) = run(&p, &[tick(0.0), done(1.0)]);
    let once = step(&p, &e, &analysis(2.0, AnalysisOutcome::Inconclusive)).unwrap();
    assert!(matches!(
        once.next.phase,
        Phase::Analysing { extended: true, .. }
    ));
    assert!(splits(&once.actions).is_empty());
    let twice = step(
        &p,
        &once.next,
        &analysis(3.0, AnalysisOutcome::Inconclusive),
    )
    .unwrap();
    assert_eq!(
        splits(&twice.actions),
        vec![(0, 0.0)],
        "extended once, then rolled back"
    );
}

#[test]
fn an_undecided_analysis_holds_by_default_and_the_deadline_rolls_back() {
    let p = pipeline(
        r#"
[[stages]]
kind = "traffic"
percent = 10
[[stages]]
kind = "analysis"
config = "web"
duration = "10m"
interval = "1m"
"#,
    );
    for outcome in [AnalysisOutcome::Inconclusive, AnalysisOutcome::Marginal] {
        let (e, _) = run(&p, &[tick(0.0), done(1.0)]);
        let held = step(&p, &e, &analysis(2.0, outcome.clone())).unwrap();
        assert!(
            matches!(held.next.phase, Phase::AwaitingJudgment { .. }),
            "{outcome:?}: {:?}",
            held.next.phase
        );
        assert!(
            splits(&held.actions).is_empty(),
            "traffic stays where it is"
        );
        let late = step(&p, &held.next, &tick(1e6)).unwrap();
        assert_eq!(
            splits(&late.actions),
            vec![(0, 0.0)],
            "the deadline rolls back"
        );
    }
}

fn judged() -> Pipeline {
    pipeline(
        r#"
[[stages]]
kind = "traffic"
percent = 5
[[stages]]
kind = "manual_judgment"
message = "look at the dashboards"
approvers = ["alice"]
timeout = "1h"
[[stages]]
kind = "traffic"
percent = 100
"#,
    )
}

#[test]
fn manual_judgment_waits_proceeds_on_approve_and_rolls_back_on_reject() {
    let p = judged();
    let (e, actions) = run(&p, &[tick(0.0), done(1.0)]);
    assert!(matches!(e.phase, Phase::AwaitingJudgment { .. }));
    assert!(
        actions.iter().any(
            |a| matches!(a, Action::Notify { kind, .. } if *kind == NotifyKind::JudgmentNeeded)
        )
    );
    let judge = |approve: bool, by: &str| Event::Judgment {
        now: 2.0,
        approve,
        by: by.into(),
        comment: "ok".into(),
    };
    let e2 = step(&p, &e, &judge(true, "mallory")).unwrap_err();
    assert!(e2.0.contains("may not judge"), "{e2}");
    let ok = step(&p, &e, &judge(true, "alice")).unwrap();
    assert_eq!(splits(&ok.actions), vec![(0, 100.0)]);
    let no = step(&p, &e, &judge(false, "alice")).unwrap();
    assert_eq!(splits(&no.actions), vec![(0, 0.0)]);
    let late = step(&p, &e, &tick(3601.0)).unwrap();
    assert_eq!(
        splits(&late.actions),
        vec![(0, 0.0)],
        "nobody judged: rollback by default"
    );
    // A judgment when none is awaited is refused, not applied.
    assert!(step(&p, &ok.next, &judge(true, "alice")).is_err());
}

#[test]
fn stages_wait_for_their_window() {
    // 2026-11-26 is a Thursday; the stage may only run on Mondays 06:00–12:00 UTC.
    let thursday = 1_795_687_200.0; // 10:00 UTC
    let monday_six = 1_795_392_000.0 + 7.0 * 86_400.0 + 6.0 * 3600.0;
    let p = pipeline(
        r#"
[[stages]]
kind = "traffic"
percent = 1
window = { days = ["mon"], hours = "06:00-12:00", timezone = "UTC" }
"#,
    );
    let mut e = Execution::new(&p, 0.0);
    let t = step(&p, &e, &tick(thursday)).unwrap();
    assert_eq!(t.next.phase, Phase::WaitingWindow { until: monday_six });
    assert_eq!(t.actions, vec![Action::WakeAt { at: monday_six }]);
    e = t.next;
    let t = step(&p, &e, &tick(monday_six)).unwrap();
    assert_eq!(splits(&t.actions), vec![(0, 1.0)]);
}

#[test]
fn pause_finishes_the_stage_then_waits_for_resume() {
    let p = judged();
    let (e, _) = run(&p, &[tick(0.0)]);
    let paused = step(
        &p,
        &e,
        &Event::Pause {
            now: 0.5,
            by: "bob".into(),
        },
    )
    .unwrap()
    .next;
    let t = step(&p, &paused, &done(1.0)).unwrap();
    assert_eq!(
        t.next.phase,
        Phase::Entering,
        "the next stage does not start"
    );
    assert!(
        !t.actions.iter().any(
            |a| matches!(a, Action::Notify { kind, .. } if *kind == NotifyKind::JudgmentNeeded)
        )
    );
    let resumed = step(
        &p,
        &t.next,
        &Event::Resume {
            now: 2.0,
            by: "bob".into(),
        },
    )
    .unwrap();
    assert!(matches!(resumed.next.phase, Phase::AwaitingJudgment { .. }));
    assert_eq!(resumed.next.status, Status::Running);
}

#[test]
fn a_router_failure_fails_the_execution_and_alerts() {
    let p = judged();
    let (e, _) = run(&p, &[tick(0.0)]);
    let t = step(
        &p,
        &e,
        &Event::RouterFailed {
            now: 1.0,
            message: "admin socket refused".into(),
        },
    )
    .unwrap();
    assert_eq!(t.next.status, Status::Failed);
    assert!(
        t.actions
            .iter()
            .any(|a| matches!(a, Action::Notify { kind, .. } if *kind == NotifyKind::Alert))
    );
}

#[test]
fn a_scheduled_start_waits() {
    let p = judged();
    let e = Execution::new(&p, 1000.0);
    assert_eq!(e.pending(&p), vec![Action::WakeAt { at: 1000.0 }]);
    let t = step(&p, &e, &tick(10.0)).unwrap();
    assert_eq!(t.actions, vec![Action::WakeAt { at: 1000.0 }]);
    let t = step(&p, &t.next, &tick(1000.0)).unwrap();
    assert_eq!(splits(&t.actions), vec![(0, 5.0)]);
}

#[test]
fn red_black_cuts_over_keeps_the_old_group_then_disables_it() {
    let p = pipeline(
        r#"
[strategy]
kind = "red_black"
keep_old_for = "30m"
smoke_test = { http = { url = "http://127.0.0.1:1/health" } }
"#,
    );
    let kinds: Vec<&str> = p.stages.iter().map(|s| s.kind.kind()).collect();
    assert_eq!(kinds, ["smoke_test", "traffic", "wait", "disable_baseline"]);
    let (e, actions) = run(
        &p,
        &[
            tick(0.0),
            Event::SmokeDone {
                now: 1.0,
                ok: true,
                detail: "200".into(),
            },
            done(2.0),
        ],
    );
    assert_eq!(splits(&actions), vec![(0, 100.0)]);
    assert_eq!(
        e.phase,
        Phase::Waiting {
            until: 2.0 + 1800.0
        }
    );
}

#[test]
fn specs_report_every_problem_by_field() {
    let text = format!(
        "name = \"x\"\n[strategy]\nkind = \"canary\"\nsteps = [5, 1, 120]\nanalysis = {{ config = \"\", duration = \"1m\", interval = \"5m\" }}\n{TARGETS}"
    );
    let e = Pipeline::parse(&text, "p.toml").unwrap_err();
    let joined = e.join("\n");
    for field in [
        "strategy.steps[1]",
        "strategy.steps[2]",
        "strategy.analysis.config",
        "strategy.analysis.duration",
    ] {
        assert!(joined.contains(field), "{field} missing in\n{joined}");
    }
    let e = Pipeline::parse(
        "name = \"x\"\n[[stages]]\nkind = \"traffic\"\npercnt = 5\n",
        "p.toml",
    )
    .unwrap_err();
    assert!(
        e[0].contains("p.toml:4:") && e[0].contains("percnt"),
        "{e:?}"
    );
}

#[test]
fn a_manual_judgment_without_a_timeout_waits_the_documented_default() {
    let p = pipeline(
        r#"
[[stages]]
kind = "traffic"
percent = 5
[[stages]]
kind = "manual_judgment"
message = "look at the dashboards"
[[stages]]
kind = "traffic"
percent = 100
"#,
    );
    let (e, _) = run(&p, &[tick(0.0), done(1.0)]);
    assert!(matches!(e.phase, Phase::AwaitingJudgment { .. }));
    let wait = crate::pipeline::spec::DEFAULT_JUDGMENT_TIMEOUT_S;
    assert!(wait >= 1800.0, "at least 30 minutes for a person");
    let before = step(&p, &e, &tick(1.0 + wait - 1.0)).unwrap();
    assert!(
        splits(&before.actions).is_empty(),
        "still waiting just before the default timeout"
    );
    let after = step(&p, &e, &tick(1.0 + wait + 1.0)).unwrap();
    assert_eq!(
        splits(&after.actions),
        vec![(0, 0.0)],
        "then its on_timeout: rollback"
    );
}
