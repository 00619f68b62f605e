//! The one number format of canaryd: every output — reasons, tables, Markdown, JSON display
//! strings, HTML, the web UI, chart captions and the CLI — prints judged numbers through
//! these functions, so a reason, a table cell and a chart legend never disagree.
//!
//! - [`num`]: four significant digits below 1,000 (`0.4599`, `70.59`, `277`, `1.046`,
//!   `0.001046`), whole numbers from 1,000 on (`23995`: counts are never rounded away),
//!   exponents only for the very small and the very large (`9.321e-5`, `1.2e+16`), `∞`
//!   for infinite ends. Root-finder noise (`4.0299`, `26.0001`) comes out as `4.03`, `26`.
//! - [`p_value`]: `< 1e-16` below double precision's resolution of 1 − p, else [`num`].
//! - [`percent`]: a share as a percentage with the same digits (`99%`, `0.25%`).

/// Significant digits of [`num`].
const DIGITS: i32 = 4;

/// A number as canaryd prints it (see the module doc).
pub fn num(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "∞" } else { "-∞" }.to_string();
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let a = v.abs();
    if !(1e-4..1e15).contains(&a) {
        let s = format!("{:.*e}", (DIGITS - 1) as usize, v);
        return match s.split_once('e') {
            Some((m, e)) => {
                let e: i32 = e.parse().unwrap_or(0);
                let sign = if e < 0 { "-" } else { "+" };
                format!("{}e{sign}{}", trim(m), e.abs())
            }
            None => s,
        };
    }
    if a >= 1000.0 {
        return format!("{}", v.round());
    }
    // Decimals for four significant digits; rounding may carry into a new digit (999.95).
    let magnitude = a.log10().floor() as i32;
    let decimals = (DIGITS - 1 - magnitude).max(0) as usize;
    let s = format!("{v:.decimals$}");
    let s = trim(&s).to_string();
    if s == "-0" { "0".to_string() } else { s }
}

/// A p-value: `< 1e-16` when smaller than doubles resolve, else [`num`]; `-` when absent.
pub fn p_value(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(p) if p.is_nan() => "-".into(),
        Some(p) if p < 1e-16 => "< 1e-16".into(),
        Some(p) => num(p),
    }
}

/// A share (0.99) as a percentage (`99%`).
pub fn percent(share: f64) -> String {
    format!("{}%", num(share * 100.0))
}

/// Trailing zeros of a decimal fraction, and a trailing point, removed.
fn trim(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_digits_not_fixed_decimals() {
        for (v, s) in [
            (0.0, "0"),
            (-0.0, "0"),
            (0.4599, "0.4599"),
            (70.5912, "70.59"),
            (276.9844, "277"),
            (198.5846, "198.6"),
            (1.0463, "1.046"),
            (0.0010463, "0.001046"),
            (0.0021, "0.0021"),
            (9.321e-4, "0.0009321"),
            (4.0299, "4.03"),
            (26.0001, "26"),
            (-7.81, "-7.81"),
            (999.96, "1000"),
            (1500.0, "1500"),
            (23995.4, "23995"),
            (1e6, "1000000"),
            (9.321e-5, "9.321e-5"),
            (2.3e-53, "2.3e-53"),
            (1.2e16, "1.2e+16"),
            (f64::INFINITY, "∞"),
            (f64::NEG_INFINITY, "-∞"),
            (f64::NAN, "NaN"),
            (1.05, "1.05"),
            (0.95238, "0.9524"),
        ] {
            assert_eq!(num(v), s, "{v}");
        }
    }

    #[test]
    fn p_values_and_percentages() {
        assert_eq!(p_value(Some(0.0)), "< 1e-16");
        assert_eq!(p_value(Some(2.3e-53)), "< 1e-16");
        assert_eq!(p_value(Some(0.5626)), "0.5626");
        assert_eq!(p_value(Some(3.2e-9)), "3.2e-9");
        assert_eq!(p_value(None), "-");
        assert_eq!(percent(0.99), "99%");
        assert_eq!(percent(1.0 - 0.01 / 3.0), "99.67%");
        assert_eq!(percent(0.0025), "0.25%");
    }
}
