//! Axes: ranges, ticks and tick labels, and the frame that maps data to pixels.

use super::*;

/// The smallest and largest finite value.
pub(super) fn span(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// Pad `[lo, hi]` by `share` of its span on each side (in log space on a log axis); give an
/// empty range a width.
pub(super) fn widen(lo: f64, hi: f64, log: bool, share: f64) -> (f64, f64) {
    if log {
        let (a, b) = (lo.ln(), hi.ln());
        let pad = ((b - a) * share).max(1e-3);
        return ((a - pad).exp(), (b + pad).exp());
    }
    let width = hi - lo;
    if width.is_nan() || width <= 1e-12 * lo.abs().max(hi.abs()) {
        let half = if lo == 0.0 { 1.0 } else { lo.abs() * 0.05 };
        return (lo - half, hi + half);
    }
    (lo - width * share, hi + width * share)
}

/// An empty time range becomes a minute.
pub(super) fn widen_time(t0: f64, t1: f64) -> (f64, f64) {
    if t1 - t0 < 1.0 {
        (t0 - 30.0, t1 + 30.0)
    } else {
        (t0, t1)
    }
}

/// Stretch `[lo, hi]` to show the marks, by at most half its span on each side; farther
/// marks are clipped at the edges.
pub(super) fn include_marks(
    lo: f64,
    hi: f64,
    log: bool,
    marks: impl Iterator<Item = f64>,
) -> (f64, f64) {
    let to = |v: f64| if log { v.ln() } else { v };
    let from = |v: f64| if log { v.exp() } else { v };
    let (a, b) = (to(lo), to(hi));
    let reach = (b - a) * 0.5;
    let (mut a2, mut b2) = (a, b);
    for m in marks.filter(|m| m.is_finite() && (!log || *m > 0.0)) {
        let m = to(m);
        a2 = a2.min(m.max(a - reach));
        b2 = b2.max(m.min(b + reach));
    }
    (from(a2), from(b2))
}

// ---- Numbers. ----

/// Axis ticks only (positions, not judged numbers): three significant digits, whole
/// numbers below 10⁵ in full, exponents beyond. Judged numbers in legends and captions go
/// through [`canary_judges::format_number`], the format every other output uses.
pub(super) fn fmt_num(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "∞" } else { "−∞" }.to_string();
    }
    let a = v.abs();
    let s = if a == 0.0 {
        return "0".to_string();
    } else if !(1e-3..1e5).contains(&a) {
        let s = format!("{a:.2e}");
        match s.split_once('e') {
            Some((m, e)) => format!("{}e{e}", trim_zeros(m)),
            None => s,
        }
    } else {
        let decimals = (2 - a.log10().floor() as i32).clamp(0, 6) as usize;
        trim_zeros(&format!("{a:.decimals$}")).to_string()
    };
    match (v < 0.0, s.as_str()) {
        (_, "0") | (false, _) => s,
        (true, _) => format!("−{s}"),
    }
}

pub(super) fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

pub(super) fn fmt_count(n: f64) -> String {
    if n.is_finite() && n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        fmt_num(n)
    }
}

/// HH:MM:SS in UTC, or the date for ticks a day or more apart.
pub(super) fn fmt_time(t: f64, step: f64) -> String {
    let Some(at) = chrono::DateTime::from_timestamp(t.floor() as i64, 0) else {
        return fmt_num(t);
    };
    let format = if step >= 86_400.0 {
        "%Y-%m-%d"
    } else {
        "%H:%M:%S"
    };
    at.format(format).to_string()
}

// ---- Axes. ----

/// A data range mapped onto `from..to` (CSS pixels), linearly or logarithmically; values
/// beyond the range land on its edges.
pub(super) struct Axis {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) log: bool,
    pub(super) from: f64,
    pub(super) to: f64,
}

impl Axis {
    pub(super) fn new(lo: f64, hi: f64, log: bool, from: f64, to: f64) -> Axis {
        Axis {
            lo,
            hi,
            log: log && lo > 0.0,
            from,
            to,
        }
    }

