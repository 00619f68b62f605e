//! The window an analysis judges: retrospective (one look at a past window) or live (the
//! intervals of a canary while it runs), as requests write it and as checked.

use super::*;

fn default_step() -> Seconds {
    Seconds(60.0)
}

fn default_live_step() -> Seconds {
    Seconds(10.0)
}

/// Which time the analysis judges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", try_from = "RawWindow")]
pub enum WindowSpec {
    /// A past window, judged once.
    Retrospective {
        start: Timestamp,
        end: Timestamp,
        step: Seconds,
    },
    /// A running canary, judged every interval.
    Live {
        /// When the canary started receiving traffic (default: now).
        start: Option<Timestamp>,
        interval: Seconds,
        max_duration: Seconds,
        warmup: Option<Seconds>,
        step: Seconds,
        /// Wait after an interval's end before reading it (default: one step).
        lag: Option<Seconds>,
        /// Stop at the first failing interval even for non-sequential judges.
        fail_fast: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Mode {
    Retrospective,
    Live,
}

/// A window as written: a flat object, so that a bad value names its own field.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    mode: Mode,
    start: Option<Timestamp>,
    end: Option<Timestamp>,
    step: Option<Seconds>,
    interval: Option<Seconds>,
    max_duration: Option<Seconds>,
    warmup: Option<Seconds>,
    lag: Option<Seconds>,
    #[serde(default)]
    fail_fast: bool,
}

impl TryFrom<RawWindow> for WindowSpec {
    type Error = String;

    fn try_from(w: RawWindow) -> Result<Self, String> {
        match w.mode {
            Mode::Retrospective => {
                for (name, set) in [
                    ("interval", w.interval.is_some()),
                    ("max_duration", w.max_duration.is_some()),
                    ("warmup", w.warmup.is_some()),
                    ("lag", w.lag.is_some()),
                    ("fail_fast", w.fail_fast),
                ] {
                    if set {
                        return Err(format!(
                            "`{name}` belongs to live windows; a retrospective window has start, end and step"
                        ));
                    }
                }
                Ok(WindowSpec::Retrospective {
                    start: w.start.ok_or("a retrospective window needs `start`")?,
                    end: w.end.ok_or("a retrospective window needs `end`")?,
                    step: w.step.unwrap_or_else(default_step),
                })
            }
            Mode::Live => {
                if w.end.is_some() {
                    return Err("a live window ends after `max_duration`, not at `end`".into());
                }
                Ok(WindowSpec::Live {
                    start: w.start,
                    interval: w.interval.ok_or("a live window needs `interval`")?,
                    max_duration: w.max_duration.ok_or("a live window needs `max_duration`")?,
                    warmup: w.warmup,
                    step: w.step.unwrap_or_else(default_live_step),
                    lag: w.lag,
                    fail_fast: w.fail_fast,
                })
            }
        }
    }
}

/// One judgement to make: the window so far and when to read it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub index: i64,
    pub start: f64,
    pub end: f64,
    /// Wall-clock time (unix seconds) at which to read it.
    pub due: f64,
    pub last: bool,
}

/// Most points per series one range query may return (Prometheus refuses more).
const MAX_POINTS: f64 = 11_000.0;

impl WindowSpec {
    pub fn step(&self) -> f64 {
        match self {
            WindowSpec::Retrospective { step, .. } | WindowSpec::Live { step, .. } => step.0,
        }
    }

    /// Fill in defaults that depend on the creation time.
    pub fn resolve(mut self, now: f64) -> Self {
        if let WindowSpec::Live { start, .. } = &mut self
            && start.is_none()
        {
            *start = Some(Timestamp(now));
        }
        self
    }

