//! Checking a written pipeline: names, targets, notifications, stages and the presets of
//! the strategies, each problem with the field it is about.

use super::*;

pub(super) fn window(
    raw: &Option<RawWindow>,
    field: &str,
    problems: &mut Vec<Problem>,
) -> Option<Window> {
    raw.as_ref().and_then(|w| match Window::parse(w) {
        Ok(w) => Some(w),
        Err((f, m)) => {
            problems.push((format!("{field}.{f}"), m));
            None
        }
    })
}

pub(super) fn check_analysis(a: &AnalysisSpec, field: &str, problems: &mut Vec<Problem>) {
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

pub(super) fn check_smoke(s: &SmokeSpec, field: &str, problems: &mut Vec<Problem>) {
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

/// The pipeline's, targets' and notifications' names, routers and events.
pub(super) fn check_names(raw: &RawPipeline, problems: &mut Vec<Problem>) {
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
pub(super) fn strategy_stages(strategy: &Strategy, problems: &mut Vec<Problem>) -> Vec<Stage> {
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
pub(super) fn explicit_stages(raw: &[RawStage], problems: &mut Vec<Problem>) -> Vec<Stage> {
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
pub(super) fn raw_stage<'a>(
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

pub(super) fn check_steps(steps: &[f64], field: &str, problems: &mut Vec<Problem>) {
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
