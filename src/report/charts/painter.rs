//! The painter every chart draws with: text, lines, legends, headings and placeholders.

use super::*;

/// A chart without data: its title, an empty frame and `message`.
pub(super) fn placeholder<DB: DrawingBackend>(p: &mut Painter<'_, DB>, title: &str, message: &str) {
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

/// Width of a legend entry whose label is `w` wide: swatch, label, gap.
fn legend_entry(w: f64) -> f64 {
    20.0 + w + 12.0
}

/// How many legend entries (label widths `widths`) fit the top row of width `room`; at
/// least one stays on top.
fn top_row(widths: &[f64], room: f64) -> usize {
    let mut split = widths.len();
    let mut used = 0.0;
    for (i, w) in widths.iter().enumerate() {
        if used + legend_entry(*w) - 12.0 > room {
            split = i;
            break;
        }
        used += legend_entry(*w);
    }
    split.max(widths.len().min(1))
}

/// Title, legend (right-aligned under the title), y-axis and x-axis descriptions.
pub(super) fn heading<DB: DrawingBackend>(
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
    let entry = legend_entry;
    let y_desc_width = if y_desc.is_empty() {
        0.0
    } else {
        p.text_width(y_desc, NOTE_SIZE) + 12.0
    };
    let split = top_row(&widths, RIGHT - PAD - y_desc_width);
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
pub(super) enum Key {
    Line(RGBColor),
    Band(RGBAColor),
    Dot(RGBColor),
    /// The estimate's band and dashed line.
    Estimate,
}

impl Key {
    pub(super) fn draw<DB: DrawingBackend>(&self, p: &mut Painter<'_, DB>, x: f64, y: f64) {
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

/// Draws in CSS pixels on a backend with `k` device pixels per CSS pixel, remembering the
/// first backend error.
pub(super) struct Painter<'a, DB: DrawingBackend> {
    pub(super) db: &'a mut DB,
    pub(super) k: f64,
    pub(super) buf: Vec<(i32, i32)>,
    pub(super) error: Option<String>,
}

impl<DB: DrawingBackend> Painter<'_, DB> {
    pub(super) fn px(&self, (x, y): (f64, f64)) -> (i32, i32) {
        ((x * self.k).round() as i32, (y * self.k).round() as i32)
    }

    pub(super) fn stroke(&self, color: RGBAColor, width: f64) -> ShapeStyle {
        ShapeStyle {
            color,
            filled: false,
            stroke_width: (width * self.k).round().max(1.0) as u32,
        }
    }

    pub(super) fn record<E: std::fmt::Display>(&mut self, result: Result<(), E>) {
        if let Err(e) = result {
            self.error.get_or_insert_with(|| e.to_string());
        }
    }

    pub(super) fn line(&mut self, a: (f64, f64), b: (f64, f64), color: RGBAColor, width: f64) {
        let style = self.stroke(color, width);
        let r = self.db.draw_line(self.px(a), self.px(b), &style);
        self.record(r);
    }

    /// A vertical dashed line, 6 px on and 4 px off (an SVG element per dash).
    pub(super) fn dashed_vertical(
        &mut self,
        x: f64,
        y0: f64,
        y1: f64,
        color: RGBAColor,
        width: f64,
    ) {
        let (top, bottom) = (y0.min(y1), y0.max(y1));
        let mut y = top;
        while y < bottom {
            self.line((x, y), (x, (y + 6.0).min(bottom)), color, width);
            y += 10.0;
        }
    }

    pub(super) fn rect(&mut self, a: (f64, f64), b: (f64, f64), color: RGBAColor) {
        let (a, b) = (self.px(a), self.px(b));
        let upper_left = (a.0.min(b.0), a.1.min(b.1));
        let lower_right = (a.0.max(b.0), a.1.max(b.1));
        let r = self
            .db
            .draw_rect(upper_left, lower_right, &color.filled(), true);
        self.record(r);
    }

    pub(super) fn dot(&mut self, at: (f64, f64), radius: f64, color: RGBAColor) {
        let radius = (radius * self.k).round() as u32;
        let r = self
            .db
            .draw_circle(self.px(at), radius, &color.filled(), true);
        self.record(r);
    }

    /// A polyline through `points`, without repeated pixels or inner points of straight
    /// horizontal and vertical runs.
    pub(super) fn path(
        &mut self,
        points: impl IntoIterator<Item = (f64, f64)>,
        color: RGBAColor,
        width: f64,
    ) {
        let style = self.stroke(color, width);
        let mut buf = std::mem::take(&mut self.buf);
        self.snap(points, &mut buf);
        if buf.len() > 1 {
            let r = self.db.draw_path(buf.iter().copied(), &style);
            self.record(r);
        }
        self.buf = buf;
    }

    pub(super) fn polygon(
        &mut self,
        points: impl IntoIterator<Item = (f64, f64)>,
        color: RGBAColor,
    ) {
        let mut buf = std::mem::take(&mut self.buf);
        self.snap(points, &mut buf);
        if buf.len() > 2 {
            let r = self.db.fill_polygon(buf.iter().copied(), &color.filled());
            self.record(r);
        }
        self.buf = buf;
    }

    pub(super) fn snap(
        &self,
        points: impl IntoIterator<Item = (f64, f64)>,
        out: &mut Vec<(i32, i32)>,
    ) {
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

    pub(super) fn text_style(
        &self,
        size: f64,
        color: RGBColor,
        pos: Pos,
        bold: bool,
    ) -> TextStyle<'static> {
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

    pub(super) fn text(
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
    pub(super) fn text_width(&self, text: &str, size: f64) -> f64 {
        let style = self.text_style(size, INK, Pos::default(), false);
        match style.font.box_size(text) {
            Ok((w, _)) => f64::from(w) / self.k,
            Err(_) => text.chars().count() as f64 * size * 0.62,
        }
    }

    /// `text`, shortened with "…" to fit `width`.
    pub(super) fn fit(&self, text: &str, size: f64, width: f64) -> String {
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
