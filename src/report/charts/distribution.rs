//! A pair's two distributions (empirical CDFs) with the judge's estimate and interval.

use super::*;

pub(super) fn distribution<DB: DrawingBackend>(
    p: &mut Painter<'_, DB>,
    title: &str,
    d: &PairDetail,
    marks: &EstimateMarks,
) {
    let arms = [clean_ecdf(&d.baseline), clean_ecdf(&d.canary)];
    let Some((lo, hi)) = span(arms.iter().flatten().map(|q| q[0])) else {
        return placeholder(p, title, "no data");
    };
    let log = lo > 0.0 && hi / lo >= 100.0;
    let anchor = arms[0].iter().find(|q| q[1] >= 0.5).map(|q| q[0]);
    let (estimate, interval) = anchor.map_or((None, None), |a| place_marks(marks, a));
    let (lo, hi) = widen(lo, hi, log, 0.02);
    let mark_values = estimate
        .into_iter()
        .chain(interval.into_iter().flat_map(|(a, b)| [a, b]))
        .chain(marks.judged.iter().flatten().copied())
        .chain(marks.bound);
    let (lo, hi) = include_marks(lo, hi, log, mark_values);
    let f = Frame {
        x: Axis::new(lo, hi, log, LEFT, RIGHT),
        y: Axis::new(-0.03, 1.05, false, BOTTOM, TOP),
    };
    let y_ticks: Vec<(f64, String)> = [0.0, 0.25, 0.5, 0.75, 1.0]
        .into_iter()
        .map(|v| (v, fmt_num(v)))
        .collect();
    f.grid(p, &y_ticks);
    if let Some((a, b)) = interval {
        p.rect(
            (f.x.at(a), f.y.to),
            (f.x.at(b).max(f.x.at(a) + 1.0), f.y.from),
            CANARY.mix(0.16),
        );
    }
    for (arm, color) in arms.iter().zip([BASELINE, CANARY]) {
        if !arm.is_empty() {
            p.path(ecdf_steps(arm, &f), color.to_rgba(), 2.0);
        }
    }
    if let Some(e) = estimate.filter(|e| f.x.contains(*e)) {
        p.dashed_vertical(f.x.at(e), f.y.to, f.y.from, ESTIMATE.to_rgba(), 1.0);
    }
    for (v, color) in marks.judged.iter().zip([BASELINE, CANARY]) {
        if let Some(v) = v.filter(|v| f.x.contains(*v)) {
            p.dashed_vertical(f.x.at(v), f.y.to, f.y.from, color.to_rgba(), 1.5);
        }
    }
    if let Some(b) = marks.bound.filter(|b| f.x.contains(*b)) {
        p.dashed_vertical(f.x.at(b), f.y.to, f.y.from, RED.to_rgba(), 1.5);
    }
    f.axes(p, &value_ticks(&f.x), &y_ticks);

    let mut keys = vec![
        (
            Key::Line(BASELINE),
            format!("baseline (n={})", fmt_count(d.baseline.count)),
        ),
        (
            Key::Line(CANARY),
            format!("canary (n={})", fmt_count(d.canary.count)),
        ),
    ];
    if let Some(caption) = caption(marks) {
        keys.push((Key::Estimate, caption));
    }
    if let (Some(q), [b, c]) = (&marks.quantity, marks.judged)
        && (b.is_some() || c.is_some())
    {
        let v = |x: Option<f64>| x.map_or("–".to_string(), canary_judges::format_number);
        // The quantity's short name (`rate`, not `rate (Σ events / Σ total)`): the rows
        // above the chart say the rest.
        let q = q.split(" (").next().unwrap_or(q);
        keys.push((
            Key::Line(CANARY),
            format!("judged {q}: {} → {}", v(b), v(c)),
        ));
    }
    if let Some(b) = marks.bound {
        let label = marks
            .bound_label
            .clone()
            .unwrap_or_else(|| format!("bound {}", canary_judges::format_number(b)));
        keys.push((Key::Line(RED), label));
    }
    let x_desc = match d.kind.as_str() {
        "rate" => "rate (events / total per interval)".to_string(),
        "histogram" => with_unit("bucket upper bound", d),
        _ => with_unit("value", d),
    };
    let x_desc = if log {
        format!("{x_desc}, log scale")
    } else {
        x_desc.to_string()
    };
    heading(p, title, "share ≤ x", &keys, &x_desc);
}

/// The finite points of an ECDF, F clamped to [0, 1].
pub(super) fn clean_ecdf(arm: &ArmDistribution) -> Vec<[f64; 2]> {
    arm.ecdf
        .iter()
        .filter(|q| q[0].is_finite() && !q[1].is_nan())
        .map(|q| [q[0], q[1].clamp(0.0, 1.0)])
        .collect()
}

/// An ECDF as a step line from the left edge at 0 to the right edge at its last level.
pub(super) fn ecdf_steps(points: &[[f64; 2]], f: &Frame) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(2 * points.len() + 2);
    let mut level = 0.0;
    out.push((f.x.from, f.y.at(level)));
    for &[x, y] in points {
        let x = f.x.at(x);
        out.push((x, f.y.at(level)));
        out.push((x, f.y.at(y)));
        level = y;
    }
    out.push((f.x.to, f.y.at(level)));
    out
}

/// The estimate and interval in value units, placed at the baseline median `anchor`.
pub(super) fn place_marks(m: &EstimateMarks, anchor: f64) -> (Option<f64>, Option<(f64, f64)>) {
    let place = |v: f64| match m.scale {
        MarkScale::Shift => anchor + v,
        MarkScale::Ratio => anchor * v,
    };
    let estimate = m
        .estimate
        .filter(|e| e.is_finite())
        .map(place)
        .filter(|e| e.is_finite());
    let interval = m.ci.and_then(|[a, b]| {
        let (a, b) = (place(a), place(b));
        (!a.is_nan() && !b.is_nan()).then(|| (a.min(b), a.max(b)))
    });
    (estimate, interval)
}

/// "estimate +12.3 [+8.1, +16]" (shift) or "estimate ×1.12 [0.95, 1.3]" (ratio).
pub(super) fn caption(m: &EstimateMarks) -> Option<String> {
    let judged = canary_judges::format_number;
    let signed = |v: f64| {
        if v > 0.0 {
            format!("+{}", judged(v))
        } else {
            judged(v)
        }
    };
    let num = |v: f64| match m.scale {
        MarkScale::Shift => signed(v),
        MarkScale::Ratio => judged(v),
    };
    let estimate = m.estimate.filter(|e| !e.is_nan()).map(|e| match m.scale {
        MarkScale::Shift => format!("estimate {}", signed(e)),
        MarkScale::Ratio => format!("estimate ×{}", judged(e)),
    });
    let ci =
        m.ci.filter(|c| c.iter().all(|v| !v.is_nan()))
            .map(|[a, b]| format!("[{}, {}]", num(a.min(b)), num(a.max(b))));
    match (estimate, ci) {
        (Some(e), Some(c)) => Some(format!("{e} {c}")),
        (Some(e), None) => Some(e),
        (None, Some(c)) => Some(format!("interval {c}")),
        (None, None) => None,
    }
}
