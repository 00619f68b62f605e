//! An execution's traffic split over time with its stages and decisions.

use super::*;

pub(super) fn execution<DB: DrawingBackend>(
    p: &mut Painter<'_, DB>,
    title: &str,
    t: &ExecutionTimeline,
) {
    let mut traffic: Vec<(f64, f64)> = t
        .traffic
        .iter()
        .filter(|q| q[0].is_finite() && !q[1].is_nan())
        .map(|q| (q[0], q[1].clamp(0.0, 100.0)))
        .collect();
    traffic.sort_by(|a, b| a.0.total_cmp(&b.0));
    let stages: Vec<_> = t.stages.iter().filter(|s| s.0.is_finite()).collect();
    let marks: Vec<_> = t.marks.iter().filter(|m| m.t.is_finite()).collect();
    let times = traffic.iter().map(|q| q.0);
    let times = times
        .chain(stages.iter().map(|s| s.0))
        .chain(marks.iter().map(|m| m.t));
    let Some((t0, t1)) = span(times) else {
        return placeholder(p, title, "no data");
    };
    let t1 = if t.end.is_finite() { t1.max(t.end) } else { t1 };
    let (t0, t1) = widen_time(t0, t1);
    let f = Frame {
        x: Axis::new(t0, t1, false, LEFT, RIGHT),
        y: Axis::new(0.0, 125.0, false, BOTTOM, TOP),
    };
    let y_ticks: Vec<(f64, String)> = [0.0, 25.0, 50.0, 75.0, 100.0]
        .into_iter()
        .map(|v| (v, format!("{v}%")))
        .collect();
    f.grid(p, &y_ticks);

    let mut taken = stage_labels(p, &f, &stages);
    let blocked = traffic_line(p, &f, &traffic);
    let kinds = decision_marks(p, &f, &marks, &traffic, &mut taken, blocked);
    f.axes(p, &time_ticks(&f.x), &y_ticks);
    let mut keys = vec![(Key::Line(CANARY), "canary traffic".to_string())];
    for kind in [
        "pass",
        "marginal",
        "inconclusive",
        "fail",
        "approved",
        "rejected",
        "rollback",
        "info",
    ] {
        if kinds.contains(&kind) {
            keys.push((Key::Dot(mark_color(kind)), kind.to_string()));
        }
    }
    heading(p, title, "canary share", &keys, "time (UTC)");
}

pub(super) fn mark_kind(kind: &str) -> &str {
    match kind {
        "pass" | "marginal" | "inconclusive" | "fail" | "approved" | "rejected" | "rollback" => {
            kind
        }
        _ => "info",
    }
}

pub(super) fn mark_color(kind: &str) -> RGBColor {
    match kind {
        "pass" => GREEN,
        "marginal" | "inconclusive" => AMBER,
        "fail" | "rejected" | "rollback" => RED,
        "approved" => BLUE,
        _ => GREY,
    }
}

pub(super) fn overlaps(a: &[f64; 4], b: &[f64; 4]) -> bool {
    a[0] < b[2] + 3.0 && b[0] < a[2] + 3.0 && a[1] < b[3] && b[1] < a[3]
}

/// Stage starts, each labelled in the first of two rows where its name fits; the label
/// rectangles taken.
fn stage_labels<DB: DrawingBackend>(
    p: &mut Painter<'_, DB>,
    f: &Frame,
    stages: &[&(f64, String)],
) -> Vec<[f64; 4]> {
    let mut taken: Vec<[f64; 4]> = Vec::new();
    for (at, name) in stages {
        let x = f.x.at(*at);
        if x > f.x.from + 1.0 {
            p.dashed_vertical(x, f.y.to, f.y.from, AXIS.to_rgba(), 1.0);
        }
        let name = p.fit(name, NOTE_SIZE, 160.0);
        let w = p.text_width(&name, NOTE_SIZE);
        let (x0, h, left) = if x + 3.0 + w <= RIGHT {
            (x + 3.0, HPos::Left, x + 3.0)
        } else {
            (x - 3.0, HPos::Right, x - 3.0 - w)
        };
        for row in 0..2 {
            let y = TOP + 2.0 + 12.0 * f64::from(row);
            let rect = [left, y, left + w, y + 11.0];
            if !taken.iter().any(|r| overlaps(r, &rect)) {
                taken.push(rect);
                p.text(&name, (x0, y), NOTE_SIZE, MUTED, (h, VPos::Top), false);
                break;
            }
        }
    }

    taken
}

