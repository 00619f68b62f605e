//! Charts of the data in [`crate::analysis::detail`] and [`crate::pipeline::timeline`], drawn
//! with plotters: SVG to inline in HTML pages, PNG for files (`canaryd analyze --charts DIR`).
//!
//! Four charts: a pair's two distributions with the judge's estimate, the pair over time, a
//! sequential judge's confidence sequence, and an execution's traffic split with its stages
//! and decisions. One painter draws every chart on any plotters backend. Axes, ticks and
//! legends are laid out here rather than by plotters' `ChartBuilder`, so that an SVG stays a
//! few kilobytes (integer coordinates, a handful of ticks, no two path points on one pixel),
//! is the same bytes for the same input, and renders in well under a millisecond. The SVGs
//! have no XML declaration and no ids, so any number of them can share a page; the full
//! title is in the root's `aria-label`.

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

use plotters::backend::{BitMapBackend, DrawingBackend, SVGBackend};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{
    Color, FontDesc, FontFamily, FontStyle, RGBAColor, RGBColor, ShapeStyle, TextStyle,
};

use crate::analysis::detail::{ArmDistribution, PairDetail, SequenceTrace, SeriesPoint};
use crate::pipeline::timeline::ExecutionTimeline;

/// Width of a chart in CSS pixels (SVG); PNGs are [`PNG_SCALE`] times larger.
pub const WIDTH: u32 = 560;
/// Height of a chart in CSS pixels (SVG); PNGs are [`PNG_SCALE`] times larger.
pub const HEIGHT: u32 = 240;
/// PNG pixels per SVG pixel, so that files stay sharp on high-density screens.
pub const PNG_SCALE: u32 = 2;

/// The two output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartFormat {
    Svg,
    Png,
}

impl ChartFormat {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            ChartFormat::Svg => "svg",
            ChartFormat::Png => "png",
        }
    }
}

/// How to mark a judge's estimate and interval on the distribution chart. Both are placed
/// relative to the baseline's median; the default marks nothing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EstimateMarks {
    pub estimate: Option<f64>,
    pub ci: Option<[f64; 2]>,
    pub scale: MarkScale,
    /// The judged quantity on the value axis, `[baseline, canary]` (a threshold judge's
    /// p99 or rate, a Mann–Whitney judge's means), drawn as vertical lines in the arms'
    /// colours; `quantity` names it in the legend.
    pub judged: [Option<f64>; 2],
    pub quantity: Option<String>,
    /// The bound the canary's quantity was held against, on the value axis (an absolute
    /// `max`, or a relative bound times the baseline's value), drawn in red.
    pub bound: Option<f64>,
    /// The bound's legend entry, saying how it was placed (`bound 600.6 = 1.25 × baseline
    /// 480.5`); `bound <value>` when absent.
    pub bound_label: Option<String>,
}

/// What the numbers of [`EstimateMarks`] are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MarkScale {
    /// canary − baseline in value units (`mann_whitney`, threshold differences).
    #[default]
    Shift,
    /// canary / baseline (`sequential`, mean ratios).
    Ratio,
}

/// One chart and its data.
#[derive(Debug, Clone, Copy)]
pub enum Chart<'a> {
    /// Both arms' empirical CDFs, with the judge's estimate and interval.
    Distribution(&'a PairDetail, &'a EstimateMarks),
    /// Both arms over time.
    Series(&'a PairDetail),
    /// The confidence sequence; "no data" when the pair has none.
    Sequence(&'a PairDetail),
    /// Traffic split, stages and decisions of an execution.
    Execution(&'a ExecutionTimeline),
}

/// The distribution chart as an SVG element.
pub fn distribution_svg(d: &PairDetail, marks: &EstimateMarks) -> String {
    svg(Chart::Distribution(d, marks))
}

/// The time-series chart as an SVG element.
pub fn series_svg(d: &PairDetail) -> String {
    svg(Chart::Series(d))
}

/// The confidence-sequence chart as an SVG element; `None` without a sequence.
pub fn sequence_svg(d: &PairDetail) -> Option<String> {
    d.sequence.as_ref().map(|_| svg(Chart::Sequence(d)))
}

/// The execution-timeline chart as an SVG element.
pub fn execution_svg(t: &ExecutionTimeline) -> String {
    svg(Chart::Execution(t))
}

/// Any chart as an SVG element of [`WIDTH`] × [`HEIGHT`]: no XML declaration, no ids.
pub fn svg(chart: Chart<'_>) -> String {
    register_fonts();
    let mut out = String::with_capacity(8 * 1024);
    {
        let mut backend = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT));
        // Writing into a String cannot fail, and the SVG backend leaves glyphs to the
        // browser: without fonts, only the measured text widths become estimates.
        let _ = draw(chart, &mut backend, 1.0);
        let _ = backend.present();
    }
    if out.starts_with("<?xml")
        && let Some(i) = out.find("<svg")
    {
        out.drain(..i);
    }
    if out.starts_with("<svg ") {
        let mut attrs = String::from("role=\"img\" aria-label=\"");
        escape_into(&mut attrs, &title(chart));
        attrs.push_str("\" ");
        out.insert_str("<svg ".len(), &attrs);
    }
    out
}

