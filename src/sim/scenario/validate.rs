//! Raw scenario (as written in the file) and its validation into [`Scenario`].

use serde::Deserialize;

use super::{Change, ChangeKind, Errors, Latency, Noise, Scenario, Traffic};
use crate::config::source::FieldPath;

/// Longest scenario, in steps (a guard against a typo such as `step_s = 0.0001`).
const MAX_STEPS: f64 = 1_000_000.0;
/// Most hosts per arm.
const MAX_HOSTS: u32 = 10_000;
/// Most requests (expected) in a run.
const MAX_REQUESTS: f64 = 1e9;

/// A scenario file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_duration")]
    pub duration_s: f64,
    #[serde(default = "default_step")]
    pub step_s: f64,
    #[serde(default)]
    pub traffic: Traffic,
    #[serde(default)]
    pub latency: Latency,
    #[serde(default)]
    pub errors: Errors,
    #[serde(default)]
    pub noise: Noise,
    #[serde(default)]
    pub changes: Vec<RawChange>,
    #[serde(default)]
    pub evaluation: super::Evaluation,
}

fn default_duration() -> f64 {
    1800.0
}

fn default_step() -> f64 {
    10.0
}

/// A `[[changes]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChange {
    pub kind: RawKind,
    pub factor: Option<f64>,
    pub onset_s: Option<f64>,
    pub duration_s: Option<f64>,
    pub quantile: Option<f64>,
    pub ramp_from: Option<f64>,
    pub hosts_affected: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawKind {
    LatencyShift,
    TailShift,
    MedianShift,
    ErrorRate,
    CrashLoop,
    WarmupSpike,
}

type Problems = Vec<(FieldPath, String)>;

struct Check {
    problems: Problems,
}

impl Check {
    fn at(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push((FieldPath::parse(path), message.into()));
    }

    /// `lo < v < hi` or `lo ≤ v ≤ hi` per the flags, and finite.
    fn range(&mut self, path: &str, v: f64, lo: (f64, bool), hi: (f64, bool)) {
        let above = if lo.1 { v >= lo.0 } else { v > lo.0 };
        let below = if hi.1 { v <= hi.0 } else { v < hi.0 };
        if !v.is_finite() || !above || !below {
            let open = if lo.1 { '[' } else { '(' };
            let close = if hi.1 { ']' } else { ')' };
            self.at(
                path,
                format!("must be in {open}{}, {}{close}, got {v}", lo.0, hi.0),
            );
        }
    }

    fn positive(&mut self, path: &str, v: f64) {
        if !(v.is_finite() && v > 0.0) {
            self.at(path, format!("must be a positive number, got {v}"));
        }
    }

    fn non_negative(&mut self, path: &str, v: f64) {
        if !(v.is_finite() && v >= 0.0) {
            self.at(path, format!("must be ≥ 0, got {v}"));
        }
    }
}

/// Validate a raw scenario: every problem, with the field it is about.
pub fn validate(raw: RawScenario) -> Result<Scenario, Problems> {
    let mut c = Check {
        problems: Vec::new(),
    };
    check_run(&mut c, &raw);
    check_traffic(&mut c, &raw);
    check_latency_and_noise(&mut c, &raw);
    let l = &raw.latency;

    let shape_ok = c.problems.is_empty();
    let mut changes = Vec::with_capacity(raw.changes.len());
    let mut warps = 0;
    for (i, rc) in raw.changes.iter().enumerate() {
        if let Some(change) = change(&mut c, i, rc, &raw) {
            if let Some(warp) = change.warp(&l.shape()) {
                warps += 1;
                if warps > 1 {
                    c.at(
                        &format!("changes[{i}].kind"),
                        "only one tail_shift or median_shift per scenario",
                    );
                } else if let (true, Err(e)) = (shape_ok, warp) {
                    c.at(&format!("changes[{i}].factor"), e.to_string());
                }
            }
            changes.push(change);
        }
    }
    if let Some(a) = raw.evaluation.aggregate_s
        && !(a.is_finite() && a >= raw.step_s)
    {
        c.at(
            "evaluation.aggregate_s",
            format!(
                "must be at least one scrape step ({} s), got {a}",
                raw.step_s
            ),
        );
    }
    if !c.problems.is_empty() {
        return Err(c.problems);
    }
    Ok(Scenario {
        name: raw.name,
        description: raw.description,
        duration_s: raw.duration_s,
        step_s: raw.step_s,
        traffic: raw.traffic,
        latency: raw.latency,
        errors: raw.errors,
        noise: raw.noise,
        changes,
        evaluation: raw.evaluation,
    })
}