/// The traffic line as steps; its segments, which labels must not cover.
fn traffic_line<DB: DrawingBackend>(
    p: &mut Painter<'_, DB>,
    f: &Frame,
    traffic: &[(f64, f64)],
) -> Vec<[f64; 4]> {
    let mut blocked: Vec<[f64; 4]> = Vec::new();
    if let Some(&(first_t, first_pct)) = traffic.first() {
        let mut points = vec![(f.x.at(first_t), f.y.at(first_pct))];
        for w in traffic.windows(2) {
            points.push((f.x.at(w[1].0), f.y.at(w[0].1)));
            points.push((f.x.at(w[1].0), f.y.at(w[1].1)));
        }
        let last = traffic[traffic.len() - 1].1;
        points.push((f.x.to, f.y.at(last)));
        for w in points.windows(2) {
            let (a, b) = (w[0], w[1]);
            blocked.push([
                a.0.min(b.0),
                a.1.min(b.1) - 1.0,
                a.0.max(b.0),
                a.1.max(b.1) + 1.0,
            ]);
        }
        p.path(points, CANARY.to_rgba(), 2.0);
    }

    blocked
}

/// Decisions on the traffic line, each labelled where its label covers no line, marker or
/// other label (without room, unlabelled); the kinds shown, for the key.
fn decision_marks<'m, DB: DrawingBackend>(
    p: &mut Painter<'_, DB>,
    f: &Frame,
    marks: &[&'m TimelineMark],
    traffic: &[(f64, f64)],
    taken: &mut Vec<[f64; 4]>,
    mut blocked: Vec<[f64; 4]>,
) -> Vec<&'m str> {
    let share_at = |at: f64| {
        let i = traffic.partition_point(|q| q.0 <= at);
        if i == 0 { 0.0 } else { traffic[i - 1].1 }
    };
    let dots: Vec<(f64, f64)> = marks
        .iter()
        .map(|m| (f.x.at(m.t), f.y.at(share_at(m.t))))
        .collect();
    blocked.extend(
        dots.iter()
            .map(|(x, y)| [x - 4.0, y - 4.0, x + 4.0, y + 4.0]),
    );
    let mut kinds: Vec<&str> = Vec::new();
    for (m, &(x, y)) in marks.iter().zip(&dots) {
        let color = mark_color(&m.kind);
        let kind = mark_kind(&m.kind);
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
        p.dot((x, y), 4.0, color.to_rgba());
        let label = p.fit(&m.label, NOTE_SIZE, 160.0);
        let w = p.text_width(&label, NOTE_SIZE);
        let lefts = [x - w / 2.0, x - w - 3.0, x + 3.0];
        let tops = [y - 18.0, y + 6.0, y - 30.0, y + 18.0];
        let mut place = tops
            .iter()
            .flat_map(|top| lefts.map(|left| [left, *top, left + w, top + 11.0]));
        let free = |r: &[f64; 4]| {
            r[0] >= LEFT + 2.0
                && r[2] <= RIGHT
                && r[1] >= TOP
                && r[3] <= BOTTOM
                && !taken.iter().chain(&blocked).any(|o| overlaps(o, r))
        };
        if let Some(rect) = place.find(free) {
            taken.push(rect);
            let text_color = if color == AMBER { ESTIMATE } else { color };
            let at = (rect[0], rect[1]);
            p.text(
                &label,
                at,
                NOTE_SIZE,
                text_color,
                (HPos::Left, VPos::Top),
                false,
            );
        }
    }
    kinds
}
