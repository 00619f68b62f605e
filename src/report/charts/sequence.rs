//! A sequential judge's confidence sequence against its band, step by step.

use super::*;

pub(super) fn sequence<DB: DrawingBackend>(
    p: &mut Painter<'_, DB>,
    title: &str,
    s: &SequenceTrace,
) {
    let finite = |v: Option<f64>| v.filter(|v| !v.is_nan());
    let steps: Vec<_> = s
        .steps
        .iter()
        .filter(|q| q.t.is_finite())
        .map(|q| (q.t, finite(q.estimate), finite(q.lower), finite(q.upper)))
        .collect();
    let decided = s.decided_at.filter(|t| t.is_finite());
    let Some((t0, t1)) = span(steps.iter().map(|q| q.0).chain(decided)) else {
        return placeholder(p, title, "no data");
    };
    let (t0, t1) = widen_time(t0, t1);
    let band = [s.band[0], s.band[1]];
    let (lo, hi, log) = ratio_range(&steps, band);
    let f = Frame {
        x: Axis::new(t0, t1, false, LEFT, RIGHT),
        y: Axis::new(lo, hi, log, BOTTOM, TOP),
    };
    let y_ticks = value_ticks(&f.y);
    f.grid(p, &y_ticks);
    // The interval per step as one area per run of steps that have both bounds.
    for run in steps
        .split(|q| q.2.is_none() || q.3.is_none())
        .filter(|r| !r.is_empty())
    {
        let bound = |t: f64, v: Option<f64>| (f.x.at(t), f.y.at(v.unwrap_or(f64::NAN)));
        if run.len() == 1 {
            let q = run[0];
            p.line(bound(q.0, q.3), bound(q.0, q.2), INTERVAL.mix(0.6), 3.0);
        } else {
            let upper = run.iter().map(|q| bound(q.0, q.3));
            let lower = run.iter().rev().map(|q| bound(q.0, q.2));
            p.polygon(upper.chain(lower), INTERVAL.mix(0.35));
        }
    }
    if band.iter().all(|b| !b.is_nan()) {
        p.rect(
            (f.x.from, f.y.at(band[1].max(band[0]))),
            (f.x.to, f.y.at(band[0].min(band[1]))),
            GREEN.mix(0.22),
        );
    }
    p.line(
        (f.x.from, f.y.at(1.0)),
        (f.x.to, f.y.at(1.0)),
        GREY.to_rgba(),
        1.0,
    );
    estimate_line(p, &f, &steps);
    if let Some(t) = decided {
        decision_mark(p, &f, &s.outcome, t);
    }
    f.axes(p, &time_ticks(&f.x), &y_ticks);
    let keys = [
        (
            Key::Band(GREEN.mix(0.3)),
            format!("band {}–{}", fmt_num(band[0]), fmt_num(band[1])),
        ),
        (Key::Band(INTERVAL.mix(0.5)), "interval".to_string()),
        (Key::Line(INK), "estimate".to_string()),
    ];
    let y_desc = if log {
        "canary / baseline, log scale"
    } else {
        "canary / baseline"
    };
    heading(p, title, y_desc, &keys, "time (UTC)");
}

/// A step: (time, estimate, lower bound, upper bound).
type Step = (f64, Option<f64>, Option<f64>, Option<f64>);

/// The ratio axis: its range over the steps, the band and 1, and whether it is logarithmic
/// (the values span more than ×10).
fn ratio_range(steps: &[Step], band: [f64; 2]) -> (f64, f64, bool) {
    let ratios = || {
        let bounds = steps.iter().flat_map(|q| [q.1, q.2, q.3]).flatten();
        bounds
            .chain(band)
            .chain([1.0])
            .filter(|v| v.is_finite())
            .map(|v| v.clamp(-RATIO_LIMIT, RATIO_LIMIT))
    };
    let (lo, hi) = span(ratios()).unwrap_or((1.0, 1.0));
    let positive_lo = span(ratios().filter(|v| *v >= 1.0 / RATIO_LIMIT)).map_or(1.0, |r| r.0);
    let log = hi / positive_lo > 10.0;
    let (lo, hi) = if log {
        widen(positive_lo, hi, true, 0.04)
    } else {
        let (a, b) = widen(lo.max(0.0), hi, false, 0.05);
        (if lo >= 0.0 { a.max(0.0) } else { a }, b)
    };
    (lo, hi, log)
}

/// The estimate, as a line per run of steps that have one.
fn estimate_line<DB: DrawingBackend>(p: &mut Painter<'_, DB>, f: &Frame, steps: &[Step]) {
    for run in steps
        .split(|q| q.1.is_none_or(|e| !e.is_finite()))
        .filter(|r| !r.is_empty())
    {
        let at = |q: &(f64, Option<f64>, Option<f64>, Option<f64>)| {
            (f.x.at(q.0), f.y.at(q.1.unwrap_or(f64::NAN)))
        };
        if run.len() == 1 {
            p.dot(at(&run[0]), 2.5, INK.to_rgba());
        } else {
            p.path(run.iter().map(at), INK.to_rgba(), 2.0);
        }
    }
}

/// The decision: a vertical line at `t` in its colour, labelled with the outcome.
fn decision_mark<DB: DrawingBackend>(p: &mut Painter<'_, DB>, f: &Frame, outcome: &str, t: f64) {
    let color = match outcome {
        "fail" => RED,
        "pass" => GREEN,
        _ => GREY,
    };
    let x = f.x.at(t);
    p.line((x, f.y.to), (x, f.y.from), color.to_rgba(), 2.0);
    let (x, h) = if x > RIGHT - 40.0 {
        (x - 4.0, HPos::Right)
    } else {
        (x + 4.0, HPos::Left)
    };
    p.text(
        outcome,
        (x, TOP + 3.0),
        TEXT_SIZE,
        color,
        (h, VPos::Top),
        true,
    );
}