    /// Problems with the window at time `now` (unix seconds): (field below `window`,
    /// message).
    pub fn problems(&self, now: f64) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let step = self.step();
        if step < 1.0 {
            out.push(("step".into(), format!("must be at least 1 s, got {step}")));
        } else if step > MAX_STEP_S || step.is_nan() {
            // Kayenta's `step` arrives as a bare number: 1e20 is no step.
            out.push((
                "step".into(),
                format!("may be at most a day ({MAX_STEP_S} s), got {step}"),
            ));
        }
        match self {
            WindowSpec::Retrospective { start, end, .. } => {
                out.extend(retrospective_problems(*start, *end, step, now));
            }
            WindowSpec::Live {
                interval,
                max_duration,
                warmup,
                start,
                ..
            } => out.extend(live_problems(
                *start,
                *interval,
                *max_duration,
                *warmup,
                step,
                now,
            )),
        }
        out
    }

    /// Every interval, in order.
    pub fn intervals(&self) -> Vec<Interval> {
        match self {
            WindowSpec::Retrospective { start, end, .. } => vec![Interval {
                index: 0,
                start: start.0,
                end: end.0,
                due: end.0,
                last: true,
            }],
            WindowSpec::Live {
                start,
                interval,
                max_duration,
                warmup,
                step,
                lag,
                ..
            } => {
                let t0 = start.map_or(0.0, |s| s.0);
                let s = t0 + warmup.map_or(0.0, |w| w.0);
                let horizon = t0 + max_duration.0;
                let lag = lag.map_or(step.0, |l| l.0);
                if interval.0 <= 0.0 || horizon <= s {
                    return Vec::new();
                }
                let n = ((horizon - s) / interval.0 - 1e-9).ceil().max(1.0) as i64;
                (0..n)
                    .map(|k| {
                        let end = (s + (k + 1) as f64 * interval.0).min(horizon);
                        Interval {
                            index: k,
                            start: s,
                            end,
                            due: end + lag,
                            last: k == n - 1,
                        }
                    })
                    .collect()
            }
        }
    }
}

/// The longest query step: one point a day.
pub const MAX_STEP_S: f64 = 86_400.0;

/// How far a retrospective window's end may lie ahead of this daemon's clock (clock skew
/// between the caller, Prometheus and the daemon).
pub const RETROSPECTIVE_SKEW_S: f64 = 60.0;

/// A retrospective window's problems at `now`: an end still to come, an empty window, too
/// many points.
fn retrospective_problems(
    start: Timestamp,
    end: Timestamp,
    step: f64,
    now: f64,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if end.0 > now + RETROSPECTIVE_SKEW_S {
        // It would sit `running` until then: a window still to come is live.
        out.push((
                "end".into(),
                format!(
                    "is {} — in the future; a retrospective window has ended (judge a window still to come with mode = \"live\")",
                    end.rfc3339()
                ),
            ));
    } else if end.0 <= start.0 {
        out.push(("end".into(), "must be after `start`".into()));
    } else if step >= 1.0 && (end.0 - start.0) / step > MAX_POINTS {
        out.push((
            "step".into(),
            format!(
                "{step} s gives more than {MAX_POINTS} points over the window; use a longer step"
            ),
        ));
    }
    out
}

/// A live window's problems at `now`: a start long past or too far ahead, an interval
/// shorter than a step, a duration within the warm-up, too many points or intervals.
fn live_problems(
    start: Option<Timestamp>,
    interval: Seconds,
    max_duration: Seconds,
    warmup: Option<Seconds>,
    step: f64,
    now: f64,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    // A live window that ended before it was asked for would replay every
    // interval at once: that is a retrospective analysis.
    if let Some(s) = start
        && s.0 + max_duration.0 < now
    {
        out.push((
                "start".into(),
                format!(
                    "{} plus max_duration has passed; judge a past window with mode = \"retrospective\"",
                    s.rfc3339()
                ),
            ));
    }
    if let Some(s) = start
        && s.0 > now + crate::time::MAX_AHEAD_S
    {
        out.push((
            "start".into(),
            format!(
                "may be at most {} days ahead, got {}",
                crate::time::MAX_AHEAD_S / 86_400.0,
                s.rfc3339()
            ),
        ));
    }
    let warm = warmup.map_or(0.0, |w| w.0);
    if interval.0 < step {
        out.push((
            "interval".into(),
            format!("must be at least one step ({step} s)"),
        ));
    }
    if max_duration.0 <= warm {
        out.push((
            "max_duration".into(),
            "must be longer than the warm-up".into(),
        ));
    } else if step >= 1.0 && (max_duration.0 - warm) / step > MAX_POINTS {
        out.push((
            "step".into(),
            format!("more than {MAX_POINTS} points; use a longer step"),
        ));
    } else if interval.0 > 0.0 && (max_duration.0 - warm) / interval.0 > 10_000.0 {
        out.push(("interval".into(), "more than 10,000 intervals".into()));
    }
    out
}