/// Write `chart` as a PNG of [`WIDTH`] × [`HEIGHT`] × [`PNG_SCALE`] to `path` (whatever its
/// extension), atomically: drawn into a temporary file beside it, then renamed.
pub fn write_png(chart: Chart<'_>, path: &Path) -> Result<(), String> {
    register_fonts();
    let tmp = temporary_png(path);
    let drawn = (|| {
        let size = (WIDTH * PNG_SCALE, HEIGHT * PNG_SCALE);
        let mut backend = BitMapBackend::new(&tmp, size);
        draw(chart, &mut backend, f64::from(PNG_SCALE))?;
        backend.present().map_err(|e| e.to_string())
    })();
    let written = drawn.and_then(|()| std::fs::rename(&tmp, path).map_err(|e| e.to_string()));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write chart {}: {e}", path.display())
    })
}

/// Write `chart` to `path` in `format`.
pub fn write(chart: Chart<'_>, format: ChartFormat, path: &Path) -> Result<(), String> {
    match format {
        ChartFormat::Png => write_png(chart, path),
        ChartFormat::Svg => std::fs::write(path, svg(chart))
            .map_err(|e| format!("cannot write chart {}: {e}", path.display())),
    }
}

/// `.NAME.PID-N.png` beside `path`: the bitmap backend picks its encoder by the extension.
fn temporary_png(path: &Path) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let n = N.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{}-{n}.png", std::process::id()))
}