/// The scenario's name, duration and step.
fn check_run(c: &mut Check, raw: &RawScenario) {
    if raw.name.trim().is_empty() {
        c.at("name", "must not be empty");
    }
    c.positive("duration_s", raw.duration_s);
    c.positive("step_s", raw.step_s);
    if raw.duration_s.is_finite() && raw.step_s.is_finite() && raw.step_s > 0.0 {
        let steps = raw.duration_s / raw.step_s;
        if steps < 1.0 || (steps - steps.round()).abs() > 1e-9 * steps.max(1.0) {
            c.at(
                "duration_s",
                format!(
                    "must be a whole number of steps of step_s = {} s, got {}",
                    raw.step_s, raw.duration_s
                ),
            );
        } else if steps > MAX_STEPS {
            c.at(
                "step_s",
                format!("{steps} steps is too many (at most {MAX_STEPS})"),
            );
        }
    }
}

/// Traffic: rate, canary share, hosts, diurnal swing.
fn check_traffic(c: &mut Check, raw: &RawScenario) {
    let t = &raw.traffic;
    c.positive("traffic.rps", t.rps);
    c.range(
        "traffic.canary_share",
        t.canary_share,
        (0.0, false),
        (1.0, false),
    );
    for (field, n) in [("hosts", Some(t.hosts)), ("canary_hosts", t.canary_hosts)] {
        match n {
            Some(0) => c.at(&format!("traffic.{field}"), "must be at least 1"),
            Some(n) if n > MAX_HOSTS => c.at(
                &format!("traffic.{field}"),
                format!("{n} is too many (at most {MAX_HOSTS})"),
            ),
            _ => {}
        }
    }
    let expected = t.rps * raw.duration_s;
    if expected.is_finite() && expected > MAX_REQUESTS {
        c.at(
            "traffic.rps",
            format!("{expected:.3e} requests in {} s is too many to simulate (at most {MAX_REQUESTS:.0e})", raw.duration_s),
        );
    }
    c.non_negative("traffic.host_sigma", t.host_sigma);
    c.range(
        "traffic.diurnal_amplitude",
        t.diurnal_amplitude,
        (0.0, true),
        (1.0, false),
    );
    c.positive("traffic.diurnal_period_s", t.diurnal_period_s);
}

/// Latency shape, error rate and scrape noise.
fn check_latency_and_noise(c: &mut Check, raw: &RawScenario) {
    let l = &raw.latency;
    c.positive("latency.median_ms", l.median_ms);
    c.range("latency.sigma", l.sigma, (0.0, false), (10.0, true));
    c.range("latency.tail_prob", l.tail_prob, (0.0, true), (1.0, false));
    c.positive("latency.tail_alpha", l.tail_alpha);
    c.positive("latency.tail_scale", l.tail_scale);
    c.range("latency.ar_phi", l.ar_phi, (-1.0, false), (1.0, false));
    c.non_negative("latency.ar_sigma", l.ar_sigma);
    c.range("errors.rate", raw.errors.rate, (0.0, true), (1.0, true));
    let n = &raw.noise;
    c.range(
        "noise.missing_scrape_prob",
        n.missing_scrape_prob,
        (0.0, true),
        (1.0, false),
    );
    c.range(
        "noise.counter_reset_prob",
        n.counter_reset_prob,
        (0.0, true),
        (1.0, true),
    );
}

/// `max(0.5, 1 − 10·(1 − quantile))`: one decade of tail probability below `quantile`,
/// never below the median (rounded so 0.99 gives 0.9, not 0.8999999999999999).
fn default_ramp_from(quantile: f64) -> f64 {
    (((1.0 - 10.0 * (1.0 - quantile)) * 1e9).round() / 1e9).max(0.5)
}

