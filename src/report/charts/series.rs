//! A pair over time: each arm's values per step.

use super::*;

pub(super) fn series<DB: DrawingBackend>(p: &mut Painter<'_, DB>, title: &str, d: &PairDetail) {
    let arm = |f: fn(&SeriesPoint) -> Option<f64>| -> Vec<(f64, Option<f64>)> {
        d.series
            .iter()
            .filter(|s| s.t.is_finite())
            .map(|s| (s.t, f(s).filter(|v| v.is_finite())))
            .collect()
    };
    let arms = [arm(|s| s.baseline), arm(|s| s.canary)];
    let present = || {
        arms.iter()
            .flatten()
            .filter_map(|(t, v)| v.map(|v| (*t, v)))
    };
    let (Some((t0, t1)), Some((lo, hi))) =
        (span(present().map(|q| q.0)), span(present().map(|q| q.1)))
    else {
        return placeholder(p, title, "no data");
    };
    let (t0, t1) = widen_time(t0, t1);
    let lo = if lo >= 0.0 && lo < 0.5 * hi { 0.0 } else { lo };
    let (lo, hi) = widen(lo, hi, false, 0.06);
    let lo = if lo < 0.0 && present().all(|q| q.1 >= 0.0) {
        0.0
    } else {
        lo
    };
    let f = Frame {
        x: Axis::new(t0, t1, false, LEFT, RIGHT),
        y: Axis::new(lo, hi, false, BOTTOM, TOP),
    };
    let y_ticks = value_ticks(&f.y);
    f.grid(p, &y_ticks);
    for (points, color) in arms.iter().zip([BASELINE, CANARY]) {
        let dots = points.iter().filter(|q| q.1.is_some()).count() <= DOTS_UP_TO;
        for run in points.split(|q| q.1.is_none()).filter(|r| !r.is_empty()) {
            let at = |(t, v): &(f64, Option<f64>)| (f.x.at(*t), f.y.at(v.unwrap_or(f64::NAN)));
            if run.len() > 1 {
                p.path(run.iter().map(at), color.to_rgba(), 2.0);
            }
            if dots || run.len() == 1 {
                for q in run {
                    p.dot(at(q), 2.5, color.to_rgba());
                }
            }
        }
    }
    f.axes(p, &time_ticks(&f.x), &y_ticks);
    let keys = [
        (Key::Line(BASELINE), "baseline".to_string()),
        (Key::Line(CANARY), "canary".to_string()),
    ];
    let y_desc = if d.kind == "rate" {
        "events / total".to_string()
    } else {
        with_unit("mean per step", d)
    };
    heading(p, title, &y_desc, &keys, "time (UTC)");
}

/// An axis label with the pair's unit: `value (ms)`.
pub(super) fn with_unit(label: &str, d: &PairDetail) -> String {
    match d.unit.as_deref().filter(|u| !u.is_empty()) {
        Some(u) => format!("{label} ({u})"),
        None => label.to_string(),
    }
}