/// Text is measured (both formats) and drawn (PNG) with DejaVu Sans as "sans-serif".
fn register_fonts() {
    static FONTS: Once = Once::new();
    FONTS.call_once(|| {
        // DejaVu Sans is a valid TrueType font; if it were not, text widths fall back to
        // estimates and PNGs report the font error.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

fn title(chart: Chart<'_>) -> String {
    match chart {
        Chart::Distribution(d, _) => format!("{} — distribution", d.name),
        Chart::Series(d) => format!("{} — over time", d.name),
        Chart::Sequence(d) => format!("{} — confidence sequence", d.name),
        Chart::Execution(_) => "Canary traffic, stages and decisions".to_string(),
    }
}

fn draw<DB: DrawingBackend>(chart: Chart<'_>, db: &mut DB, k: f64) -> Result<(), String> {
    let mut p = Painter {
        db,
        k,
        buf: Vec::new(),
        error: None,
    };
    p.rect((0.0, 0.0), (W, H), WHITE.to_rgba());
    let title = title(chart);
    match chart {
        Chart::Distribution(d, marks) => distribution(&mut p, &title, d, marks),
        Chart::Series(d) => series(&mut p, &title, d),
        Chart::Sequence(d) => match &d.sequence {
            Some(s) => sequence(&mut p, &title, s),
            None => placeholder(&mut p, &title, "no confidence sequence"),
        },
        Chart::Execution(t) => execution(&mut p, &title, t),
    }
    match p.error {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

// ---- Layout, in CSS pixels. ----

const W: f64 = WIDTH as f64;
const H: f64 = HEIGHT as f64;
const PAD: f64 = 8.0;
const LEFT: f64 = 50.0;
const RIGHT: f64 = W - 14.0;
const TOP: f64 = 44.0;
const BOTTOM: f64 = H - 36.0;
const LEGEND_Y: f64 = 31.0;
/// The legend's second row, at the bottom left (below the x axis' tick labels).
const BOTTOM_LEGEND_Y: f64 = H - 9.0;
const TITLE_SIZE: f64 = 12.5;
const TEXT_SIZE: f64 = 10.5;
const TICK_SIZE: f64 = 10.0;
const NOTE_SIZE: f64 = 9.5;
/// Time series draw a dot per point only up to this many points per arm (each dot is an SVG
/// element); isolated points always get one.
const DOTS_UP_TO: usize = 24;
/// Ratios beyond this factor either way are clipped on the sequence chart.
const RATIO_LIMIT: f64 = 1e3;

const WHITE: RGBColor = RGBColor(0xff, 0xff, 0xff);
const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
const MUTED: RGBColor = RGBColor(0x66, 0x66, 0x66);
const AXIS: RGBColor = RGBColor(0x99, 0x99, 0x99);
const GRID: RGBColor = RGBColor(0xe8, 0xe8, 0xe8);
const BASELINE: RGBColor = RGBColor(0x5b, 0x70, 0x83);
const CANARY: RGBColor = RGBColor(0xe8, 0x71, 0x0a);
const ESTIMATE: RGBColor = RGBColor(0xa8, 0x4a, 0x00);
const INTERVAL: RGBColor = RGBColor(0x6f, 0x86, 0xa6);
const GREEN: RGBColor = RGBColor(0x2e, 0x7d, 0x32);
const AMBER: RGBColor = RGBColor(0xc7, 0x8a, 0x00);
const RED: RGBColor = RGBColor(0xc6, 0x28, 0x28);
const BLUE: RGBColor = RGBColor(0x15, 0x65, 0xc0);
const GREY: RGBColor = RGBColor(0x75, 0x75, 0x75);

// ---- Charts. ----

fn distribution<DB: DrawingBackend>(
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

fn series<DB: DrawingBackend>(p: &mut Painter<'_, DB>, title: &str, d: &PairDetail) {
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
fn with_unit(label: &str, d: &PairDetail) -> String {
    match d.unit.as_deref().filter(|u| !u.is_empty()) {
        Some(u) => format!("{label} ({u})"),
        None => label.to_string(),
    }
}

fn sequence<DB: DrawingBackend>(p: &mut Painter<'_, DB>, title: &str, s: &SequenceTrace) {
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
    if let Some(t) = decided {
        let color = match s.outcome.as_str() {
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
            &s.outcome,
            (x, TOP + 3.0),
            TEXT_SIZE,
            color,
            (h, VPos::Top),
            true,
        );
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

fn execution<DB: DrawingBackend>(p: &mut Painter<'_, DB>, title: &str, t: &ExecutionTimeline) {
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

    // Stage starts, each labelled in the first of two rows where its name fits.
    let mut taken: Vec<[f64; 4]> = Vec::new();
    for (at, name) in &stages {
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

    // The traffic line, as segments that labels must not cover.
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

    // Decisions on the traffic line, each labelled where its label covers no line, marker
    // or other label; without room, unlabelled.
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

fn mark_kind(kind: &str) -> &str {
    match kind {
        "pass" | "marginal" | "inconclusive" | "fail" | "approved" | "rejected" | "rollback" => {
            kind
        }
        _ => "info",
    }
}

fn mark_color(kind: &str) -> RGBColor {
    match kind {
        "pass" => GREEN,
        "marginal" | "inconclusive" => AMBER,
        "fail" | "rejected" | "rollback" => RED,
        "approved" => BLUE,
        _ => GREY,
    }
}

fn overlaps(a: &[f64; 4], b: &[f64; 4]) -> bool {
    a[0] < b[2] + 3.0 && b[0] < a[2] + 3.0 && a[1] < b[3] && b[1] < a[3]
}

/// A chart without data: its title, an empty frame and `message`.
fn placeholder<DB: DrawingBackend>(p: &mut Painter<'_, DB>, title: &str, message: &str) {
    let frame = AXIS.mix(0.6);
    p.line((LEFT, TOP), (LEFT, BOTTOM), frame, 1.0);
    p.line((LEFT, BOTTOM), (RIGHT, BOTTOM), frame, 1.0);
    let center = ((LEFT + RIGHT) / 2.0, (TOP + BOTTOM) / 2.0);
    p.text(
        message,
        center,
        12.0,
        MUTED,
        (HPos::Center, VPos::Center),
        false,
    );
    heading(p, title, "", &[], "");
}

/// Title, legend (right-aligned under the title), y-axis and x-axis descriptions.
fn heading<DB: DrawingBackend>(
    p: &mut Painter<'_, DB>,
    title: &str,
    y_desc: &str,
    keys: &[(Key, String)],
    x_desc: &str,
) {
    let title = p.fit(title, TITLE_SIZE, W - 2.0 * PAD);
    p.text(
        &title,
        (PAD, 6.0),
        TITLE_SIZE,
        INK,
        (HPos::Left, VPos::Top),
        true,
    );
    // The legend: one row under the title, right-aligned beside the y axis' label; what
    // does not fit there goes to a second row at the bottom left, beside the x axis' label.
    // Nothing is clipped: a label is shortened only if it alone is wider than its row.
    let widths: Vec<f64> = keys
        .iter()
        .map(|(_, s)| p.text_width(s, TEXT_SIZE))
        .collect();
    let entry = |w: f64| 20.0 + w + 12.0;
    let y_desc_width = if y_desc.is_empty() {
        0.0
    } else {
        p.text_width(y_desc, NOTE_SIZE) + 12.0
    };
    let top_room = RIGHT - PAD - y_desc_width;
    let mut split = keys.len();
    let mut used = 0.0;
    for (i, w) in widths.iter().enumerate() {
        if used + entry(*w) - 12.0 > top_room {
            split = i;
            break;
        }
        used += entry(*w);
    }
    // At least one entry stays on top.
    let split = split.max(keys.len().min(1));
    let top_total: f64 = widths[..split].iter().map(|w| entry(*w)).sum::<f64>() - 12.0;
    if !y_desc.is_empty() {
        p.text(
            y_desc,
            (PAD, LEGEND_Y),
            NOTE_SIZE,
            MUTED,
            (HPos::Left, VPos::Center),
            false,
        );
    }
    let mut x = (RIGHT - top_total).max(PAD + y_desc_width);
    for ((key, label), w) in keys[..split].iter().zip(&widths) {
        let room = RIGHT - x - 20.0;
        let label = p.fit(label, TEXT_SIZE, room);
        key.draw(p, x, LEGEND_Y);
        p.text(
            &label,
            (x + 20.0, LEGEND_Y),
            TEXT_SIZE,
            INK,
            (HPos::Left, VPos::Center),
            false,
        );
        x += entry(*w);
    }
    let x_desc_width = if x_desc.is_empty() {
        0.0
    } else {
        p.text_width(x_desc, NOTE_SIZE) + 16.0
    };
    let mut x = PAD;
    for ((key, label), w) in keys[split..].iter().zip(&widths[split..]) {
        let room = RIGHT - x_desc_width - x - 20.0;
        if room < 40.0 {
            break;
        }
        let label = p.fit(label, TEXT_SIZE, room);
        key.draw(p, x, BOTTOM_LEGEND_Y);
        p.text(
            &label,
            (x + 20.0, BOTTOM_LEGEND_Y),
            TEXT_SIZE,
            INK,
            (HPos::Left, VPos::Center),
            false,
        );
        x += entry(w.min(room));
    }
    if !x_desc.is_empty() {
        let at = (RIGHT, H - 4.0);
        p.text(
            x_desc,
            at,
            NOTE_SIZE,
            MUTED,
            (HPos::Right, VPos::Bottom),
            false,
        );
    }
}

/// A legend swatch, 16 px wide.
enum Key {
    Line(RGBColor),
    Band(RGBAColor),
    Dot(RGBColor),
    /// The estimate's band and dashed line.
    Estimate,
}

impl Key {
    fn draw<DB: DrawingBackend>(&self, p: &mut Painter<'_, DB>, x: f64, y: f64) {
        match self {
            Key::Line(c) => p.line((x, y), (x + 16.0, y), c.to_rgba(), 2.0),
            Key::Band(c) => p.rect((x + 1.0, y - 5.0), (x + 15.0, y + 5.0), *c),
            Key::Dot(c) => p.dot((x + 8.0, y), 4.0, c.to_rgba()),
            Key::Estimate => {
                p.rect((x + 2.0, y - 6.0), (x + 14.0, y + 6.0), CANARY.mix(0.16));
                p.dashed_vertical(x + 8.0, y - 6.0, y + 6.0, ESTIMATE.to_rgba(), 1.0);
            }
        }
    }
}

// ---- Data helpers. ----

/// The finite points of an ECDF, F clamped to [0, 1].
fn clean_ecdf(arm: &ArmDistribution) -> Vec<[f64; 2]> {
    arm.ecdf
        .iter()
        .filter(|q| q[0].is_finite() && !q[1].is_nan())
        .map(|q| [q[0], q[1].clamp(0.0, 1.0)])
        .collect()
}

/// An ECDF as a step line from the left edge at 0 to the right edge at its last level.
fn ecdf_steps(points: &[[f64; 2]], f: &Frame) -> Vec<(f64, f64)> {
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
fn place_marks(m: &EstimateMarks, anchor: f64) -> (Option<f64>, Option<(f64, f64)>) {
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
fn caption(m: &EstimateMarks) -> Option<String> {
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

/// The smallest and largest finite value.
fn span(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// Pad `[lo, hi]` by `share` of its span on each side (in log space on a log axis); give an
/// empty range a width.
fn widen(lo: f64, hi: f64, log: bool, share: f64) -> (f64, f64) {
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
fn widen_time(t0: f64, t1: f64) -> (f64, f64) {
    if t1 - t0 < 1.0 {
        (t0 - 30.0, t1 + 30.0)
    } else {
        (t0, t1)
    }
}

/// Stretch `[lo, hi]` to show the marks, by at most half its span on each side; farther
/// marks are clipped at the edges.
fn include_marks(lo: f64, hi: f64, log: bool, marks: impl Iterator<Item = f64>) -> (f64, f64) {
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
fn fmt_num(v: f64) -> String {
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

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

fn fmt_count(n: f64) -> String {
    if n.is_finite() && n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        fmt_num(n)
    }
}

/// HH:MM:SS in UTC, or the date for ticks a day or more apart.
fn fmt_time(t: f64, step: f64) -> String {
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
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    from: f64,
    to: f64,
}

impl Axis {
    fn new(lo: f64, hi: f64, log: bool, from: f64, to: f64) -> Axis {
        Axis {
            lo,
            hi,
            log: log && lo > 0.0,
            from,
            to,
        }
    }

    fn at(&self, v: f64) -> f64 {
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

    fn contains(&self, v: f64) -> bool {
        v >= self.lo && v <= self.hi
    }
}

/// At most six "nice" ticks (1, 2, 2.5 or 5 × 10ᵏ apart; decades on a log axis).
fn value_ticks(axis: &Axis) -> Vec<(f64, String)> {
    let (lo, hi) = (axis.lo, axis.hi);
    let ticks = if axis.log {
        log_ticks(lo, hi, 6)
    } else {
        linear_ticks(lo, hi, 6)
    };
    ticks.into_iter().map(|v| (v, fmt_num(v))).collect()
}

fn linear_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
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

fn log_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
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
fn time_ticks(axis: &Axis) -> Vec<(f64, String)> {
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
struct Frame {
    x: Axis,
    y: Axis,
}

impl Frame {
    /// Horizontal grid lines at the y ticks.
    fn grid<DB: DrawingBackend>(&self, p: &mut Painter<'_, DB>, y_ticks: &[(f64, String)]) {
        for (v, _) in y_ticks {
            let y = self.y.at(*v);
            p.line((self.x.from, y), (self.x.to, y), GRID.to_rgba(), 1.0);
        }
    }

    /// Both axes with their tick labels.
    fn axes<DB: DrawingBackend>(
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

/// Draws in CSS pixels on a backend with `k` device pixels per CSS pixel, remembering the
/// first backend error.
struct Painter<'a, DB: DrawingBackend> {
    db: &'a mut DB,
    k: f64,
    buf: Vec<(i32, i32)>,
    error: Option<String>,
}

impl<DB: DrawingBackend> Painter<'_, DB> {
    fn px(&self, (x, y): (f64, f64)) -> (i32, i32) {
        ((x * self.k).round() as i32, (y * self.k).round() as i32)
    }

    fn stroke(&self, color: RGBAColor, width: f64) -> ShapeStyle {
        ShapeStyle {
            color,
            filled: false,
            stroke_width: (width * self.k).round().max(1.0) as u32,
        }
    }

    fn record<E: std::fmt::Display>(&mut self, result: Result<(), E>) {
        if let Err(e) = result {
            self.error.get_or_insert_with(|| e.to_string());
        }
    }

    fn line(&mut self, a: (f64, f64), b: (f64, f64), color: RGBAColor, width: f64) {
        let style = self.stroke(color, width);
        let r = self.db.draw_line(self.px(a), self.px(b), &style);
        self.record(r);
    }

    /// A vertical dashed line, 6 px on and 4 px off (an SVG element per dash).
    fn dashed_vertical(&mut self, x: f64, y0: f64, y1: f64, color: RGBAColor, width: f64) {
        let (top, bottom) = (y0.min(y1), y0.max(y1));
        let mut y = top;
        while y < bottom {
            self.line((x, y), (x, (y + 6.0).min(bottom)), color, width);
            y += 10.0;
        }
    }

    fn rect(&mut self, a: (f64, f64), b: (f64, f64), color: RGBAColor) {
        let (a, b) = (self.px(a), self.px(b));
        let upper_left = (a.0.min(b.0), a.1.min(b.1));
        let lower_right = (a.0.max(b.0), a.1.max(b.1));
        let r = self
            .db
            .draw_rect(upper_left, lower_right, &color.filled(), true);
        self.record(r);
    }

    fn dot(&mut self, at: (f64, f64), radius: f64, color: RGBAColor) {
        let radius = (radius * self.k).round() as u32;
        let r = self
            .db
            .draw_circle(self.px(at), radius, &color.filled(), true);
        self.record(r);
    }

    /// A polyline through `points`, without repeated pixels or inner points of straight
    /// horizontal and vertical runs.
    fn path(&mut self, points: impl IntoIterator<Item = (f64, f64)>, color: RGBAColor, width: f64) {
        let style = self.stroke(color, width);
        let mut buf = std::mem::take(&mut self.buf);
        self.snap(points, &mut buf);
        if buf.len() > 1 {
            let r = self.db.draw_path(buf.iter().copied(), &style);
            self.record(r);
        }
        self.buf = buf;
    }

    fn polygon(&mut self, points: impl IntoIterator<Item = (f64, f64)>, color: RGBAColor) {
        let mut buf = std::mem::take(&mut self.buf);
        self.snap(points, &mut buf);
        if buf.len() > 2 {
            let r = self.db.fill_polygon(buf.iter().copied(), &color.filled());
            self.record(r);
        }
        self.buf = buf;
    }

    fn snap(&self, points: impl IntoIterator<Item = (f64, f64)>, out: &mut Vec<(i32, i32)>) {
        out.clear();
        for q in points {
            let q = self.px(q);
            let n = out.len();
            if n > 0 && out[n - 1] == q {
                continue;
            }
            if n > 1 {
                let (a, b) = (out[n - 2], out[n - 1]);
                let between = |a: i32, b: i32, c: i32| a.min(c) <= b && b <= a.max(c);
                if (a.0 == b.0 && b.0 == q.0 && between(a.1, b.1, q.1))
                    || (a.1 == b.1 && b.1 == q.1 && between(a.0, b.0, q.0))
                {
                    out[n - 1] = q;
                    continue;
                }
            }
            out.push(q);
        }
    }

    fn text_style(&self, size: f64, color: RGBColor, pos: Pos, bold: bool) -> TextStyle<'static> {
        let style = if bold {
            FontStyle::Bold
        } else {
            FontStyle::Normal
        };
        TextStyle {
            // plotters writes an SVG font-size of size / 1.24.
            font: FontDesc::new(FontFamily::SansSerif, size * 1.24 * self.k, style),
            color: color.to_backend_color(),
            pos,
        }
    }

    fn text(
        &mut self,
        text: &str,
        at: (f64, f64),
        size: f64,
        color: RGBColor,
        (h, v): (HPos, VPos),
        bold: bool,
    ) {
        let style = self.text_style(size, color, Pos::new(h, v), bold);
        let r = self.db.draw_text(text, &style, self.px(at));
        self.record(r);
    }

    /// Width in CSS pixels, measured with DejaVu Sans (wider than most sans-serif fonts).
    fn text_width(&self, text: &str, size: f64) -> f64 {
        let style = self.text_style(size, INK, Pos::default(), false);
        match style.font.box_size(text) {
            Ok((w, _)) => f64::from(w) / self.k,
            Err(_) => text.chars().count() as f64 * size * 0.62,
        }
    }

    /// `text`, shortened with "…" to fit `width`.
    fn fit(&self, text: &str, size: f64, width: f64) -> String {
        let full = self.text_width(text, size);
        if full <= width {
            return text.to_string();
        }
        let chars: Vec<char> = text.chars().collect();
        let mut keep = ((chars.len() as f64 * width / full) as usize).min(chars.len());
        loop {
            let s: String = chars[..keep].iter().chain(['…'].iter()).collect();
            if keep == 0 || self.text_width(&s, size) <= width {
                return s;
            }
            keep -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use canary_judges::Sample;

    use super::*;
    use crate::analysis::detail::{SequenceStep, distribution as ecdf};
    use crate::pipeline::timeline::TimelineMark;

    const T0: f64 = 1_700_000_000.0;

    /// `n` evenly spaced quantiles of a log-logistic distribution with median `center`.
    fn latencies(n: usize, center: f64) -> Vec<f64> {
        (0..n)
            .map(|i| {
                let u = (i as f64 + 0.5) / n as f64;
                center * (0.25 * (u / (1.0 - u)).ln()).exp()
            })
            .collect()
    }

    fn pair() -> PairDetail {
        PairDetail {
            unit: None,
            name: "latency{api=\"/checkout\"}".to_string(),
            kind: "value".to_string(),
            baseline: ecdf(&Sample::Values(latencies(500, 100.0))),
            canary: ecdf(&Sample::Values(latencies(480, 112.0))),
            series: (0..200)
                .map(|i| {
                    let x = i as f64;
                    SeriesPoint {
                        t: T0 + 15.0 * x,
                        baseline: Some(100.0 + 5.0 * (x / 9.0).sin()),
                        canary: Some(112.0 + 6.0 * (x / 7.0).cos()),
                    }
                })
                .collect(),
            sequence: Some(trace()),
        }
    }

    fn trace() -> SequenceTrace {
        let steps = (1..=200)
            .map(|i| {
                let x = i as f64;
                let estimate = 1.0 + 0.12 * (1.0 - (-x / 30.0).exp());
                let width = 1.0 + 3.0 / x.sqrt();
                SequenceStep {
                    t: T0 + 15.0 * x,
                    estimate: Some(estimate),
                    lower: Some(estimate / width),
                    upper: Some(if i < 5 {
                        f64::INFINITY
                    } else {
                        estimate * width
                    }),
                }
            })
            .collect();
        SequenceTrace {
            band: [1.0 / 1.05, 1.05],
            steps,
            decided_at: Some(T0 + 15.0 * 150.0),
            outcome: "fail".to_string(),
        }
    }

    fn timeline() -> ExecutionTimeline {
        let mark = |t: f64, kind: &str, label: &str| TimelineMark {
            t: T0 + t,
            kind: kind.to_string(),
            label: label.to_string(),
        };
        ExecutionTimeline {
            traffic: vec![
                [T0, 5.0],
                [T0 + 600.0, 25.0],
                [T0 + 1200.0, 50.0],
                [T0 + 1800.0, 100.0],
            ],
            stages: vec![
                (T0, "canary 5%".to_string()),
                (T0 + 600.0, "canary 25%".to_string()),
                (T0 + 1200.0, "canary 50%".to_string()),
                (T0 + 1800.0, "promote".to_string()),
            ],
            marks: vec![
                mark(590.0, "pass", "score 96"),
                mark(1190.0, "marginal", "score 81"),
                mark(1500.0, "approved", "approved by alice"),
                mark(1790.0, "pass", "score 100"),
                mark(2300.0, "info", "done"),
            ],
            end: T0 + 2400.0,
        }
    }

    fn marks() -> EstimateMarks {
        EstimateMarks {
            estimate: Some(12.3),
            ci: Some([8.1, 16.0]),
            scale: MarkScale::Shift,
            ..EstimateMarks::default()
        }
    }

    fn count(svg: &str, tag: &str) -> usize {
        svg.matches(&format!("<{tag} ")).count()
    }

    /// Inlinable, titled, small, and the same bytes every time.
    fn check(chart: Chart<'_>, max_bytes: usize) -> String {
        let svg = svg(chart);
        assert!(
            svg.starts_with("<svg role=\"img\" aria-label=\""),
            "{}",
            &svg[..80]
        );
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(!svg.contains("<?xml") && !svg.contains(" id="));
        let title = escaped(&title(chart));
        assert!(svg.contains(&format!("aria-label=\"{title}\"")));
        assert!(svg.contains(&format!(">\n{title}\n<")) || svg.contains('…'));
        assert!(svg.len() <= max_bytes, "{} bytes", svg.len());
        assert_eq!(svg, super::svg(chart), "not deterministic");
        svg
    }

    fn svg_of(chart: Chart<'_>) -> String {
        check(chart, 12 * 1024)
    }

    fn escaped(s: &str) -> String {
        let mut out = String::new();
        escape_into(&mut out, s);
        out
    }

    #[test]
    fn distribution_shows_both_arms_and_the_estimate() {
        let d = pair();
        let svg = check(Chart::Distribution(&d, &marks()), 12 * 1024);
        assert!(svg.contains("latency{api=&quot;/checkout&quot;} — distribution"));
        assert!(svg.contains("baseline (n=500)") && svg.contains("canary (n=480)"));
        assert!(svg.contains("estimate +12.3 [+8.1, +16]"));
        assert_eq!(count(&svg, "polyline"), 2);
        assert!(svg.contains("share ≤ x"));

        let ratio = EstimateMarks {
            estimate: Some(1.12),
            ci: Some([1.05, f64::INFINITY]),
            scale: MarkScale::Ratio,
            ..EstimateMarks::default()
        };
        let svg = check(Chart::Distribution(&d, &ratio), 12 * 1024);
        assert!(svg.contains("estimate ×1.12 [1.05, ∞]"));
        // A threshold judge's judged p99s and the bound it held the canary against.
        let judged = EstimateMarks {
            judged: [Some(5.0), Some(8.0)],
            quantity: Some("p99".into()),
            bound: Some(6.25),
            ..EstimateMarks::default()
        };
        let svg = check(Chart::Distribution(&d, &judged), 12 * 1024);
        assert!(svg.contains("judged p99: 5 → 8"), "{svg}");
        assert!(svg.contains("bound 6.25"), "{svg}");
        let none = check(
            Chart::Distribution(&d, &EstimateMarks::default()),
            12 * 1024,
        );
        assert!(!none.contains("estimate"));
    }

    #[test]
    fn series_draws_both_arms_and_breaks_lines_at_gaps() {
        let mut d = pair();
        let svg = check(Chart::Series(&d), 12 * 1024);
        assert!(svg.contains("— over time") && svg.contains(">\nbaseline\n<"));
        assert_eq!(count(&svg, "polyline"), 2);
        assert_eq!(count(&svg, "circle"), 0, "200 points: lines only");
        assert!(svg.contains("time (UTC)"));
        d.series[50].canary = None;
        d.series[51].canary = Some(f64::NAN);
        d.series[100].baseline = None;
        d.series[102].baseline = None;
        let svg = check(Chart::Series(&d), 12 * 1024);
        assert_eq!(count(&svg, "polyline"), 4);
        assert_eq!(count(&svg, "circle"), 1, "the isolated baseline point");
        d.series.truncate(10);
        assert_eq!(count(&check(Chart::Series(&d), 12 * 1024), "circle"), 20);
    }

    #[test]
    fn sequence_shows_band_interval_estimate_and_decision() {
        let d = pair();
        let svg = sequence_svg(&d).expect("a sequence");
        check(Chart::Sequence(&d), 12 * 1024);
        assert!(svg.contains("— confidence sequence") && svg.contains("band 0.952–1.05"));
        assert!(svg.contains(">\ninterval\n<") && svg.contains(">\nestimate\n<"));
        assert!(svg.contains(">\nfail\n<") && svg.contains("#C62828"));
        assert_eq!(count(&svg, "polyline"), 1);
        assert_eq!(count(&svg, "polygon"), 1);
        assert!(!svg.contains("log scale"));
        let mut wide = pair();
        if let Some(s) = &mut wide.sequence {
            s.steps[0].lower = Some(0.01);
        }
        assert!(svg_of(Chart::Sequence(&wide)).contains("log scale"));
        let without = PairDetail {
            sequence: None,
            ..pair()
        };
        assert_eq!(sequence_svg(&without), None);
        assert!(svg_of(Chart::Sequence(&without)).contains("no confidence sequence"));
    }

    #[test]
    fn execution_shows_traffic_stages_and_decisions() {
        let t = timeline();
        let svg = check(Chart::Execution(&t), 12 * 1024);
        assert_eq!(svg, execution_svg(&t));
        for text in [
            "canary 5%",
            "canary 50%",
            "promote",
            "score 96",
            "approved by alice",
        ] {
            assert!(svg.contains(text), "{text}");
        }
        assert!(svg.contains(">\ncanary traffic\n<") && svg.contains(">\nmarginal\n<"));
        assert!(
            !svg.contains(">\nfail\n<"),
            "only kinds present are in the legend"
        );
        assert_eq!(count(&svg, "polyline"), 1);
        assert_eq!(count(&svg, "circle"), 5 + 4);
        assert!(svg.contains(">\n100%\n<"));
    }

    #[test]
    fn empty_data_says_so() {
        let empty = PairDetail {
            unit: None,
            name: "errors".to_string(),
            kind: "rate".to_string(),
            baseline: ArmDistribution::default(),
            canary: ArmDistribution::default(),
            series: Vec::new(),
            sequence: Some(SequenceTrace {
                band: [0.95, 1.05],
                steps: Vec::new(),
                decided_at: None,
                outcome: "continue".to_string(),
            }),
        };
        for chart in [
            Chart::Distribution(&empty, &marks()),
            Chart::Series(&empty),
            Chart::Sequence(&empty),
            Chart::Execution(&ExecutionTimeline::default()),
        ] {
            let svg = svg_of(chart);
            assert!(svg.contains(">\nno data\n<"), "{svg}");
            assert_eq!(count(&svg, "polyline"), 0);
        }
    }

    #[test]
    fn degenerate_inputs_render() {
        let nan = f64::NAN;
        let inf = f64::INFINITY;
        let one = |v: f64| ArmDistribution {
            count: 1.0,
            ecdf: vec![[v, 1.0]],
        };
        let step = |t: f64, e: f64, l: f64, u: f64| SequenceStep {
            t,
            estimate: Some(e),
            lower: Some(l),
            upper: Some(u),
        };
        let cases = [
            // One point each; all equal.
            (one(5.0), one(5.0), vec![step(T0, 1.0, 0.5, inf)]),
            // Zero and NaN; a NaN count; a lone upper bound of +∞.
            (
                ArmDistribution {
                    count: nan,
                    ecdf: vec![[nan, 0.5], [0.0, 1.0]],
                },
                one(0.0),
                vec![step(T0, nan, nan, inf), step(nan, 1.0, 1.0, 1.0)],
            ),
            // Infinite values and a NaN level; an undecided sequence with zero bounds.
            (
                ArmDistribution {
                    count: 3.0,
                    ecdf: vec![[-inf, 0.1], [1e300, nan], [inf, 1.0]],
                },
                ArmDistribution {
                    count: 2.0,
                    ecdf: vec![[-1e308, 0.5], [1e308, 1.0]],
                },
                vec![step(T0, 0.0, 0.0, 0.0), step(T0 + 1.0, 0.0, 0.0, inf)],
            ),
        ];
        for (baseline, canary, steps) in cases {
            let d = PairDetail {
                unit: None,
                name: String::new(),
                kind: "histogram".to_string(),
                baseline,
                canary,
                series: vec![
                    SeriesPoint {
                        t: T0,
                        baseline: Some(nan),
                        canary: Some(inf),
                    },
                    SeriesPoint {
                        t: nan,
                        baseline: Some(1.0),
                        canary: None,
                    },
                    SeriesPoint {
                        t: T0 + 1.0,
                        baseline: Some(2.0),
                        canary: Some(2.0),
                    },
                ],
                sequence: Some(SequenceTrace {
                    band: [nan, inf],
                    steps,
                    decided_at: Some(inf),
                    outcome: "pass".to_string(),
                }),
            };
            let odd_marks = [
                marks(),
                EstimateMarks {
                    estimate: Some(inf),
                    ci: Some([-inf, nan]),
                    scale: MarkScale::Ratio,
                    judged: [Some(nan), Some(inf)],
                    quantity: Some("p99".into()),
                    bound: Some(-inf),
                    bound_label: None,
                },
                EstimateMarks {
                    estimate: Some(-1e12),
                    ci: Some([-inf, inf]),
                    scale: MarkScale::Shift,
                    ..EstimateMarks::default()
                },
            ];
            for m in &odd_marks {
                svg_of(Chart::Distribution(&d, m));
            }
            svg_of(Chart::Series(&d));
            svg_of(Chart::Sequence(&d));
        }
        let odd = ExecutionTimeline {
            traffic: vec![[T0, nan], [nan, 50.0], [T0, 250.0]],
            stages: vec![
                (T0, String::new()),
                (T0, "a very long stage name".repeat(5)),
            ],
            marks: vec![TimelineMark {
                t: T0,
                kind: "unknown".to_string(),
                label: "x".repeat(300),
            }],
            end: nan,
        };
        let svg = svg_of(Chart::Execution(&odd));
        assert!(!svg.contains("no data"));
    }

    #[test]
    fn one_point_series_is_a_dot() {
        let d = PairDetail {
            series: vec![SeriesPoint {
                t: T0,
                baseline: Some(3.0),
                canary: Some(3.0),
            }],
            ..pair()
        };
        let svg = svg_of(Chart::Series(&d));
        assert_eq!((count(&svg, "polyline"), count(&svg, "circle")), (0, 2));
    }

    #[test]
    fn long_titles_are_shortened_but_kept_whole_in_the_label() {
        let d = PairDetail {
            name: format!("m{{{}}}", "label=\"value\",".repeat(20)),
            ..pair()
        };
        let svg = svg_of(Chart::Series(&d));
        assert!(svg.contains('…'));
    }

    #[test]
    fn numbers_are_compact() {
        let cases = [
            (0.0, "0"),
            (12.345, "12.3"),
            (-0.0123456, "−0.0123"),
            (1.0, "1"),
            (1234.6, "1235"),
            (123_456.0, "1.23e5"),
            (0.000_12, "1.2e-4"),
            (-0.0001, "−1e-4"),
            (0.952_380_9, "0.952"),
            (f64::INFINITY, "∞"),
        ];
        for (v, s) in cases {
            assert_eq!(fmt_num(v), s, "{v}");
        }
        assert_eq!(fmt_num(-0.0004), "−4e-4");
    }

    #[test]
    fn ticks_are_few_and_round() {
        let axis = |lo, hi, log| Axis::new(lo, hi, log, 0.0, 100.0);
        let labels = |t: Vec<(f64, String)>| t.into_iter().map(|q| q.1).collect::<Vec<_>>();
        assert_eq!(
            labels(value_ticks(&axis(0.0, 1.0, false))),
            ["0", "0.2", "0.4", "0.6", "0.8", "1"]
        );
        assert_eq!(
            labels(value_ticks(&axis(0.5, 2000.0, true))),
            ["1", "10", "100", "1000"]
        );
        assert_eq!(
            labels(value_ticks(&axis(0.9, 3.0, true))),
            ["1", "1.5", "2", "2.5", "3"]
        );
        let times = labels(time_ticks(&axis(T0 - 20.0, T0 + 600.0, false)));
        assert_eq!(
            times,
            ["22:14:00", "22:16:00", "22:18:00", "22:20:00", "22:22:00"]
        );
        assert!(linear_ticks(0.0, f64::INFINITY, 6).is_empty());
        assert!(linear_ticks(1.0, 1.0, 6).is_empty());
    }

    #[test]
    fn pngs_are_written_at_twice_the_size() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (d, t) = (pair(), timeline());
        let m = marks();
        let empty = ExecutionTimeline::default();
        let charts = [
            ("distribution.png", Chart::Distribution(&d, &m)),
            ("series.png", Chart::Series(&d)),
            ("sequence.png", Chart::Sequence(&d)),
            ("execution.png", Chart::Execution(&t)),
            ("empty.img", Chart::Execution(&empty)),
        ];
        for (name, chart) in charts {
            let path = dir.path().join(name);
            write_png(chart, &path).expect("written");
            let png = std::fs::read(&path).expect("readable");
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}");
            assert!(png.len() > 4_000, "{name}: {} bytes", png.len());
            let be = |i: usize| u32::from_be_bytes([png[i], png[i + 1], png[i + 2], png[i + 3]]);
            assert_eq!((be(16), be(20)), (WIDTH * PNG_SCALE, HEIGHT * PNG_SCALE));
        }
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("listable").collect();
        assert_eq!(left.len(), 5, "no temporary files left");
        let svg = dir.path().join("series.svg");
        write(Chart::Series(&d), ChartFormat::Svg, &svg).expect("written");
        assert!(
            std::fs::read_to_string(svg)
                .expect("readable")
                .starts_with("<svg")
        );
        let missing = dir.path().join("no/such/dir/x.png");
        assert!(write_png(Chart::Series(&d), &missing).is_err());
    }
}