    pub(super) fn at(&self, v: f64) -> f64 {
        let share = if self.log {
            (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        let share = if share.is_nan() {
            0.0
        } else {
            share.clamp(0.0, 1.0)
        };
        self.from + (self.to - self.from) * share
    }

    pub(super) fn contains(&self, v: f64) -> bool {
        v >= self.lo && v <= self.hi
    }
}

/// At most six "nice" ticks (1, 2, 2.5 or 5 × 10ᵏ apart; decades on a log axis).
pub(super) fn value_ticks(axis: &Axis) -> Vec<(f64, String)> {
    let (lo, hi) = (axis.lo, axis.hi);
    let ticks = if axis.log {
        log_ticks(lo, hi, 6)
    } else {
        linear_ticks(lo, hi, 6)
    };
    ticks.into_iter().map(|v| (v, fmt_num(v))).collect()
}

pub(super) fn linear_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
    let raw = (hi - lo) / max as f64;
    if !(raw.is_finite() && raw > 0.0) {
        return Vec::new();
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude);
    if !(step.is_finite() && step > 0.0) {
        return Vec::new();
    }
    let first = (lo / step).ceil();
    (0..=max)
        .map(|i| (first + i as f64) * step)
        .take_while(|v| *v <= hi + step * 1e-9)
        .map(|v| if v.abs() < step * 1e-9 { 0.0 } else { v })
        .collect()
}

pub(super) fn log_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
    let (a, b) = (lo.log10().ceil() as i32, hi.log10().floor() as i32);
    if b > a {
        let every = ((b - a + 1) as usize).div_ceil(max).max(1);
        return (a..=b).step_by(every).map(|k| 10f64.powi(k)).collect();
    }
    let nice: Vec<f64> = (a - 1..=b)
        .flat_map(|k| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(k)))
        .filter(|v| *v >= lo && *v <= hi)
        .collect();
    if nice.len() >= 3 {
        nice
    } else {
        linear_ticks(lo, hi, max.min(5))
    }
}

/// At most six ticks on whole seconds, minutes, hours or days (UTC).
pub(super) fn time_ticks(axis: &Axis) -> Vec<(f64, String)> {
    const STEPS: [f64; 18] = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
        10_800.0, 21_600.0, 43_200.0, 86_400.0,
    ];
    let span = axis.hi - axis.lo;
    if !(span.is_finite() && span > 0.0) {
        return Vec::new();
    }
    let step = STEPS
        .into_iter()
        .find(|s| span / s <= 6.0)
        .unwrap_or_else(|| 86_400.0 * (span / 6.0 / 86_400.0).ceil());
    let first = (axis.lo / step).ceil();
    (0..=6)
        .map(|i| (first + f64::from(i)) * step)
        .take_while(|t| *t <= axis.hi)
        .map(|t| (t, fmt_time(t, step)))
        .collect()
}

/// The plot rectangle: `x` runs left to right, `y` bottom to top.
pub(super) struct Frame {
    pub(super) x: Axis,
    pub(super) y: Axis,
}

impl Frame {
    /// Horizontal grid lines at the y ticks.
    pub(super) fn grid<DB: DrawingBackend>(
        &self,
        p: &mut Painter<'_, DB>,
        y_ticks: &[(f64, String)],
    ) {
        for (v, _) in y_ticks {
            let y = self.y.at(*v);
            p.line((self.x.from, y), (self.x.to, y), GRID.to_rgba(), 1.0);
        }
    }

    /// Both axes with their tick labels.
    pub(super) fn axes<DB: DrawingBackend>(
        &self,
        p: &mut Painter<'_, DB>,
        x_ticks: &[(f64, String)],
        y_ticks: &[(f64, String)],
    ) {
        let (left, bottom) = (self.x.from, self.y.from);
        p.line((left, self.y.to), (left, bottom), AXIS.to_rgba(), 1.0);
        p.line((left, bottom), (self.x.to, bottom), AXIS.to_rgba(), 1.0);
        for (v, label) in y_ticks {
            let at = (left - 5.0, self.y.at(*v));
            p.text(
                label,
                at,
                TICK_SIZE,
                MUTED,
                (HPos::Right, VPos::Center),
                false,
            );
        }
        for (v, label) in x_ticks {
            let x = self.x.at(*v);
            p.line((x, bottom), (x, bottom + 4.0), AXIS.to_rgba(), 1.0);
            let half = p.text_width(label, TICK_SIZE) / 2.0;
            let x = x.clamp(PAD + half, W - PAD - half);
            p.text(
                label,
                (x, bottom + 6.0),
                TICK_SIZE,
                MUTED,
                (HPos::Center, VPos::Top),
                false,
            );
        }
    }
}

// ---- Drawing. ----
