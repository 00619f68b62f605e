//! One file per judge kind.

pub mod mann_whitney;
pub mod threshold;

/// Format a number for a reason sentence: short, but never hiding magnitude. Every
/// output formats judged numbers with it, so a reason and a table cell always agree.
pub fn num(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let a = v.abs();
    if !(1e-3..1e7).contains(&a) {
        return format!("{v:.3e}");
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}