/// The kind of a change, its quantile and ramp checked (`at` names a field).
fn change_kind(c: &mut Check, rc: &RawChange, at: &dyn Fn(&str) -> String) -> ChangeKind {
    match rc.kind {
        RawKind::LatencyShift => ChangeKind::LatencyShift,
        RawKind::ErrorRate => ChangeKind::ErrorRate,
        RawKind::CrashLoop => ChangeKind::CrashLoop,
        RawKind::WarmupSpike => ChangeKind::WarmupSpike,
        RawKind::TailShift => {
            let quantile = rc.quantile.unwrap_or(0.99);
            c.range(&at("quantile"), quantile, (0.0, false), (1.0, false));
            let ramp_from = rc.ramp_from.unwrap_or_else(|| default_ramp_from(quantile));
            if !(ramp_from.is_finite() && ramp_from > 0.0 && ramp_from < quantile) {
                c.at(
                    &at("ramp_from"),
                    format!(
                        "must be in (0, quantile = {quantile}), got {ramp_from}{}",
                        if rc.ramp_from.is_none() {
                            " (the default); set it explicitly"
                        } else {
                            ""
                        }
                    ),
                );
            }
            ChangeKind::TailShift {
                quantile,
                ramp_from,
            }
        }
        RawKind::MedianShift => {
            let quantile = rc.quantile.unwrap_or(0.9);
            c.range(&at("quantile"), quantile, (0.5, false), (1.0, false));
            ChangeKind::MedianShift { quantile }
        }
    }
}

fn change(c: &mut Check, i: usize, rc: &RawChange, raw: &RawScenario) -> Option<Change> {
    let at = |field: &str| format!("changes[{i}].{field}");
    let name = match rc.kind {
        RawKind::LatencyShift => "latency_shift",
        RawKind::TailShift => "tail_shift",
        RawKind::MedianShift => "median_shift",
        RawKind::ErrorRate => "error_rate",
        RawKind::CrashLoop => "crash_loop",
        RawKind::WarmupSpike => "warmup_spike",
    };
    let before = c.problems.len();
    let factor = match (rc.kind, rc.factor) {
        (_, Some(f)) => f,
        (RawKind::CrashLoop, None) => 1.0,
        (_, None) => {
            c.at(&at("kind"), format!("a {name} change needs a `factor`"));
            1.0
        }
    };
    if rc.kind == RawKind::CrashLoop {
        c.range(&at("factor"), factor, (0.0, false), (1.0, true));
    } else {
        c.positive(&at("factor"), factor);
    }
    let onset_s = rc.onset_s.unwrap_or(0.0);
    c.non_negative(&at("onset_s"), onset_s);
    if onset_s.is_finite() && onset_s >= raw.duration_s {
        c.at(
            &at("onset_s"),
            format!(
                "{onset_s} s is not before the end of the deploy (duration_s = {})",
                raw.duration_s
            ),
        );
    }
    let duration_s = match (rc.kind, rc.duration_s) {
        (RawKind::WarmupSpike, None) => Some(30.0),
        (_, d) => d,
    };
    if let Some(d) = duration_s {
        c.positive(&at("duration_s"), d);
    }
    let canary_hosts = raw.traffic.canary_hosts.unwrap_or(raw.traffic.hosts);
    match rc.hosts_affected {
        Some(0) => c.at(&at("hosts_affected"), "must be at least 1"),
        Some(n) if n > canary_hosts => c.at(
            &at("hosts_affected"),
            format!("{n} is more than the canary's {canary_hosts} hosts"),
        ),
        _ => {}
    }
    let shift = matches!(rc.kind, RawKind::TailShift | RawKind::MedianShift);
    if !shift && rc.quantile.is_some() {
        c.at(
            &at("quantile"),
            format!("applies to tail_shift and median_shift only, not to {name}"),
        );
    }
    if rc.kind != RawKind::TailShift && rc.ramp_from.is_some() {
        c.at(
            &at("ramp_from"),
            format!("applies to tail_shift only, not to {name}"),
        );
    }
    let kind = change_kind(c, rc, &at);
    (c.problems.len() == before).then_some(Change {
        kind,
        factor,
        onset_s,
        duration_s,
        hosts_affected: rc.hosts_affected.map(|n| n as usize),
    })
}
