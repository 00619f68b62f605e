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
use crate::pipeline::timeline::{ExecutionTimeline, TimelineMark};

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

/// A chart that could not be written: where, and why (drawing, or the file system).
#[derive(Debug, thiserror::Error)]
#[error("cannot write chart {}: {reason}", .path.display())]
pub struct WriteError {
    pub path: PathBuf,
    pub reason: String,
}

/// Write `chart` as a PNG of [`WIDTH`] × [`HEIGHT`] × [`PNG_SCALE`] to `path` (whatever its
/// extension), atomically: drawn into a temporary file beside it, then renamed.
pub fn write_png(chart: Chart<'_>, path: &Path) -> Result<(), WriteError> {
    register_fonts();
    let tmp = temporary_png(path);
    let drawn = (|| {
        let size = (WIDTH * PNG_SCALE, HEIGHT * PNG_SCALE);
        let mut backend = BitMapBackend::new(&tmp, size);
        draw(chart, &mut backend, f64::from(PNG_SCALE))?;
        backend.present().map_err(|e| e.to_string())
    })();
    let written = drawn.and_then(|()| std::fs::rename(&tmp, path).map_err(|e| e.to_string()));
    written.map_err(|reason| {
        let _ = std::fs::remove_file(&tmp);
        WriteError {
            path: path.to_path_buf(),
            reason,
        }
    })
}

/// Write `chart` to `path` in `format`.
pub fn write(chart: Chart<'_>, format: ChartFormat, path: &Path) -> Result<(), WriteError> {
    match format {
        ChartFormat::Png => write_png(chart, path),
        ChartFormat::Svg => std::fs::write(path, svg(chart)).map_err(|e| WriteError {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
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

mod axis;
mod distribution;
mod execution;
mod painter;
mod sequence;
mod series;

use axis::*;
use distribution::*;
use execution::*;
use painter::*;
use sequence::*;
use series::*;

#[cfg(test)]
mod tests;
